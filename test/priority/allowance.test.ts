// The scheduler's "may start n?" hook, where a rate limit plugs in: a queue at its allowance
// passes its slots down (strict order), and wake() gives it slots again when the allowance grows.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { JetmeshClient } from "../../runtime/index.ts";
import type { Delivery } from "../../runtime/jetstream/delivery.ts";
import { createLogger } from "../../runtime/observability/logging.ts";
import { LeaseKeeper } from "../../runtime/worker/lease-keeper.ts";
import { PriorityFetcher, type QueueFetcher } from "../../runtime/worker/priority-fetcher.ts";
import { type NatsServer, startServer, uniqueName, waitFor } from "../support/harness.ts";

let server: NatsServer;
let client: JetmeshClient;
const lanes: QueueFetcher[] = [];

before(async () => {
  server = await startServer();
  client = await JetmeshClient.connect({ connection: { servers: server.url } });
});

after(async () => {
  await Promise.all(lanes.map((lane) => lane.stop()));
  await client.close();
  await server.stop();
});

test("a queue at its allowance passes its slots down; woken with more, it takes the next ones", async (t) => {
  const high = uniqueName("high");
  const low = uniqueName("low");
  const starts: string[] = [];
  const handedBack: string[] = [];
  let highAllowed = 0;
  const highStarted = () => starts.filter((queue) => queue === high).length;
  const slots = new PriorityFetcher({
    queues: [high, low],
    priority: "strict",
    concurrency: 2,
    // A limiter's view: how many more jobs of the queue may start now.
    allowance: (queue) => (queue === high ? highAllowed - highStarted() : Number.POSITIVE_INFINITY),
  });
  for (const queue of [high, low]) {
    const settings = await client.queues.declare(queue);
    await client.enqueueMany(
      Array.from({ length: queue === high ? 10 : 400 }, () => ({ queue, name: "work", payload: {} })),
    );
    const lane = slots.lane(queue, {
      nc: client.nc,
      stream: settings.stream,
      consumer: settings.consumer,
      concurrency: 2,
      leases: new LeaseKeeper(settings.ackWaitMs),
      dispatch: async (delivery: Delivery) => {
        starts.push(queue);
        await new Promise((resolve) => setImmediate(resolve));
        delivery.ack();
      },
      handBack: (delivery: Delivery) => {
        handedBack.push(queue);
        delivery.nak();
      },
      logger: createLogger(),
    });
    lanes.push(lane);
  }
  for (const lane of lanes) lane.start();

  await waitFor(() => starts.length >= 20, "low jobs to start while high may start none");
  assert.equal(highStarted(), 0, "a queue with no allowance starts nothing, and blocks nobody");

  highAllowed = 3;
  const mark = starts.length;
  slots.wake();
  await waitFor(() => highStarted() === 3, "the three allowed high jobs");
  const firstHigh = starts.indexOf(high, mark) - mark;
  await waitFor(() => starts.length >= mark + 40, "low jobs to go on");
  t.diagnostic(`after wake() the first high job was start #${firstHigh + 1}; high starts: ${highStarted()}`);
  assert.equal(highStarted(), 3, "no more than the allowance");
  // Low pulls already on their way when it woke (one per slot at most) may start first.
  assert.ok(firstHigh < 2, `low jobs kept the slots after wake(): first high at #${firstHigh + 1}`);
  assert.deepEqual(handedBack, [], "nothing was pulled that could not start");
});
