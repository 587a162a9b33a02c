// Handlers for the priority tests' worker processes: a "gated" job announces its start on
// `prio.started` and runs until the test publishes on `prio.release.<jobId>`, so the test decides
// when each slot frees, in any process.
import { connect } from "@nats-io/transport-node";
import { defineJob } from "../../runtime/index.ts";

const nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });

export interface GatedStart {
  queue: string;
  jobId: string;
  pid: number;
}

export const jobs = [
  defineJob<unknown>({
    name: "gated",
    run: (_payload, ctx) =>
      new Promise<void>((resolve, reject) => {
        // Subscribed before the start is announced: the server has the interest before the test
        // can send the release.
        const release = nc.subscribe(`prio.release.${ctx.id}`, { max: 1, callback: () => resolve() });
        ctx.signal.addEventListener("abort", () => {
          release.unsubscribe();
          reject(ctx.signal.reason);
        });
        const start: GatedStart = { queue: ctx.queue, jobId: ctx.id, pid: process.pid };
        nc.publish("prio.started", JSON.stringify(start));
      }),
  }),
];
