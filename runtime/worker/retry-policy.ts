// How long a failed job waits before its next attempt.

/** Exponential backoff with jitter (the default), a fixed delay, or a function of your own. */
export type Backoff =
  | { type: "exponential"; baseMs?: number; factor?: number; maxMs?: number; jitter?: number }
  | { type: "fixed"; delayMs: number }
  | ((attempt: number, error: unknown) => number);

export const DEFAULT_BACKOFF: Backoff = {
  type: "exponential",
  baseMs: 1000,
  factor: 2,
  maxMs: 60_000,
  jitter: 0.2,
};

/**
 * Longest retry delay: short delays wait as a delayed nak, longer ones in the delay store
 * (delayed-retry.ts). The cap stays under the attempts bucket's 7-day expiry, so a retried job
 * keeps its failure history.
 */
export const MAX_RETRY_DELAY_MS = 24 * 3600_000;

/** Delay before the attempt after `attempt` (1-based), in ms, within [0, MAX_RETRY_DELAY_MS]. */
export function retryDelayMs(
  backoff: Backoff,
  attempt: number,
  error: unknown,
  random = Math.random,
): number {
  const raw = computeDelay(backoff, attempt, error, random);
  if (!Number.isFinite(raw) || raw < 0) return 0;
  return Math.min(Math.round(raw), MAX_RETRY_DELAY_MS);
}

function computeDelay(backoff: Backoff, attempt: number, error: unknown, random: () => number): number {
  if (typeof backoff === "function") return backoff(attempt, error);
  if (backoff.type === "fixed") return backoff.delayMs;
  const base = backoff.baseMs ?? 1000;
  const exact = Math.min(base * (backoff.factor ?? 2) ** (attempt - 1), backoff.maxMs ?? 60_000);
  const jitter = backoff.jitter ?? 0.2;
  // Spread retries of jobs that failed together, so they do not all come back at once.
  return exact * (1 - jitter + 2 * jitter * random());
}
