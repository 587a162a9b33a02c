// Job timeouts share one timer: every deadline still expires, earliest first, wherever it was
// added; a cleared one never fires, and deadlines added while one expires are kept.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Deadlines } from "../../runtime/worker/deadlines.ts";
import type { AbortReason } from "../../runtime/worker/failure.ts";
import { waitFor } from "../support/harness.ts";

/** A run that records its abort under `label`, then calls `then` if given. */
function run(expired: string[], label: string, then?: () => void) {
  return {
    abort(reason: AbortReason) {
      assert.equal(reason.kind, "timeout");
      expired.push(label);
      then?.();
    },
  };
}

test("deadlines expire earliest first, whatever order they were added in; cleared ones never", async () => {
  const deadlines = new Deadlines();
  const expired: string[] = [];
  const start = Date.now();
  deadlines.add(start, 300, run(expired, "300"));
  deadlines.add(start, 100, run(expired, "100"));
  const cleared = deadlines.add(start, 50, run(expired, "cleared"));
  deadlines.add(start, 200, run(expired, "200"));
  deadlines.clear(cleared);
  await waitFor(() => expired.length === 3, "three deadlines to expire");
  assert.deepEqual(expired, ["100", "200", "300"]);
});

test("a deadline added when one expires, and one added after all have expired, still expire", async () => {
  const deadlines = new Deadlines();
  const expired: string[] = [];
  deadlines.add(
    Date.now(),
    20,
    run(expired, "first", () => deadlines.add(Date.now(), 20, run(expired, "added while expiring"))),
  );
  await waitFor(() => expired.length === 2, "both deadlines to expire");
  deadlines.add(Date.now(), 20, run(expired, "added later"));
  await waitFor(() => expired.length === 3, "the later deadline to expire");
  assert.deepEqual(expired, ["first", "added while expiring", "added later"]);
});
