// Helpers for the console tests and the screenshot script: a mesh with a control plane and the
// console behind an HTTP server on a free loopback port, and headless Chromium to drive it.
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Browser, chromium } from "playwright-core";
import { buildConsole, type WebConsole } from "../../control-plane/console/console.ts";
import type { ConsoleOptions } from "../../control-plane/console/options.ts";
import type { ControlPlane, ControlPlaneOptions } from "../../control-plane/index.ts";
import { quietLogger, startControlPlane } from "../control-plane/support.ts";
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
  web: WebConsole;
  /** The console's base URL, ending in /console/. */
  url: string;
  close(): Promise<void>;
}

export interface ServedConsole {
  web: WebConsole;
  /** The console's base URL, ending in /console/. */
  url: string;
  close(): Promise<void>;
}

/** A console for a running control plane, behind a plain HTTP server on a free loopback port. */
export async function serveConsole(
  cp: ControlPlane,
  nc: NatsConnection,
  options: ConsoleOptions,
): Promise<ServedConsole> {
  const web = await buildConsole({
    call: (endpoint, body) => cp.call(endpoint, body),
    nc,
    prefix: "jetmesh",
    logger: quietLogger,
    options,
  });
  const server: Server = createServer((request, response) => {
    if (!web.handler(request, response)) {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    web,
    url: `http://127.0.0.1:${port}/console/`,
    async close() {
      web.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function startConsole(
  options: ConsoleOptions = {},
  controlPlane: ControlPlaneOptions = {},
): Promise<ConsoleBundle> {
  const mesh = await setupMesh();
  const cp = await startControlPlane(mesh.server.url, controlPlane);
  const served = await serveConsole(cp, mesh.nc, options);
  return {
    mesh,
    cp,
    web: served.web,
    url: served.url,
    async close() {
      await served.close();
      await cp.stop();
      await mesh.close();
    },
  };
}
