// The outcome window behind `jetmesh stats`: waits from `started` or from a `completed` that
// stands alone, percentiles within the sketch's accuracy, error classes, and the window moving
// with the clock in fixed slices.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_WINDOW_MS, OutcomeWindow, SLICE_MS } from "../../control-plane/metrics/outcome-window.ts";
import type { LifecycleEvent } from "../../runtime/index.ts";

function event(type: LifecycleEvent["type"], fields: Partial<LifecycleEvent> = {}): LifecycleEvent {
  return { type, jobId: "j", queue: "q", name: "n", attempt: 1, workerId: "w", at: 0, ...fields };
}

test("a first attempt's wait counts once, whether `started` or a lone `completed` carries it", () => {
  const window = new OutcomeWindow({ now: () => 1_000_000 });
  window.record(event("started", { waitMs: 10 }));
  window.record(event("completed", { durationMs: 5 }));
  window.record(event("completed", { waitMs: 30, durationMs: 7 }));
  window.record(event("started", { attempt: 2, waitMs: 900 }));
  const [only] = window.summaries(60_000);
  assert.equal(only?.summary.completed, 2);
  assert.equal(only?.summary.waitMs?.count, 2);
  assert.ok(Math.abs((only?.summary.waitMs?.max ?? 0) - 30) < 1);
  assert.equal(only?.summary.durationMs?.count, 2);
});

test("percentiles are within 2 % and error classes are ranked", () => {
  const window = new OutcomeWindow({ now: () => 1_000_000 });
  for (let ms = 1; ms <= 1000; ms++) window.record(event("completed", { durationMs: ms }));
  for (const errorClass of ["A", "B", "B", "C", "C", "C"])
    window.record(
      event("failed", { durationMs: 1, error: { class: errorClass, message: "x", kind: "handler" } }),
    );
  const summary = window.total(60_000, "q");
  for (const [value, expected] of [
    [summary.durationMs?.p50, 500],
    [summary.durationMs?.p99, 991],
  ] as const)
    assert.ok(Math.abs((value ?? 0) - expected) <= expected * 0.02 + 1, `${value} vs ${expected}`);
  assert.deepEqual(
    summary.errorClasses.map((e) => [e.errorClass, e.count]),
    [
      ["C", 3],
      ["B", 2],
      ["A", 1],
    ],
  );
  assert.equal(summary.errorRate, Math.round((6 / 1006) * 10_000) / 10_000);
});

test("the window follows the clock in slices and forgets what is older than its longest window", () => {
  let now = 10 * MAX_WINDOW_MS;
  const window = new OutcomeWindow({ now: () => now });
  window.record(event("completed", { durationMs: 1 }));
  now += 2 * SLICE_MS;
  window.record(event("dead"));
  assert.equal(window.total(SLICE_MS, "q").completed, 0, "the older slice is outside a one-slice window");
  assert.equal(window.total(SLICE_MS, "q").dead, 1);
  assert.equal(window.total(3 * SLICE_MS, "q").completed, 1);
  now += MAX_WINDOW_MS + 2 * SLICE_MS;
  assert.deepEqual(window.summaries(MAX_WINDOW_MS), []);
  assert.equal(window.coveredMs(60_000), 60_000);
});
