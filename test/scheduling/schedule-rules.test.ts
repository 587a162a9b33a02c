// Due times of schedule rules, computed without a server: cron in a time zone across both
// daylight-saving changes, intervals anchored at their start, bounds, and one-time runs.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  dueTimesBetween,
  lastDueAtOrBefore,
  nextDueAfter,
  type Schedule,
  validateSchedule,
} from "../../runtime/index.ts";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function schedule(fields: Record<string, unknown>, now = at("2026-01-01T00:00:00Z")): Schedule {
  return validateSchedule({ id: "s", queue: "q", name: "job", ...fields }, now);
}

test("cron in Europe/Berlin: 02:30 runs at 03:00 when the clocks spring forward, once when they fall back", () => {
  const nightly = schedule({ rule: { cron: "30 2 * * *", timezone: "Europe/Berlin" } });
  const spring = dueTimesBetween(nightly, at("2026-03-27T12:00:00Z"), at("2026-03-30T12:00:00Z")).map(iso);
  assert.deepEqual(spring, [
    "2026-03-28T01:30:00.000Z", // 02:30 CET
    "2026-03-29T01:00:00.000Z", // 02:30 does not exist: 03:00 CEST, when the gap ends
    "2026-03-30T00:30:00.000Z", // 02:30 CEST
  ]);
  const autumn = dueTimesBetween(nightly, at("2026-10-23T12:00:00Z"), at("2026-10-26T12:00:00Z")).map(iso);
  assert.deepEqual(autumn, [
    "2026-10-24T00:30:00.000Z", // 02:30 CEST
    "2026-10-25T00:30:00.000Z", // 02:30 happens twice: the first one only
    "2026-10-26T01:30:00.000Z", // 02:30 CET
  ]);
});

test("a 6-field cron counts seconds; a 5-field one defaults to UTC", () => {
  const everySecond = schedule({ rule: { cron: "* * * * * *" } });
  assert.deepEqual(dueTimesBetween(everySecond, 10_000, 13_000), [11_000, 12_000, 13_000]);
  const daily = schedule({ rule: { cron: "0 3 * * *" } });
  assert.equal(iso(nextDueAfter(daily, at("2026-06-01T05:00:00Z"))), "2026-06-02T03:00:00.000Z");
});

test("intervals count from their start; start and end bound every rule", () => {
  const every = schedule({ rule: { everyMs: 1000 }, startAt: 5000, endAt: 7500 }, 0);
  assert.equal(nextDueAfter(every, 0), 5000);
  assert.equal(nextDueAfter(every, 5500), 6000);
  assert.equal(nextDueAfter(every, 7000), null, "7000 is the last run before the end");
  const fromCreation = schedule({ rule: { everyMs: 60_000 } }, 1_000_000);
  assert.equal(nextDueAfter(fromCreation, 1_000_000), 1_060_000);
});

test("a one-time run in the past is due at creation, and has no run after it", () => {
  const now = at("2026-05-01T00:00:00Z");
  const once = schedule({ rule: { at: now - 3_600_000 } }, now);
  assert.deepEqual(once.rule, { at: now });
  assert.equal(nextDueAfter(once, now - 1), now);
  assert.equal(nextDueAfter(once, now), null);
});

test("the last due time at or before a moment, for each rule kind and within bounds", () => {
  const nightly = schedule({ rule: { cron: "30 2 * * *", timezone: "Europe/Berlin" } });
  assert.equal(iso(lastDueAtOrBefore(nightly, at("2026-03-29T01:00:00Z"))), "2026-03-29T01:00:00.000Z");
  assert.equal(iso(lastDueAtOrBefore(nightly, at("2026-03-29T00:59:59Z"))), "2026-03-28T01:30:00.000Z");
  const every = schedule({ rule: { everyMs: 1000 }, startAt: 5000, endAt: 7500 }, 0);
  assert.equal(lastDueAtOrBefore(every, 4999), null, "nothing before the start");
  assert.equal(lastDueAtOrBefore(every, 6500), 6000);
  assert.equal(lastDueAtOrBefore(every, 60_000), 7000, "nothing after the end");
  const once = schedule({ rule: { at: 9000 } }, 0);
  assert.equal(lastDueAtOrBefore(once, 8999), null);
  assert.equal(lastDueAtOrBefore(once, 9000), 9000);
});
