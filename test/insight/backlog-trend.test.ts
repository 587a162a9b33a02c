// Backlog trend arithmetic: time to drain at the rate jobs leave, time to full against the
// stream's max jobs or max bytes (whichever comes first) while the backlog grows.
import assert from "node:assert/strict";
import { test } from "node:test";
import { withTrend } from "../../control-plane/status/queue-stats.ts";

const rates = {
  windowMs: 60_000,
  enqueuedPerSec: 10,
  processedPerSec: 8,
  growthPerSec: 2,
  pendingGrowthPerSec: 2,
  timeToEmptyMs: null,
};

test("time to drain: the backlog over the rate jobs leave", () => {
  assert.equal(withTrend(rates, { messages: 400, bytes: 400_000 }, {}).timeToDrainMs, 50_000);
  assert.equal(
    withTrend({ ...rates, processedPerSec: 0 }, { messages: 400, bytes: 0 }, {}).timeToDrainMs,
    null,
  );
  assert.equal(withTrend(rates, { messages: 0, bytes: 0 }, {}).timeToDrainMs, null, "nothing to drain");
});

test("time to full: the nearer of the max-jobs and max-bytes limits at the current growth", () => {
  // 1,000 jobs of 1 KB; +2 jobs/s. Max 2,000 jobs: 500 s. Max 1.5 MB: 500 KB / 2 KB/s = 250 s.
  const state = { messages: 1000, bytes: 1_000_000 };
  assert.equal(withTrend(rates, state, { max_msgs: 2000 }).timeToFullMs, 500_000);
  assert.equal(withTrend(rates, state, { max_msgs: 2000, max_bytes: 1_500_000 }).timeToFullMs, 250_000);
  assert.equal(withTrend(rates, state, { max_msgs: -1, max_bytes: -1 }).timeToFullMs, null, "no limit");
  assert.equal(
    withTrend({ ...rates, growthPerSec: -1 }, state, { max_msgs: 2000 }).timeToFullMs,
    null,
    "draining",
  );
  assert.equal(
    withTrend(rates, { messages: 2500, bytes: 0 }, { max_msgs: 2000 }).timeToFullMs,
    0,
    "already over",
  );
});
