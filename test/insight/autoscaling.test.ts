// The autoscaling signal's arithmetic: Little's law for arrivals, the backlog cleared within the
// drain target, one worker's slots, and what it says with no duration or no work.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  desiredWorkers,
  slotsPerWorker,
  typicalDurationMs,
} from "../../control-plane/insight/autoscaling.ts";

const idle = { arrivalPerSec: 0, pending: 0, inFlight: 0, durationMs: 200, slotsPerWorker: 10, serving: 3 };

test("an idle queue needs no worker", () => {
  assert.equal(desiredWorkers(idle, 300_000), 0);
});

test("arrivals need arrival rate × duration slots", () => {
  // 100 jobs/s × 0.5 s = 50 busy slots = 5 workers of 10 slots.
  assert.equal(desiredWorkers({ ...idle, arrivalPerSec: 100, durationMs: 500 }, 300_000), 5);
  assert.equal(desiredWorkers({ ...idle, arrivalPerSec: 101, durationMs: 500 }, 300_000), 6, "rounded up");
});

test("a backlog adds what clears it within the drain target", () => {
  // 6,000 pending × 1 s / 60 s = 100 slots = 10 workers, on top of 20 jobs/s × 1 s = 20 slots.
  assert.equal(desiredWorkers({ ...idle, arrivalPerSec: 20, pending: 6000, durationMs: 1000 }, 60_000), 12);
});

test("without a duration it keeps what serves the queue, and at least one worker for waiting work", () => {
  assert.equal(desiredWorkers({ ...idle, pending: 5, durationMs: null, serving: 0 }, 300_000), 1);
  assert.equal(desiredWorkers({ ...idle, pending: 5, durationMs: null, serving: 4 }, 300_000), 4);
});

test("slots per worker come from the heartbeats of the workers serving the queue", () => {
  const worker = (id: string, concurrency: number, liveness: "alive" | "gone" = "alive") =>
    ({ workerId: id, liveness, queues: [{ queue: "q", concurrency, running: 0, paused: false }] }) as never;
  assert.equal(slotsPerWorker("q", [worker("a", 8), worker("b", 16), worker("c", 100, "gone")], 10), 12);
  assert.equal(slotsPerWorker("other", [worker("a", 8)], 10), 10);
});

test("the typical duration weights each job name's median by its count", () => {
  const summaries = [
    { queue: "q", summary: { durationMs: { count: 30, p50: 100 } } },
    { queue: "q", summary: { durationMs: { count: 10, p50: 500 } } },
    { queue: "r", summary: { durationMs: { count: 99, p50: 9 } } },
    { queue: "q", summary: { durationMs: null } },
  ];
  assert.equal(typicalDurationMs("q", summaries), 200);
  assert.equal(typicalDurationMs("none", summaries), null);
});
