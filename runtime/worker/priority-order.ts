// How a worker serving several queues from one budget of slots chooses the queue a freed slot
// goes to: strictly by the order of its queues, or by weight (smooth weighted round-robin).
import { JetmeshError } from "../errors.ts";

/**
 * `"strict"`: a slot goes to the first of the worker's queues (in the order given) that has a
 * job. `{ weights }`: slots go to the queues with jobs in proportion to their weights.
 */
export type PriorityOption = "strict" | { readonly weights: Readonly<Record<string, number>> };

export interface SlotOrder {
  /** True when a lower queue may never take a slot a higher queue with a job could use. */
  readonly strict: boolean;
  /** The queue (index into the worker's queues) the next slot goes to, among `candidates`. */
  pick(candidates: readonly number[]): number;
  /** Takes back the last pick (the queue could not use the slot yet): it keeps its turn. */
  unpick(index: number, candidates: readonly number[]): void;
  /** The queue ran out of jobs: when it has some again it is owed nothing from before. */
  forget(index: number): void;
}

/** Throws a clear error unless `option` is a valid priority for a worker serving `queues`. */
export function assertPriorityOption(option: PriorityOption, queues: readonly string[]): void {
  const repeated = queues.filter((queue, index) => queues.indexOf(queue) !== index);
  if (repeated.length > 0) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `with priority each queue is served once; repeated: ${[...new Set(repeated)].join(", ")}`,
    );
  }
  if (option === "strict") return;
  const weights = (option as { weights?: unknown } | null)?.weights;
  if (typeof weights !== "object" || weights === null) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `priority must be "strict" or { weights: { <queue>: <weight>, … } }, got ${JSON.stringify(option)}`,
    );
  }
  for (const [queue, weight] of Object.entries(weights)) {
    if (!queues.includes(queue)) {
      throw new JetmeshError(
        "INVALID_OPTIONS",
        `priority weight given for queue "${queue}", which this worker does not serve (queues: ${queues.join(", ")})`,
      );
    }
    if (!Number.isSafeInteger(weight) || (weight as number) < 1) {
      throw new JetmeshError(
        "INVALID_OPTIONS",
        `priority weight of queue "${queue}" must be a positive integer, got ${JSON.stringify(weight)}`,
      );
    }
  }
  const missing = queues.filter((queue) => !(queue in weights));
  if (missing.length > 0) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `priority weights must name every queue the worker serves; missing: ${missing.join(", ")}`,
    );
  }
}

export function slotOrder(option: PriorityOption, queues: readonly string[]): SlotOrder {
  assertPriorityOption(option, queues);
  return option === "strict"
    ? STRICT
    : new WeightedOrder(queues.map((queue) => option.weights[queue] as number));
}

/** The candidates come in queue order, so the first is the highest. */
const STRICT: SlotOrder = {
  strict: true,
  pick: (candidates) => candidates[0] as number,
  unpick: () => {},
  forget: () => {},
};

/**
 * Smooth weighted round-robin (as in nginx): every pick adds each candidate's weight to its
 * credit and charges the winner the sum, so 6:3:1 interleaves (a a b a c a b a b a …) instead of
 * running six of one queue in a row, and a queue without jobs is simply not a candidate.
 */
class WeightedOrder implements SlotOrder {
  readonly strict = false;
  readonly #credit: number[];

  constructor(private readonly weights: readonly number[]) {
    this.#credit = weights.map(() => 0);
  }

  pick(candidates: readonly number[]): number {
    let best = candidates[0] as number;
    let total = 0;
    for (const index of candidates) {
      const credit = (this.#credit[index] as number) + (this.weights[index] as number);
      this.#credit[index] = credit;
      total += this.weights[index] as number;
      if (credit > (this.#credit[best] as number)) best = index;
    }
    this.#credit[best] = (this.#credit[best] as number) - total;
    return best;
  }

  unpick(index: number, candidates: readonly number[]): void {
    let total = 0;
    for (const candidate of candidates) {
      this.#credit[candidate] = (this.#credit[candidate] as number) - (this.weights[candidate] as number);
      total += this.weights[candidate] as number;
    }
    this.#credit[index] = (this.#credit[index] as number) + total;
  }

  forget(index: number): void {
    this.#credit[index] = 0;
  }
}
