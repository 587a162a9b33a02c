import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_RETRY_DELAY_MS } from "../../runtime/index.ts";
import { retryDelayMs } from "../../runtime/worker/retry-policy.ts";

test("exponential backoff grows by its factor within its jitter, up to its maximum", () => {
  const backoff = { type: "exponential", baseMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.2 } as const;
  assert.equal(
    retryDelayMs(backoff, 1, null, () => 0.5),
    1000,
  );
  assert.equal(
    retryDelayMs(backoff, 3, null, () => 0.5),
    4000,
  );
  assert.equal(
    retryDelayMs(backoff, 3, null, () => 0),
    3200,
  );
  assert.equal(
    retryDelayMs(backoff, 3, null, () => 1),
    4800,
  );
  assert.equal(
    retryDelayMs(backoff, 20, null, () => 0.5),
    60_000,
  );
});

test("fixed and custom backoffs; delays are clamped to [0, MAX_RETRY_DELAY_MS]", () => {
  assert.equal(retryDelayMs({ type: "fixed", delayMs: 250 }, 5, null), 250);
  assert.equal(
    retryDelayMs((attempt) => attempt * 10, 3, null),
    30,
  );
  assert.equal(
    retryDelayMs(() => -5, 1, null),
    0,
  );
  assert.equal(
    retryDelayMs(() => Number.NaN, 1, null),
    0,
  );
  assert.equal(retryDelayMs({ type: "fixed", delayMs: 30 * 24 * 3_600_000 }, 1, null), MAX_RETRY_DELAY_MS);
});
