// Handlers the chaos workers run. Every one records its execution in the ledger, and waits for
// the ledger to store it, before it returns (or crashes): the worker acknowledges only after.
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { defineJob, type JobContext } from "../runtime/index.ts";
import { connectLedger, type ExecutionKind, LEDGER_URL_ENV, recordExecution } from "./ledger.ts";

let ledger: Promise<NatsConnection> | undefined;

async function record(ctx: JobContext, kind: ExecutionKind): Promise<void> {
  const url = process.env[LEDGER_URL_ENV];
  if (url === undefined) throw new Error(`${LEDGER_URL_ENV} is not set`);
  ledger ??= connectLedger(url);
  await recordExecution(jetstream(await ledger), {
    id: ctx.id,
    kind,
    attempt: ctx.attempt,
    pid: process.pid,
    at: Date.now(),
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

export const jobs = [
  /** Ordinary work: takes `ms`, then succeeds. Long ones outlive the lease and rely on renewal. */
  defineJob<{ ms: number }>({
    name: "work",
    run: async (payload, ctx) => {
      await sleep(payload.ms, ctx.signal);
      await record(ctx, "completed");
    },
  }),
  /** A poison job: takes its worker process down on every attempt. */
  defineJob<unknown>({
    name: "crash",
    run: async (_payload, ctx) => {
      await record(ctx, "crashed");
      process.exit(3);
    },
  }),
  /** A job that fails on every attempt, until it is dead-lettered. */
  defineJob<unknown>({
    name: "fail",
    backoff: { type: "fixed", delayMs: 200 },
    run: async (_payload, ctx) => {
      await record(ctx, "failed");
      throw new Error(`attempt ${ctx.attempt} fails on purpose`);
    },
  }),
  /**
   * The negative control: blocks the event loop for `ms` on its first attempt, so no lease
   * renewal (in-progress ack) can be sent and JetStream redelivers while it still runs.
   */
  defineJob<{ ms: number }>({
    name: "overrun",
    run: async (payload, ctx) => {
      const until = ctx.attempt === 1 ? Date.now() + payload.ms : 0;
      while (Date.now() < until) {}
      await record(ctx, "completed");
    },
  }),
];
