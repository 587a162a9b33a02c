// Opens NATS connections the way long-running jetmesh processes need them: reconnect forever
// (the client default gives up after ~20 s) and notice a silent server within seconds.
import { readFileSync } from "node:fs";
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from "@nats-io/transport-node";

/** Connection settings shared by workers, the control plane and the CLI. */
export interface ConnectionSettings {
  /** One or more server URLs. @default "nats://127.0.0.1:4222" */
  servers?: string | string[];
  /** Path of a NATS credentials file (JWT + NKey seed). */
  credsFile?: string;
  user?: string;
  password?: string;
  token?: string;
  /** TLS: CA file to trust, and a client certificate and key for mutual TLS. */
  tlsCaFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Connection name shown in server monitoring. */
  name?: string;
}

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** Reads the standard environment variables (NATS_URL, NATS_CREDS, …); see docs/configuration.md. */
export function connectionSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const settings: ConnectionSettings = {};
  if (env.NATS_URL) settings.servers = env.NATS_URL.split(",").map((url) => url.trim());
  if (env.NATS_CREDS) settings.credsFile = env.NATS_CREDS;
  if (env.NATS_USER) settings.user = env.NATS_USER;
  if (env.NATS_PASSWORD) settings.password = env.NATS_PASSWORD;
  if (env.NATS_TOKEN) settings.token = env.NATS_TOKEN;
  if (env.NATS_TLS_CA) settings.tlsCaFile = env.NATS_TLS_CA;
  if (env.NATS_TLS_CERT) settings.tlsCertFile = env.NATS_TLS_CERT;
  if (env.NATS_TLS_KEY) settings.tlsKeyFile = env.NATS_TLS_KEY;
  return settings;
}

export function natsOptions(settings: ConnectionSettings): NodeConnectionOptions {
  const options: NodeConnectionOptions = {
    servers: settings.servers ?? DEFAULT_NATS_URL,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    maxPingOut: 3,
    // The client otherwise captures a stack trace for every request, publish-with-ack and
    // pull, only to enrich the rare timeout error with the caller's frames: 1.7x on enqueueMany.
    noAsyncTraces: true,
  };
  if (settings.name !== undefined) options.name = settings.name;
  if (settings.credsFile !== undefined) {
    options.authenticator = credsAuthenticator(readFileSync(settings.credsFile));
  }
  if (settings.user !== undefined) options.user = settings.user;
  if (settings.password !== undefined) options.pass = settings.password;
  if (settings.token !== undefined) options.token = settings.token;
  if (settings.tlsCaFile !== undefined || settings.tlsCertFile !== undefined) {
    options.tls = {};
    if (settings.tlsCaFile !== undefined) options.tls.caFile = settings.tlsCaFile;
    if (settings.tlsCertFile !== undefined) options.tls.certFile = settings.tlsCertFile;
    if (settings.tlsKeyFile !== undefined) options.tls.keyFile = settings.tlsKeyFile;
  }
  return options;
}

/** Connects with jetmesh's defaults; the error names the URL so the user knows what to fix. */
export async function connectNats(
  settings: ConnectionSettings = connectionSettingsFromEnv(),
): Promise<NatsConnection> {
  const options = natsOptions(settings);
  try {
    return await connect(options);
  } catch (error) {
    const servers = Array.isArray(options.servers) ? options.servers.join(",") : options.servers;
    throw new Error(
      `cannot connect to NATS at ${servers}: ${(error as Error).message}. Set NATS_URL to a running server or start the local mesh with "npm run dev".`,
      { cause: error },
    );
  }
}
