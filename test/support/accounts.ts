// The users and permissions shipped in deploy/nats/accounts.conf, for tests that run a server
// with them: the development users (also written in docker-compose.yml) and a server start.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { NatsServer } from "../../deploy/local/nats-server.ts";

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
