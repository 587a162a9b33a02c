// The fleet-wide window counter on a real KV bucket: concurrent claims never grant more than the
// limit in a window, a new window starts at zero, and a count from another interval or from a
// window too far ahead is not taken for the current one. Clocks are injected, so nothing sleeps.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type KV, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { claimPermits, permitsUsed } from "../../runtime/limits/permit-counter.ts";
import { type NatsServer, startServer } from "../support/harness.ts";

let server: NatsServer;
let nc: NatsConnection;
let kv: KV;

before(async () => {
  server = await startServer();
  nc = await connect({ servers: server.url });
  kv = await new Kvm(nc).create("permits_test", { history: 1 });
});

after(async () => {
  await nc.close();
  await server.stop();
});

const tenPerSecond = { limit: 10, intervalMs: 1000 };
const at = (ms: number) => () => ms;

test("twenty concurrent claims of three permits share exactly ten in a window", async () => {
  const claims = await Promise.all(
    Array.from({ length: 20 }, () => claimPermits(kv, "race", tenPerSecond, 3, at(5_000))),
  );
  assert.equal(
    claims.reduce((sum, claim) => sum + claim.granted, 0),
    10,
  );
  assert.ok(claims.every((claim) => claim.window === 5));
  assert.deepEqual(await permitsUsed(kv, "race", tenPerSecond, 5_500), { window: 5, used: 10 });
  const late = await claimPermits(kv, "race", tenPerSecond, 1, at(5_999));
  assert.deepEqual(late, { window: 5, granted: 0, spent: true });
});

test("the next window starts at zero, and a count already there is never reopened by a clock behind", async () => {
  assert.deepEqual(await claimPermits(kv, "roll", tenPerSecond, 10, at(7_000)), {
    window: 7,
    granted: 10,
    spent: true,
  });
  assert.deepEqual(await claimPermits(kv, "roll", tenPerSecond, 4, at(8_100)), {
    window: 8,
    granted: 4,
    spent: false,
  });
  // A worker whose clock still says window 7 claims from window 8, not a fresh window 7.
  assert.deepEqual(await claimPermits(kv, "roll", tenPerSecond, 10, at(7_900)), {
    window: 8,
    granted: 6,
    spent: true,
  });
});

test("a count in another interval, or from a window far ahead, does not count for the current window", async () => {
  await claimPermits(kv, "change", tenPerSecond, 10, at(60_000));
  const perMinute = { limit: 3, intervalMs: 60_000 };
  assert.deepEqual(await claimPermits(kv, "change", perMinute, 5, at(60_500)), {
    window: 1,
    granted: 3,
    spent: true,
  });
  await claimPermits(kv, "ahead", tenPerSecond, 10, at(50_000));
  assert.deepEqual(await claimPermits(kv, "ahead", tenPerSecond, 2, at(40_000)), {
    window: 40,
    granted: 2,
    spent: false,
  });
});
