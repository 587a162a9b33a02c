// The fleet-wide fixed-window counter behind a rate limit: one KV key per limit holding the
// current window and the permits granted in it. A claim is a compare-and-set on the key's
// revision, so concurrent claims from several workers never grant more than the limit in a window.
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { RateLimit } from "./rate.ts";

/** What the counter key holds. */
interface WindowCount {
  /** floor(time / intervalMs) of the window. */
  window: number;
  /** Permits granted in it so far. */
  used: number;
  /** The interval the window index counts in: a changed interval starts a new count. */
  intervalMs: number;
}

export interface Claim {
  /** The window the permits belong to: they may be spent while the clock is not past it. */
  window: number;
  granted: number;
  /** No permit is left in the window: claiming again before it ends is pointless. */
  spent: boolean;
}

/** Tries of the compare-and-set before giving up for now (each loss means another claim won). */
const MAX_TRIES = 20;

export function windowAt(now: number, intervalMs: number): number {
  return Math.floor(now / intervalMs);
}

/**
 * Claims up to `wanted` permits of the current window. The window comes from this worker's clock,
 * but the counter never goes back: a worker whose clock is behind the one that opened the next
 * window claims from that window (docs/rate-limits.md, "Clocks"). A stored window further ahead,
 * or counted in another interval, is no count of this limit's current window and starts afresh.
 */
export async function claimPermits(
  kv: KV,
  key: string,
  rate: RateLimit,
  wanted: number,
  now: () => number = Date.now,
): Promise<Claim> {
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const entry = await kv.get(key);
    const stored = entry?.operation === "PUT" ? readCount(entry.string()) : undefined;
    const current = windowAt(now(), rate.intervalMs);
    const count: WindowCount =
      stored !== undefined &&
      stored.intervalMs === rate.intervalMs &&
      stored.window >= current &&
      stored.window <= current + 1
        ? stored
        : { window: current, used: 0, intervalMs: rate.intervalMs };
    const granted = Math.max(0, Math.min(wanted, rate.limit - count.used));
    if (granted === 0) return { window: count.window, granted: 0, spent: true };
    const next: WindowCount = { ...count, used: count.used + granted };
    try {
      if (entry === null) await kv.create(key, JSON.stringify(next));
      else await kv.update(key, JSON.stringify(next), entry.revision);
      return { window: count.window, granted, spent: next.used >= rate.limit };
    } catch (error) {
      if (!isLostRace(error)) throw error;
    }
  }
  // Heavy contention: claim nothing this time; the caller asks again when it next wants permits.
  return { window: windowAt(now(), rate.intervalMs), granted: 0, spent: false };
}

/** Permits granted in the current window so far (what `jetmesh limit list` shows). */
export async function permitsUsed(
  kv: KV,
  key: string,
  rate: RateLimit,
  now = Date.now(),
): Promise<{ window: number; used: number }> {
  const window = windowAt(now, rate.intervalMs);
  const entry = await kv.get(key);
  const stored = entry?.operation === "PUT" ? readCount(entry.string()) : undefined;
  const current = stored?.window === window && stored.intervalMs === rate.intervalMs;
  return { window, used: current ? stored.used : 0 };
}

function readCount(text: string): WindowCount | undefined {
  try {
    const value = JSON.parse(text) as Partial<WindowCount>;
    return Number.isSafeInteger(value.window) &&
      Number.isSafeInteger(value.used) &&
      Number.isSafeInteger(value.intervalMs)
      ? (value as WindowCount)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Another claim wrote the key between our read and our write. */
function isLostRace(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
