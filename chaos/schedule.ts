// The fault schedule: which fault happens when, drawn from the seed, so a run can be replayed.
import type { FaultName } from "./faults.ts";
import type { Random } from "./random.ts";

export interface PlannedFault {
  /** Offset from the start of the workload. */
  atMs: number;
  fault: FaultName;
}

/** A warm-up before the first fault, so recovery is measured against a running system. */
const WARM_UP_MS = 3000;
/** No fault starts this close to the end: the last one needs time to heal inside the run. */
const COOL_DOWN_MS = 3000;

/**
 * Faults at random gaps; every listed fault appears at least once (in a seeded order) before
 * any repeats, so a short run still covers the whole list.
 */
export function planFaults(
  faults: readonly FaultName[],
  durationMs: number,
  random: Random,
  gapSeconds: [number, number] = [4, 8],
): PlannedFault[] {
  if (faults.length === 0) return [];
  const order = [...faults];
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [order[i], order[j]] = [order[j] as FaultName, order[i] as FaultName];
  }
  const plan: PlannedFault[] = [];
  for (
    let at = WARM_UP_MS;
    at <= durationMs - COOL_DOWN_MS;
    at += random.int(gapSeconds[0], gapSeconds[1]) * 1000
  ) {
    const fault = plan.length < order.length ? order[plan.length] : random.pick(faults);
    if (fault !== undefined) plan.push({ atMs: at, fault });
  }
  return plan;
}
