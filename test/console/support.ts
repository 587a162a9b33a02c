// Helpers for the console tests and the screenshot script: a mesh with a control plane serving
// the console on a free loopback port, and headless Chromium to drive it.
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import type { ConsoleOptions, ControlPlane } from "../../control-plane/index.ts";
import { startControlPlane } from "../control-plane/support.ts";
import { type MeshBundle, setupMesh } from "../support/harness.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const TOKEN = "console-test-token-0123456789";

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `headless Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium): console browser tests skipped`;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

export interface ConsoleBundle {
  mesh: MeshBundle;
  cp: ControlPlane;
  /** The console's base URL, ending in /console/. */
  url: string;
  close(): Promise<void>;
}

/** A control plane serving the console on a free loopback port, for an existing mesh. */
export async function startConsoleReplica(
  natsUrl: string,
  options: ConsoleOptions,
): Promise<{ cp: ControlPlane; url: string }> {
  const cp = await startControlPlane(natsUrl, {
    httpPort: 0,
    httpHost: "127.0.0.1",
    console: options,
    // Commands stop waiting once every expected worker has answered; on a busy machine a worker
    // may take longer than the shared test default to answer, and then counts as missing.
    commandTimeoutMs: 10_000,
  });
  return { cp, url: `http://127.0.0.1:${cp.httpPort}/console/` };
}

/** A fresh mesh (server, client, one declared queue) with a console-serving control plane. */
export async function startConsole(options: ConsoleOptions = {}): Promise<ConsoleBundle> {
  const mesh = await setupMesh();
  const { cp, url } = await startConsoleReplica(mesh.server.url, options);
  return {
    mesh,
    cp,
    url,
    async close() {
      await cp.stop();
      await mesh.close();
    },
  };
}
