// Global CLI options (connection, prefix, timeout, --json), the connection they open, and the
// wrapper every command runs in: connect, call the API, print, and map failures to exit codes.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Argv } from "yargs";
import {
  type ConnectionSettings,
  connectionSettingsFromEnv,
  connectNats,
  DEFAULT_NATS_URL,
  DEFAULT_PREFIX,
} from "../../runtime/index.ts";
import { ControlPlaneClient, DEFAULT_REQUEST_TIMEOUT_MS } from "../api/client.ts";
import { ApiError } from "../errors.ts";
import { printError } from "./output.ts";

export interface GlobalArgs {
  server?: string;
  creds?: string;
  user?: string;
  password?: string;
  token?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  prefix: string;
  timeout: number;
  json: boolean;
}

/** Exit codes: 0 done, 1 the command failed, 2 bad usage, 3 NATS or the control plane unreachable. */
export const ExitCode = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

export function globalOptions<T>(y: Argv<T>): Argv<T & GlobalArgs> {
  return y
    .option("server", {
      alias: "s",
      type: "string",
      describe: "NATS server URL(s), comma-separated [env: NATS_URL]",
      group: "Connection:",
    })
    .option("creds", {
      type: "string",
      describe: "NATS credentials file [env: NATS_CREDS]",
      group: "Connection:",
    })
    .option("user", { type: "string", describe: "NATS user [env: NATS_USER]", group: "Connection:" })
    .option("password", {
      type: "string",
      describe: "NATS password [env: NATS_PASSWORD]",
      group: "Connection:",
    })
    .option("token", { type: "string", describe: "NATS token [env: NATS_TOKEN]", group: "Connection:" })
    .option("tls-ca", {
      type: "string",
      describe: "CA file to trust [env: NATS_TLS_CA]",
      group: "Connection:",
    })
    .option("tls-cert", {
      type: "string",
      describe: "client certificate [env: NATS_TLS_CERT]",
      group: "Connection:",
    })
    .option("tls-key", { type: "string", describe: "client key [env: NATS_TLS_KEY]", group: "Connection:" })
    .option("prefix", {
      type: "string",
      default: process.env.JETMESH_PREFIX || DEFAULT_PREFIX,
      defaultDescription: "JETMESH_PREFIX or jetmesh",
      describe: "subject prefix of the mesh",
      group: "Connection:",
    })
    .option("timeout", {
      type: "number",
      default: DEFAULT_REQUEST_TIMEOUT_MS,
      describe: "how long to wait for the control plane (ms)",
      group: "Connection:",
    })
    .option("json", {
      type: "boolean",
      default: false,
      describe: "print JSON for scripts",
    }) as unknown as Argv<T & GlobalArgs>;
}

/** Flags win over the environment, which uses the same names as the worker (NATS_URL, …). */
export function connectionSettings(
  args: GlobalArgs,
  env: NodeJS.ProcessEnv = process.env,
): ConnectionSettings {
  const settings = connectionSettingsFromEnv(env);
  if (args.server) settings.servers = args.server.split(",").map((url) => url.trim());
  if (args.creds) settings.credsFile = args.creds;
  if (args.user) settings.user = args.user;
  if (args.password) settings.password = args.password;
  if (args.token) settings.token = args.token;
  if (args.tlsCa) settings.tlsCaFile = args.tlsCa;
  if (args.tlsCert) settings.tlsCertFile = args.tlsCert;
  if (args.tlsKey) settings.tlsKeyFile = args.tlsKey;
  return settings;
}

export async function openConnection(args: GlobalArgs): Promise<NatsConnection> {
  const settings = connectionSettings(args);
  const servers = [settings.servers ?? DEFAULT_NATS_URL].flat().join(",");
  try {
    return await connectNats({ ...settings, name: "jetmesh-cli" });
  } catch (error) {
    const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new ApiError(
      "NATS_UNREACHABLE",
      `NATS unreachable at ${servers} (${cause})`,
      "set NATS_URL (or --server) to a running server, or start the local mesh with `npm run dev`",
      { cause: error },
    );
  }
}

/** Runs a command against the API and sets the exit code from its outcome. */
export async function withApi(
  args: GlobalArgs,
  run: (api: ControlPlaneClient) => Promise<void>,
): Promise<void> {
  let nc: NatsConnection | undefined;
  try {
    nc = await openConnection(args);
    await run(new ControlPlaneClient(nc, args.prefix, args.timeout));
  } catch (error) {
    fail(error, args.json);
  } finally {
    await nc?.close().catch(() => {});
  }
}

export function fail(error: unknown, json: boolean): void {
  const apiError =
    error instanceof ApiError ? error : new ApiError("INTERNAL", (error as Error)?.message ?? String(error));
  printError(apiError.toBody(), json);
  process.exitCode = exitCodeOf(apiError.code);
}

function exitCodeOf(code: ApiError["code"]): number {
  if (code === "NATS_UNREACHABLE" || code === "NO_CONTROL_PLANE" || code === "TIMEOUT")
    return ExitCode.unreachable;
  if (code === "INVALID_REQUEST" || code === "FILTER_REQUIRED") return ExitCode.usage;
  return ExitCode.failed;
}

/** A usage error found by a command itself (yargs reports the rest). */
export function usage(message: string, hint?: string): ApiError {
  return new ApiError("INVALID_REQUEST", message, hint);
}
