// Job timeouts share one timer: every deadline still expires, earliest first, wherever it was
// added; a cleared one never fires, and deadlines added while one expires are kept.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Deadlines } from "../../runtime/worker/deadlines.ts";
import { waitFor } from "../support/harness.ts";

test("deadlines expire earliest first, whatever order they were added in; cleared ones never", async () => {
  const deadlines = new Deadlines();
  const expired: string[] = [];
  const start = Date.now();
  deadlines.add(start, 300, () => expired.push("300"));
  deadlines.add(start, 100, () => expired.push("100"));
  const cleared = deadlines.add(start, 50, () => expired.push("cleared"));
  deadlines.add(start, 200, () => expired.push("200"));
  deadlines.clear(cleared);
  await waitFor(() => expired.length === 3, "three deadlines to expire");
  assert.deepEqual(expired, ["100", "200", "300"]);
});

test("a deadline added when one expires, and one added after all have expired, still expire", async () => {
  const deadlines = new Deadlines();
  const expired: string[] = [];
  deadlines.add(Date.now(), 20, () => {
    expired.push("first");
    deadlines.add(Date.now(), 20, () => expired.push("added while expiring"));
  });
  await waitFor(() => expired.length === 2, "both deadlines to expire");
  deadlines.add(Date.now(), 20, () => expired.push("added later"));
  await waitFor(() => expired.length === 3, "the later deadline to expire");
  assert.deepEqual(expired, ["first", "added while expiring", "added later"]);
});
