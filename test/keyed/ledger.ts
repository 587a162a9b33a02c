// Reads the keyed handlers' ledger back and checks, key by key, that jobs ran one at a time and
// in enqueue order.
import type { NatsConnection } from "@nats-io/transport-node";
import { readLedger } from "../support/harness.ts";
import type { StepRecord } from "./handlers.ts";

export async function readSteps(nc: NatsConnection): Promise<StepRecord[]> {
  return (await readLedger(nc)) as unknown as StepRecord[];
}

/** Each key's steps, in ledger (store) order. */
export function byKey(steps: readonly StepRecord[]): Map<string, StepRecord[]> {
  const keys = new Map<string, StepRecord[]>();
  for (const step of steps) {
    const list = keys.get(step.key);
    if (list === undefined) keys.set(step.key, [step]);
    else list.push(step);
  }
  return keys;
}

/**
 * Replays one key's records and returns what broke its order, if anything: every start must be
 * of the lowest index not yet finished (a retry or a redelivery starts the same index again), and
 * no start may come while another run of the key is open, unless that run's process died
 * (`deadPids`; a job a dead process finished may also run once more, as it was never acknowledged). `deadLettered` maps an index to the attempts it fails: its last failure finishes it.
 */
export function orderViolation(
  key: string,
  steps: readonly StepRecord[],
  options: { count: number; deadLettered?: ReadonlyMap<number, number>; deadPids?: ReadonlySet<number> },
): string | undefined {
  const died = (pid: number | undefined) => pid !== undefined && (options.deadPids?.has(pid) ?? false);
  let next = 0;
  let open: StepRecord | undefined;
  /** Who finished the previous index: if that process died before acknowledging, it runs again. */
  let finishedBy: number | undefined;
  let rerun = false;
  for (const step of steps) {
    if (step.phase === "start") {
      if (open !== undefined && !died(open.pid))
        return `${key}: index ${step.index} started while index ${open.index} was running`;
      rerun = step.index === next - 1 && died(finishedBy);
      if (step.index !== next && !rerun) return `${key}: index ${step.index} started while ${next} was next`;
      open = step;
      continue;
    }
    if (open === undefined || open.index !== step.index || open.pid !== step.pid)
      return `${key}: ${step.phase} of index ${step.index} without its start`;
    open = undefined;
    if (rerun) continue;
    if (step.phase === "end" || options.deadLettered?.get(step.index) === step.attempt) {
      next++;
      finishedBy = step.pid;
    }
  }
  if (open !== undefined && !died(open.pid)) return `${key}: index ${open.index} never ended`;
  if (next !== options.count) return `${key}: finished ${next} of ${options.count} jobs`;
  return undefined;
}
