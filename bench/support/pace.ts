// Sends at a steady rate, the "moderate load" of the latency scenario.
import { setTimeout as sleep } from "node:timers/promises";

export interface PaceOptions {
  /** Sends per second. */
  rate: number;
  durationMs: number;
  /** More unconfirmed sends than this means the system cannot keep up: the run fails. */
  maxInFlight: number;
  signal: AbortSignal;
}

/**
 * Calls `send` `rate × duration` times, spread evenly: each ~1 ms timer tick sends whatever is due
 * by then, so timer lag turns into small bursts rather than a lower rate. Resolves once every
 * send is confirmed, with the number of sends.
 */
export async function pace(options: PaceOptions, send: () => Promise<unknown>): Promise<number> {
  const total = Math.round((options.rate * options.durationMs) / 1000);
  const start = performance.now();
  const pending = new Set<Promise<unknown>>();
  let failure: unknown;
  let sent = 0;
  while (sent < total) {
    options.signal.throwIfAborted();
    if (failure !== undefined) throw failure;
    if (pending.size > options.maxInFlight) {
      throw new Error(`more than ${options.maxInFlight} sends unconfirmed: cannot keep up with the rate`);
    }
    const due = Math.min(total, Math.floor(((performance.now() - start) * options.rate) / 1000));
    for (; sent < due; sent++) {
      const confirmation: Promise<unknown> = send().then(
        () => pending.delete(confirmation),
        (error: unknown) => {
          failure ??= error;
        },
      );
      pending.add(confirmation);
    }
    await sleep(1);
  }
  await Promise.all(pending);
  if (failure !== undefined) throw failure;
  return sent;
}
