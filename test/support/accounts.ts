// The users and permissions shipped in deploy/nats/accounts.conf, for tests that run a server
// with them: the development users (also written in docker-compose.yml) and a server start.
import { readFile } from "node:fs/promises";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { NatsServer } from "../../deploy/local/nats-server.ts";
import type { ConnectionSettings } from "../../runtime/index.ts";

const ACCOUNTS_FILE = fileURLToPath(new URL("../../deploy/nats/accounts.conf", import.meta.url));

export const DEV_USERS = {
  producer: { user: "producer", password: "jetmesh-producer-dev" },
  worker: { user: "worker", password: "jetmesh-worker-dev" },
  controlPlane: { user: "control-plane", password: "jetmesh-control-plane-dev" },
} as const;

export type Role = keyof typeof DEV_USERS;

/** A private nats-server with the shipped accounts and permissions. */
export async function startServerWithShippedAccounts(): Promise<NatsServer> {
  return NatsServer.start({ extraConfig: await readFile(ACCOUNTS_FILE, "utf8") });
}

/**
 * One shipped-accounts server for a test file: started before its tests, stopped after them once
 * what they opened on it is closed (newest first).
 */
export function shippedAccountsSuite(): {
  readonly server: NatsServer;
  /** Connection settings of the server as one of the development users. */
  as(role: Role): ConnectionSettings;
  closeLater(close: () => Promise<unknown>): void;
} {
  let server: NatsServer | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    server = await startServerWithShippedAccounts();
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await server?.stop();
  });
  const started = (): NatsServer => {
    if (server === undefined) throw new Error("the shipped-accounts server starts before the tests");
    return server;
  };
  return {
    get server() {
      return started();
    },
    as: (role) => ({ servers: started().url, ...DEV_USERS[role] }),
    closeLater: (close) => void closers.push(close),
  };
}
