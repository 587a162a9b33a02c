// One chaos case from start to verdict: start the ledger and the system under test, run the
// workload while the seeded fault schedule plays, heal, drain until every acknowledged job has
// an outcome (or the deadline passes), then account for every job.
import { jetstreamManager } from "@nats-io/jetstream";
import { JetmeshClient } from "../runtime/index.ts";
import { type Accounting, account, violations } from "./accounting.ts";
import { emergency } from "./emergency.ts";
import { type FaultContext, type FaultName, type FaultRecord, injectFault } from "./faults.ts";
import { Fleet } from "./fleet.ts";
import { Ledger, type LedgerEntry } from "./ledger.ts";
import { DeadLetterReader, type QueueState, readQueueState } from "./observed.ts";
import { Random } from "./random.ts";
import { planFaults } from "./schedule.ts";
import { killServers, SystemUnderTest } from "./system.ts";
import { type EnqueueRecord, Workload } from "./workload.ts";

export interface CaseOptions {
  name: string;
  cluster: boolean;
  /** How long the workload and the fault schedule run (the drain comes after). */
  durationMs: number;
  seed: number;
  faults: readonly FaultName[];
  /** Jobs per second of the steady workload. @default 100 */
  rate?: number;
  /** @default 3 */
  workers?: number;
  /** Jobs each worker runs at once. @default 4 */
  concurrency?: number;
  /** @default 4000 */
  ackWaitMs?: number;
  /** The queue's size limit (a burst beyond it must be refused). @default 3000 */
  maxJobs?: number;
  /** How long the drain may take before unfinished jobs count as stuck. @default 120000 */
  drainTimeoutMs?: number;
  /** Seconds between faults, as [min, max]. @default [4, 8] */
  gapSeconds?: [number, number];
  /** The negative control: the run fails unless duplicates are seen. */
  expectDuplicates?: boolean;
  log?: (line: string) => void;
}

export interface CaseReport {
  name: string;
  topology: "single" | "cluster";
  serverVersion: string;
  seed: number;
  durationMs: number;
  drainMs: number;
  faults: FaultRecord[];
  accounting: Accounting;
  queue: QueueState;
  workerStarts: number;
  poisonExits: number;
  startRefusals: number;
  unexpectedExits: { worker: number; code: number | null; signal: string | null; lastLines: string[] }[];
  violations: string[];
  /** The enqueue records of every job the violations name (at most 200), for diagnosis. */
  suspects: EnqueueRecord[];
  /** Every execution of the first 20 duplicated jobs, for diagnosis. */
  duplicateRuns: LedgerEntry[];
}

const QUEUE = "chaos";

