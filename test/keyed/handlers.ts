// Handlers for the keyed-job tests: each run records when it starts and how it ends in the ledger
// stream (waiting for JetStream to store each record), so a test can replay, per key, the order
// in which jobs ran and whether two ever overlapped.
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { defineJob, type JobContext } from "../../runtime/index.ts";

/** One record of a keyed step. */
export interface StepRecord {
  key: string;
  index: number;
  phase: "start" | "end" | "fail";
  attempt: number;
  pid: number;
}

export interface StepPayload {
  key: string;
  index: number;
  /** How long the step works. */
  ms: number;
  /** Attempts that fail before one succeeds; -1 fails every attempt. @default 0 */
  failAttempts?: number;
}

let connection: Promise<NatsConnection> | undefined;

async function record(ctx: JobContext, step: StepPayload, phase: StepRecord["phase"]): Promise<void> {
  connection ??= connect({
    servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
    maxReconnectAttempts: -1,
  });
  const entry: StepRecord = {
    key: step.key,
    index: step.index,
    phase,
    attempt: ctx.attempt,
    pid: process.pid,
  };
  await jetstream(await connection).publish(`ledger.${ctx.queue}`, JSON.stringify(entry), {
    timeout: 10_000,
  });
}

export const jobs = [
  defineJob<StepPayload>({
    name: "keyed.step",
    backoff: { type: "fixed", delayMs: 500 },
    run: async (step, ctx) => {
      await record(ctx, step, "start");
      await new Promise((resolve) => setTimeout(resolve, step.ms));
      const failAttempts = step.failAttempts ?? 0;
      if (failAttempts === -1 || ctx.attempt <= failAttempts) {
        await record(ctx, step, "fail");
        throw new Error(`step ${step.key}/${step.index} fails attempt ${ctx.attempt} on purpose`);
      }
      await record(ctx, step, "end");
    },
  }),
];
