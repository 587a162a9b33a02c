// Structured JSON logs with pino; the level comes from JETMESH_LOG_LEVEL (or LOG_LEVEL), fields
// named like secrets and those listed in JETMESH_LOG_REDACT are redacted, and
// JETMESH_LOG_PRETTY=1 prints one readable line per entry for local development.
import { type DestinationStream, type Logger, pino } from "pino";
import { JetmeshError } from "../errors.ts";

export function createLogger(
  bindings: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
  /** Where JSON lines go. @default stdout */
  destination?: DestinationStream,
): Logger {
  const level = env.JETMESH_LOG_LEVEL || env.LOG_LEVEL || "info";
  if (!(level in pino.levels.values) && level !== "silent") {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `JETMESH_LOG_LEVEL must be one of ${Object.keys(pino.levels.values).join(", ")} or silent, got "${level}"`,
    );
  }
  const options = { level, base: bindings, redact: { paths: redactedPaths(env), censor: REDACTED } };
  const stream = env.JETMESH_LOG_PRETTY === "1" ? prettyStream() : destination;
  try {
    return stream === undefined ? pino(options) : pino(options, stream);
  } catch (error) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `JETMESH_LOG_REDACT: ${(error as Error).message}; list field paths separated by commas, e.g. payload.cardNumber,payload.*.ssn`,
    );
  }
}

export const REDACTED = "[redacted]";

/** Secrets by name, at the top of a log entry and one level down (`err.password`, `payload.token`). */
const SECRET_FIELDS = ["password", "token", "secret", "authorization", "apiKey", "creds"];

/**
 * The default secret fields plus JETMESH_LOG_REDACT: comma-separated paths in pino's syntax
 * (`payload.cardNumber`, `payload.*.ssn`, `headers["x-api-key"]`).
 */
function redactedPaths(env: NodeJS.ProcessEnv): string[] {
  const listed = (env.JETMESH_LOG_REDACT ?? "")
    .split(",")
    .map((path) => path.trim())
    .filter(Boolean);
  return [...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]), ...listed];
}

/** A dependency-free one-line renderer: `time level msg key=value…`. */
function prettyStream(): { write(line: string): void } {
  return {
    write(line: string) {
      const {
        time,
        level,
        msg,
        pid: _pid,
        hostname: _host,
        ...rest
      } = JSON.parse(line) as Record<string, unknown>;
      const fields = Object.entries(rest)
        .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
        .join(" ");
      const label = pino.levels.labels[Number(level)] ?? String(level);
      process.stdout.write(
        `${new Date(Number(time)).toISOString().slice(11, 23)} ${label.padEnd(5)} ${msg ?? ""} ${fields}\n`,
      );
    },
  };
}
