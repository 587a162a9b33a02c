// What a rate limit is and how it is written: "N starts per interval" for a queue or for one job
// name within a queue, read from forms like 10/s, 600/min, 5/250ms. The worker, the control plane
// and the CLI all parse and print limits here, so the three always agree.
import { JetmeshError } from "../errors.ts";
import { assertJobName, assertToken } from "../wire/names.ts";

export interface RateLimit {
  /** Starts allowed per interval, fleet-wide. */
  limit: number;
  intervalMs: number;
}

/** Shortest interval: below it the permit claims (a KV round trip each) would dominate. */
export const MIN_INTERVAL_MS = 50;
/** Longest interval: a window longer than this is a quota, not a rate. */
export const MAX_INTERVAL_MS = 3_600_000;
export const MAX_LIMIT = 1_000_000;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
};

const FORMS = "use <starts>/<interval> such as 10/s, 600/min, 5/250ms or 100/2s";

/** "10/s" → { limit: 10, intervalMs: 1000 }; throws INVALID_OPTIONS naming what is wrong. */
export function parseRate(text: string): RateLimit {
  const match = /^\s*(\d+)\s*\/\s*(\d*)\s*([a-z]+)\s*$/i.exec(text);
  const unit = match?.[3]?.toLowerCase();
  if (match === null || unit === undefined || UNIT_MS[unit] === undefined)
    throw new JetmeshError("INVALID_OPTIONS", `cannot read the rate "${text}": ${FORMS}`);
  const count = match[2] === "" ? 1 : Number(match[2]);
  return checkRate({ limit: Number(match[1]), intervalMs: count * UNIT_MS[unit] }, text);
}

/** Checks a limit given as numbers (the API's form); `shown` names it in the error. */
export function checkRate(rate: RateLimit, shown = `${rate.limit}/${rate.intervalMs}ms`): RateLimit {
  const { limit, intervalMs } = rate;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `rate "${shown}": the number of starts must be a whole number from 1 to ${MAX_LIMIT}`,
    );
  if (!Number.isSafeInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS)
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `rate "${shown}": the interval must be from ${MIN_INTERVAL_MS}ms to 1h in whole milliseconds`,
    );
  return { limit, intervalMs };
}

/** The shortest way to write a rate: 10/s, 600/min, 5/250ms. */
export function formatRate({ limit, intervalMs }: RateLimit): string {
  for (const [unit, ms] of [
    ["h", 3_600_000],
    ["min", 60_000],
    ["s", 1000],
  ] as const) {
    if (intervalMs % ms === 0) return `${limit}/${intervalMs === ms ? "" : intervalMs / ms}${unit}`;
  }
  return `${limit}/${intervalMs}ms`;
}

/** What a limit applies to: every job of a queue, or the jobs of one name in it. */
export interface LimitTarget {
  queue: string;
  name?: string | undefined;
}

/**
 * Key of a limit (and of its permit counter): `<queue>` or `<queue>.<job name>`. A queue name has
 * no dots, so the first token is always the queue.
 */
export function limitKey(target: LimitTarget): string {
  assertToken("queue", target.queue);
  if (target.name === undefined) return target.queue;
  assertJobName(target.name);
  return `${target.queue}.${target.name}`;
}

export function targetOfKey(key: string): LimitTarget {
  const dot = key.indexOf(".");
  return dot < 0 ? { queue: key } : { queue: key.slice(0, dot), name: key.slice(dot + 1) };
}

/** The limits an operator set (`<prefix>_limits`), one key per limited queue or job name. */
export function limitsBucket(prefix: string): string {
  return `${prefix}_limits`;
}

/** The fleet-wide permit counters (`<prefix>_permits`), one key per limit. */
export function permitsBucket(prefix: string): string {
  return `${prefix}_permits`;
}