export async function runCase(options: CaseOptions): Promise<CaseReport> {
  const log = options.log ?? (() => {});
  // Separate streams of numbers: how long the workload's jobs take must not shift the schedule.
  const random = new Random(options.seed);
  const workloadRandom = new Random(options.seed ^ 0x5bd1e995);
  const ackWaitMs = options.ackWaitMs ?? 4000;
  const maxJobs = options.maxJobs ?? 3000;
  const workers = options.workers ?? 3;
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => {});
  };
  try {
    const ledger = await Ledger.start();
    cleanups.push(() => ledger.stop());
    const releaseLedger = emergency(() => killServers([ledger.server]));
    cleanups.push(async () => releaseLedger());
    const system = await SystemUnderTest.start(options.cluster);
    cleanups.push(() => system.stop());
    const releaseSystem = emergency(() => system.killAll());
    cleanups.push(async () => releaseSystem());
    log(
      `${options.name}: nats-server ${system.serverVersion}, ${system.nodes.length} node(s), ledger ${ledger.url}`,
    );

    const admin = await JetmeshClient.connect({ connection: { servers: system.urls } });
    cleanups.push(() => admin.close());
    const settings = await admin.queues.declare(QUEUE, {
      replicas: options.cluster ? 3 : 1,
      ackWaitMs,
      maxAttempts: 3,
      maxJobs,
    });
    const jsm = await jetstreamManager(admin.nc);

    const fleet = new Fleet({
      natsUrl: system.urls.join(","),
      ledgerUrl: ledger.url,
      queue: QUEUE,
      size: workers,
      concurrency: options.concurrency ?? 4,
    });
    const releaseFleet = emergency(() => fleet.killAll());
    cleanups.push(async () => {
      await fleet.stop();
      releaseFleet();
    });
    fleet.start();
    await fleet.ready();

    const workload = await Workload.connect(system.urls, {
      queue: QUEUE,
      rate: options.rate ?? 100,
      runId: `r${options.seed}-${Date.now().toString(36)}`,
      random: workloadRandom,
      ackWaitMs,
    });
    cleanups.push(() => workload.close());
    const context: FaultContext = {
      system,
      fleet,
      workload,
      admin,
      queue: QUEUE,
      stream: settings.stream,
      workers,
      ackWaitMs,
      maxJobs,
      random,
    };

    const startedAt = Date.now();
    workload.start();
    const plan = planFaults(options.faults, options.durationMs, random, options.gapSeconds);
    const injected: FaultRecord[] = [];
    for (const step of plan) {
      const wait = startedAt + step.atMs - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // Faults run one after another; one that ran long pushes the rest past the end: drop them.
      if (Date.now() - startedAt > options.durationMs) break;
      log(`${options.name}: +${((Date.now() - startedAt) / 1000).toFixed(1)} s ${step.fault}`);
      const record = await injectFault(step.fault, context);
      log(`${options.name}:   ${record.detail} (${record.healedAt - record.startedAt} ms)`);
      injected.push(record);
    }
    const remaining = startedAt + options.durationMs - Date.now();
    if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));

    log(`${options.name}: workload stops; waiting for every enqueue to settle`);
    await system.healthy();
    await workload.stop();
    log(`${options.name}: enqueues settled; draining`);
    const drainStarted = Date.now();
    const deadLetters = new DeadLetterReader(jsm, admin.subjects.deadLetterStream());
    await drain(workload, ledger, deadLetters, options.drainTimeoutMs ?? 120_000, (open) =>
      log(`${options.name}: draining, ${open} acknowledged jobs without an outcome yet`),
    );
    const drainMs = Date.now() - drainStarted;
    await ledger.caughtUp();
    await deadLetters.poll();
    const queue = await readQueueState(jsm, settings.stream, settings.consumer);
    const accounting = account({
      records: workload.records,
      ledger: ledger.entries,
      deadLetters: deadLetters.rows,
      faults: injected,
      queue,
    });
    const report: CaseReport = {
      name: options.name,
      topology: options.cluster ? "cluster" : "single",
      serverVersion: system.serverVersion,
      seed: options.seed,
      durationMs: options.durationMs,
      drainMs,
      faults: injected,
      accounting,
      queue,
      workerStarts: fleet.starts,
      poisonExits: fleet.poisonExits,
      startRefusals: fleet.startRefusals,
      unexpectedExits: fleet.unexpectedExits,
      suspects: [
        ...accounting.lost,
        ...accounting.lostByServer,
        ...accounting.stuck,
        ...accounting.unexpected,
      ]
        .slice(0, 200)
        .flatMap((id) => workload.records.get(id) ?? []),
      duplicateRuns: ledger.entries.filter((entry) => accounting.duplicated.slice(0, 20).includes(entry.id)),
      violations: violations(accounting, {
        faults: injected,
        unexpectedExits: fleet.unexpectedExits.length,
        expectDuplicates: options.expectDuplicates ?? false,
      }),
    };
    return report;
  } finally {
    await cleanup();
  }
}

/** Waits until every acknowledged job has an outcome in the ledger or the dead-letter stream. */
async function drain(
  workload: Workload,
  ledger: Ledger,
  deadLetters: DeadLetterReader,
  timeoutMs: number,
  progress: (open: number) => void,
) {
  const deadline = Date.now() + timeoutMs;
  let reportedAt = Date.now();
  const open = new Set([...workload.records.values()].filter((r) => r.status === "acked").map((r) => r.id));
  let seenLedger = 0;
  let seenDead = 0;
  while (open.size > 0 && Date.now() < deadline) {
    await deadLetters.poll();
    for (; seenLedger < ledger.entries.length; seenLedger++) {
      const entry = ledger.entries[seenLedger];
      if (entry?.kind === "completed") open.delete(entry.id);
    }
    for (; seenDead < deadLetters.rows.length; seenDead++) open.delete(deadLetters.rows[seenDead]?.id ?? "");
    if (open.size === 0) break;
    if (Date.now() - reportedAt >= 10_000) {
      reportedAt = Date.now();
      progress(open.size);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
