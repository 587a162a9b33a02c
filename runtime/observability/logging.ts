// Structured JSON logs with pino; the level comes from JETMESH_LOG_LEVEL (or LOG_LEVEL), and
// JETMESH_LOG_PRETTY=1 prints one readable line per entry for local development.
import { type Logger, pino } from "pino";
import { JetmeshError } from "../errors.ts";

export function createLogger(
  bindings: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
): Logger {
  const level = env.JETMESH_LOG_LEVEL || env.LOG_LEVEL || "info";
  if (!(level in pino.levels.values) && level !== "silent") {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `JETMESH_LOG_LEVEL must be one of ${Object.keys(pino.levels.values).join(", ")} or silent, got "${level}"`,
    );
  }
  if (env.JETMESH_LOG_PRETTY === "1") {
    return pino({ level, base: bindings }, prettyStream());
  }
  return pino({ level, base: bindings });
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
