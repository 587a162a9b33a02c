// Settings of the web console with their defaults in one place, and how the control plane
// process reads them from the environment (docs/console.md, "Configuration").

export interface ConsoleOptions {
  /** Serve the console on the control plane's HTTP port. @default true */
  enabled?: boolean;
  /** Token that unlocks admin actions; without one the console is read-only. */
  token?: string;
  /** Refuse admin actions even when a token is set. @default false */
  readOnly?: boolean;
  /** Link of a trace id in the user's tracing backend, with `{traceId}` where the id goes. */
  traceUrlTemplate?: string;
  /** Payload and header keys whose values are shown as "[redacted]" (case-insensitive substring). */
  redactKeys?: string[];
  /** How long an admin session lasts. @default 28800000 (8 h) */
  sessionTtlMs?: number;
  /** How often the page refreshes the view it shows. @default 1500 */
  refreshMs?: number;
}

/** A console setting that cannot work; the process refuses to start with it. */
export class ConsoleConfigError extends Error {
  override name = "ConsoleConfigError";
}

export const CONSOLE_DEFAULTS = {
  enabled: true,
  readOnly: false,
  redactKeys: [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "authorization",
    "cookie",
    "card",
  ],
  sessionTtlMs: 8 * 3600_000,
  refreshMs: 1500,
} as const;

/** A token shorter than this is guessable: the console refuses it rather than accepting weak admin. */
export const MIN_TOKEN_LENGTH = 16;

export type ConsoleSettings = Required<Omit<ConsoleOptions, "token" | "traceUrlTemplate">> &
  Pick<ConsoleOptions, "token" | "traceUrlTemplate">;

export function consoleSettings(options: ConsoleOptions = {}): ConsoleSettings {
  const settings: ConsoleSettings = {
    enabled: options.enabled ?? CONSOLE_DEFAULTS.enabled,
    readOnly: options.readOnly ?? CONSOLE_DEFAULTS.readOnly,
    redactKeys: (options.redactKeys ?? [...CONSOLE_DEFAULTS.redactKeys]).map((key) => key.toLowerCase()),
    sessionTtlMs: options.sessionTtlMs ?? CONSOLE_DEFAULTS.sessionTtlMs,
    refreshMs: options.refreshMs ?? CONSOLE_DEFAULTS.refreshMs,
  };
  if (options.token !== undefined && options.token !== "") {
    if (options.token.length < MIN_TOKEN_LENGTH)
      throw new ConsoleConfigError(
        `the console token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. \`openssl rand -hex 24\`)`,
      );
    settings.token = options.token;
  }
  if (options.traceUrlTemplate !== undefined && options.traceUrlTemplate !== "") {
    if (!/^https?:\/\//.test(options.traceUrlTemplate) || !options.traceUrlTemplate.includes("{traceId}"))
      throw new ConsoleConfigError(
        `the console trace URL template must be an http(s) URL containing {traceId}, got "${options.traceUrlTemplate}"`,
      );
    settings.traceUrlTemplate = options.traceUrlTemplate;
  }
  return settings;
}

function flag(value: string | undefined): boolean | undefined {
  if (value === undefined || value === "") return undefined;
  return !["0", "false", "off", "no"].includes(value.toLowerCase());
}

export function consoleOptionsFromEnv(env: NodeJS.ProcessEnv): ConsoleOptions {
  const options: ConsoleOptions = {};
  const enabled = flag(env.JETMESH_CONSOLE);
  if (enabled !== undefined) options.enabled = enabled;
  const readOnly = flag(env.JETMESH_CONSOLE_READ_ONLY);
  if (readOnly !== undefined) options.readOnly = readOnly;
  if (env.JETMESH_CONSOLE_TOKEN) options.token = env.JETMESH_CONSOLE_TOKEN;
  if (env.JETMESH_CONSOLE_TRACE_URL) options.traceUrlTemplate = env.JETMESH_CONSOLE_TRACE_URL;
  if (env.JETMESH_CONSOLE_REDACT !== undefined && env.JETMESH_CONSOLE_REDACT !== "")
    options.redactKeys = env.JETMESH_CONSOLE_REDACT.split(",")
      .map((key) => key.trim())
      .filter(Boolean);
  const ttl = env.JETMESH_CONSOLE_SESSION_TTL_MS;
  if (ttl !== undefined && ttl !== "") {
    const value = Number(ttl);
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ConsoleConfigError(`JETMESH_CONSOLE_SESSION_TTL_MS must be a positive integer, got "${ttl}"`);
    options.sessionTtlMs = value;
  }
  consoleSettings(options); // fail at start-up, not at the first request
  return options;
}
