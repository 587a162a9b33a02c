// A lane's start gate, where a rate limit plugs in: a queue its gate lets pull nothing passes its
// slots down (strict order), and the gate's onReady gives it slots again when its allowance grows.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { JetmeshClient } from "../../runtime/index.ts";
import type { Delivery } from "../../runtime/jetstream/delivery.ts";
import { createLogger } from "../../runtime/observability/logging.ts";
import { LeaseKeeper } from "../../runtime/worker/lease-keeper.ts";
import { PriorityFetcher, type QueueFetcher } from "../../runtime/worker/priority-fetcher.ts";
import type { StartGate } from "../../runtime/worker/start-gate.ts";
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

test("a queue at its allowance passes its slots down; when its gate is ready again, it takes the next ones", async (t) => {
  const high = uniqueName("high");
  const low = uniqueName("low");
  const starts: string[] = [];
  const handedBack: string[] = [];
  let highAllowed = 0;
  const highStarted = () => starts.filter((queue) => queue === high).length;
  const slots = new PriorityFetcher({ queues: [high, low], priority: "strict", concurrency: 2 });
  // A limiter's view: how many more jobs of the queue may be pulled now; those pulled may start.
  const highGate: StartGate = {
    pullable: (free, committed) => Math.min(free, Math.max(0, highAllowed - highStarted() - committed)),
    admit: () => true,
    onReady: undefined,
  };
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
    if (queue === high) lane.setGate(highGate);
    lanes.push(lane);
  }
  for (const lane of lanes) lane.start();

  await waitFor(() => starts.length >= 20, "low jobs to start while high may start none");
  assert.equal(highStarted(), 0, "a queue with no allowance starts nothing, and blocks nobody");

  highAllowed = 3;
  const mark = starts.length;
  highGate.onReady?.();
  await waitFor(() => highStarted() === 3, "the three allowed high jobs");
  const firstHigh = starts.indexOf(high, mark) - mark;
  await waitFor(() => starts.length >= mark + 40, "low jobs to go on");
  t.diagnostic(`after onReady the first high job was start #${firstHigh + 1}; high starts: ${highStarted()}`);
  assert.equal(highStarted(), 3, "no more than the allowance");
  // Low pulls already on their way when it was ready (one per slot at most) may start first.
  assert.ok(firstHigh < 2, `low jobs kept the slots after onReady: first high at #${firstHigh + 1}`);
  assert.deepEqual(handedBack, [], "nothing was pulled that could not start");
});
