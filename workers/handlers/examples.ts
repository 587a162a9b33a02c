// Example jobs: small, complete handlers to copy from. The worker process loads this module when
// JETMESH_HANDLERS is not set, and `npm run dev` enqueues a mix of these jobs.
//
// A handler module exports `jobs`: an array of defineJob(...) definitions. A job runs at least
// once (a crash or a lost lease means it can run again), so make its effects idempotent, keyed by
// ctx.id, which stays the same across attempts.
import { setTimeout as sleep } from "node:timers/promises";
import { defineJob, type JobDefinition, PermanentJobError } from "../../runtime/index.ts";

export interface EmailPayload {
  to: string;
  subject: string;
}

/**
 * email.send: the basic shape of a job. The generic parameter types the payload; ctx.logger
 * already carries the job id, queue, attempt and worker id; waiting with `{ signal: ctx.signal }`
 * stops the work as soon as the job times out, is cancelled or the worker shuts down.
 */
export const sendEmail = defineJob<EmailPayload>({
  name: "email.send",
  async run(email, ctx) {
    ctx.logger.info({ to: email.to, subject: email.subject }, "sending email");
    await sleep(5 + Math.random() * 20, undefined, { signal: ctx.signal });
  },
});

export interface ReportPayload {
  reportId: string;
  /** How many chunks the report is built in. @default 5 */
  steps?: number;
}

/**
 * report.generate: a longer job. It reports progress (0 to 100) for live status, checks the abort
 * signal between steps, and sets its own timeout instead of the 5-minute default.
 */
export const generateReport = defineJob<ReportPayload>({
  name: "report.generate",
  timeoutMs: 60_000,
  async run(report, ctx) {
    const steps = report.steps ?? 5;
    ctx.progress(0);
    for (let step = 1; step <= steps; step++) {
      await sleep(150, undefined, { signal: ctx.signal });
      ctx.progress(Math.round((step / steps) * 100));
    }
    ctx.logger.info({ reportId: report.reportId }, "report ready");
    // Kept for client.result() when the job was enqueued with `result: true`.
    return { reportId: report.reportId, steps };
  },
});

export interface FlakyPayload {
  /** How many attempts fail before one succeeds. @default 1 */
  failAttempts?: number;
}

/**
 * flaky.task: retries. Any thrown error fails the attempt, and the job comes back after its
 * backoff until it succeeds or runs out of attempts (then it is dead-lettered). ctx.attempt
 * counts from 1.
 */
export const flakyTask = defineJob<FlakyPayload>({
  name: "flaky.task",
  maxAttempts: 4,
  backoff: { type: "fixed", delayMs: 500 },
  run(task, ctx) {
    if (ctx.attempt <= (task.failAttempts ?? 1)) {
      throw new Error(`transient failure on attempt ${ctx.attempt} of ${ctx.maxAttempts}`);
    }
    ctx.logger.info({ attempt: ctx.attempt }, "succeeded after retrying");
  },
});

export interface PaymentPayload {
  orderId: string;
  amountCents: number;
  card: string;
}

/** A test card number that the pretend payment provider always declines. */
export const DECLINED_CARD = "4000000000000002";

/**
 * payment.charge: failures that retrying cannot fix. PermanentJobError sends the job straight to
 * the dead-letter stream with its message, without using up the remaining attempts. A real
 * handler would pass ctx.id to the provider as the idempotency key, so a second run never
 * charges twice.
 */
export const chargePayment = defineJob<PaymentPayload>({
  name: "payment.charge",
  async run(payment, ctx) {
    await sleep(10, undefined, { signal: ctx.signal });
    if (payment.card === DECLINED_CARD) {
      throw new PermanentJobError(`card declined for order ${payment.orderId}`);
    }
    ctx.logger.info({ orderId: payment.orderId, amountCents: payment.amountCents }, "payment captured");
  },
});

export const jobs: readonly JobDefinition[] = [sendEmail, generateReport, flakyTask, chargePayment];
