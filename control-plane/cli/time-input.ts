// Durations and future times as operators type them: "30s", "5m", an ISO time, "+10m".
import { usage } from "./context.ts";

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "1500ms", "30s", "5m", "2h", "1d", or plain milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) throw usage(`cannot read the duration "${value}"`, "use 30s, 5m, 2h, 1d or milliseconds");
  return Number(match[1]) * UNITS[(match[2] ?? "ms") as keyof typeof UNITS];
}

/** An ISO time, ms since the epoch, or "+10m" (from now). */
export function parseFutureTime(value: string, now = Date.now()): number {
  if (value.startsWith("+")) return now + parseDuration(value.slice(1));
  if (/^\d+$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed))
    throw usage(`cannot read the time "${value}"`, "use an ISO time, ms since the epoch, or +10m (from now)");
  return parsed;
}
