// The worker's rate-limit gate on a real permit bucket, with an injected clock: pulls are sized
// by the permits in hand, permits lapse with their window, a job-name limit refuses a delivery
// until its claim lands, and both limits must agree before a job starts. The tests ask again
// until the answer changes, as the fetcher does each time the gate calls onReady.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type KV, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import type { Delivery } from "../../runtime/jetstream/delivery.ts";
import { RateLimiter } from "../../runtime/worker/rate-limiter.ts";
import { type NatsServer, startServer, waitFor } from "../support/harness.ts";

let server: NatsServer;
let nc: NatsConnection;
let permits: KV;
let clock = 0;

before(async () => {
  server = await startServer();
  nc = await connect({ servers: server.url });
  permits = await new Kvm(nc).create("jetmesh_permits", { history: 1 });
});

after(async () => {
  await nc.close();
  await server.stop();
});

function limiter(queue: string): RateLimiter {
  return new RateLimiter({
    queue,
    namePrefixLength: `jetmesh.q.${queue}.`.length,
    permits,
    logger: pino({ level: "silent" }),
    now: () => clock,
  });
}

const delivery = (queue: string, name: string) => ({ subject: `jetmesh.q.${queue}.${name}` }) as Delivery;

test("a queue-wide limit sizes pulls by the permits in hand, which lapse with their window", async () => {
  clock = 10_000;
  const gate = limiter("mails");
  gate.setLimit(undefined, { limit: 4, intervalMs: 1000 });
  assert.equal(gate.pullable(8, 0), 0, "no permit in hand yet: nothing is pulled, a claim starts");
  await waitFor(() => gate.pullable(8, 0) === 4, "the window's 4 permits to be claimed");
  assert.equal(gate.pullable(8, 3), 1, "jobs pulled and not started spend the permits first");
  for (let i = 0; i < 4; i++) assert.ok(gate.admit(delivery("mails", "send")));
  assert.equal(gate.admit(delivery("mails", "send")), false, "the fifth waits for the next window");
  assert.equal(gate.pullable(8, 0), 0);

  clock = 11_000;
  await waitFor(() => gate.pullable(8, 0) === 4, "the next window's permits");
  clock = 12_000;
  assert.equal(gate.pullable(8, 0), 0, "unspent permits of window 11 lapse in window 12");
  gate.stop();
});

test("a job-name limit refuses that name only until its claim lands; with a queue limit both must agree", async () => {
  clock = 20_000;
  const gate = limiter("docs");
  gate.setLimit("render", { limit: 1, intervalMs: 1000 });
  assert.equal(gate.pullable(8, 0), 8, "a name limit does not size pulls");
  assert.ok(gate.admit(delivery("docs", "index")), "other names start at once");
  assert.equal(gate.admit(delivery("docs", "render")), false);
  await waitFor(() => gate.admit(delivery("docs", "render")), "the name's permit");
  assert.equal(gate.admit(delivery("docs", "render")), false, "one per window");

  gate.setLimit(undefined, { limit: 1, intervalMs: 1000 });
  clock = 21_000;
  await waitFor(() => gate.admit(delivery("docs", "render")), "a permit of each limit");
  assert.equal(gate.admit(delivery("docs", "index")), false, "the queue's one permit of the window is spent");

  gate.setLimit("render", undefined);
  gate.setLimit(undefined, undefined);
  assert.equal(gate.active, false);
  assert.ok(gate.admit(delivery("docs", "index")), "no limit left: everything starts");
  gate.stop();
});
