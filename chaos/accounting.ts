// Accounts for every job of a run: how each enqueue ended, what became of each acknowledged job,
// and what happened that should not have (losses, phantom jobs, duplicate executions).
import { type FaultName, type FaultRecord, mayDuplicate } from "./faults.ts";
import type { LedgerEntry } from "./ledger.ts";
import type { DeadLetterRow, QueueState } from "./observed.ts";
import type { EnqueueRecord } from "./workload.ts";

export interface FaultFigures {
  fault: FaultName;
  detail: string;
  /** From the fault's end to the first job completed after it; undefined when none followed. */
  recoveryMs: number | undefined;
  /**
   * The slowest worker back at work: among workers that completed jobs both before the fault and
   * after it, the longest time from the fault's end to their first completion after it.
   */
  slowestWorkerMs: number | undefined;
  /**
   * Extra executions attributed to this fault: repeats that ran after it started, and before the
   * next fault that can cause duplicates (kills, restarts, crashes) started.
   */
  duplicates: number;
}

export interface Accounting {
  enqueue: {
    attempted: number;
    acked: number;
    ackedAfterUnknown: number;
    definiteErrors: number;
    unknown: number;
  };
  completed: number;
  deadLettered: number;
  deadByReason: Record<string, number>;
  cancelled: number;
  /** Acknowledged and never finished, the server holding no trace of the job either. */
  lost: string[];
  /** Acknowledged, never finished, and gone with a stream the server itself lost or rolled back. */
  lostByServer: string[];
  /** Acknowledged, still waiting in the stream when the run's drain deadline passed. */
  stuck: string[];
  /** Executed or dead-lettered, but never enqueued (or enqueued with a definite error). */
  unexpected: string[];
  /** Ids executed to completion more than once. */
  duplicated: string[];
  extraExecutions: number;
  maxExecutions: number;
  /** Repeat executions that ran before any fault able to cause them. */
  unexplainedDuplicates: number;
  /** Ids dead-lettered more than once. */
  deadTwice: string[];
  /** Jobs that ended otherwise than the workload intended (e.g. poison completed, work dead). */
  wrongOutcome: string[];
  /**
   * Ordinary jobs dead-lettered as attempts-exhausted: every attempt ended with its process
   * (killed, or crashed by a poison job running beside it). A crash uses up an attempt of every
   * job in the process (docs/wire-format.md), so this is the documented outcome, not a loss.
   */
  collateral: string[];
  /** Enqueues acknowledged while a cluster majority was down. */
  ackedInMinority: string[];
  /** Messages left in the stream that belong to finished jobs (acknowledged but not removed). */
  finishedLeftovers: number;
  faults: FaultFigures[];
}

export function account(input: {
  records: ReadonlyMap<string, EnqueueRecord>;
  ledger: readonly LedgerEntry[];
  deadLetters: readonly DeadLetterRow[];
  faults: readonly FaultRecord[];
  queue: QueueState;
  cancelled?: ReadonlySet<string>;
}): Accounting {
  const { records, ledger, deadLetters, faults, queue } = input;
  const cancelled = input.cancelled ?? new Set<string>();
  const completions = new Map<string, LedgerEntry[]>();
  for (const entry of ledger) {
    if (entry.kind !== "completed") continue;
    const list = completions.get(entry.id) ?? [];
    list.push(entry);
    completions.set(entry.id, list);
  }
  const dead = new Map<string, DeadLetterRow[]>();
  for (const row of deadLetters) dead.set(row.id, [...(dead.get(row.id) ?? []), row]);

  const enqueue = { attempted: records.size, acked: 0, ackedAfterUnknown: 0, definiteErrors: 0, unknown: 0 };
  const lost: string[] = [];
  const lostByServer: string[] = [];
  const stuck: string[] = [];
  const wrongOutcome: string[] = [];
  const collateral: string[] = [];
  const leftovers = new Set(queue.leftoverIds);
  for (const record of records.values()) {
    if (record.status === "acked") {
      enqueue.acked++;
      if (record.recovered) enqueue.ackedAfterUnknown++;
    } else if (record.status === "error") enqueue.definiteErrors++;
    else enqueue.unknown++;
    const finished = completions.has(record.id) || dead.has(record.id) || cancelled.has(record.id);
    if (record.status === "acked" && !finished) {
      if (leftovers.has(record.id)) stuck.push(record.id);
      else if (queue.streamMissing || (record.seq ?? 0) > queue.lastSeq) lostByServer.push(record.id);
      else lost.push(record.id);
    }
    if (finished && !cancelled.has(record.id)) {
      const outcome = completions.has(record.id) ? "completed" : "dead";
      const exhausted = dead.get(record.id)?.[0]?.reason === "attempts-exhausted";
      if (outcome !== record.expect) (exhausted ? collateral : wrongOutcome).push(record.id);
    }
  }

  const unexpected = [
    ...new Set([...completions.keys(), ...dead.keys(), ...ledger.map((entry) => entry.id)]),
  ].filter((id) => {
    const record = records.get(id);
    return record === undefined || record.status === "error";
  });
  const duplicated = [...completions].filter(([, list]) => list.length > 1).map(([id]) => id);
  const deadByReason: Record<string, number> = {};
  for (const [, rows] of dead) {
    const reason = rows[0]?.reason ?? "?";
    deadByReason[reason] = (deadByReason[reason] ?? 0) + 1;
  }
  const finishedIds = new Set([...completions.keys(), ...dead.keys()]);

  return {
    enqueue,
    completed: completions.size,
    deadLettered: dead.size,
    deadByReason,
    cancelled: [...cancelled].filter((id) => records.has(id)).length,
    lost,
    lostByServer,
    stuck,
    unexpected,
    duplicated,
    extraExecutions: [...completions.values()].reduce((sum, list) => sum + list.length - 1, 0),
    maxExecutions: Math.max(0, ...[...completions.values()].map((list) => list.length)),
    unexplainedDuplicates: unexplainedDuplicates([...completions.values()], faults),
    deadTwice: [...dead].filter(([, rows]) => rows.length > 1).map(([id]) => id),
    wrongOutcome,
    collateral,
    ackedInMinority: [...records.values()]
      .filter((record) =>
        faults.some(
          (fault) =>
            fault.minority !== undefined &&
            record.ackedAt !== undefined &&
            record.ackedAt > fault.minority.from &&
            record.ackedAt < fault.minority.to,
        ),
      )
      .map((record) => record.id),
    finishedLeftovers: queue.leftoverIds.filter((id) => finishedIds.has(id)).length,
    faults: faultFigures(faults, completions),
  };
}

function faultFigures(
  faults: readonly FaultRecord[],
  completions: Map<string, LedgerEntry[]>,
): FaultFigures[] {
  const completionTimes = [...completions.values()].flat().map((entry) => entry.at);
  completionTimes.sort((a, b) => a - b);
  const repeats = [...completions.values()].flatMap((list) => list.slice(1).map((entry) => entry.at));
  const all = [...completions.values()].flat();
  return faults.map((fault, index) => {
    const firstAfter = completionTimes.find((at) => at >= fault.healedAt);
    const before = new Set(all.filter((entry) => entry.at < fault.startedAt).map((entry) => entry.pid));
    const resumed = new Map<number, number>();
    for (const entry of all) {
      if (entry.at < fault.healedAt || !before.has(entry.pid)) continue;
      resumed.set(entry.pid, Math.min(resumed.get(entry.pid) ?? Number.POSITIVE_INFINITY, entry.at));
    }
    return {
      fault: fault.fault,
      detail: fault.detail,
      recoveryMs: firstAfter === undefined ? undefined : firstAfter - fault.healedAt,
      slowestWorkerMs: resumed.size === 0 ? undefined : Math.max(...resumed.values()) - fault.healedAt,
      duplicates: mayDuplicate(fault.fault)
        ? repeats.filter((at) => at >= fault.startedAt && at < nextCause(faults, index)).length
        : 0,
    };
  });
}

/** When the next fault able to cause duplicates started after fault `index`. */
function nextCause(faults: readonly FaultRecord[], index: number): number {
  return (
    faults.slice(index + 1).find((fault) => mayDuplicate(fault.fault))?.startedAt ?? Number.POSITIVE_INFINITY
  );
}

/** Repeats that ran before any fault able to cause them: duplicates nothing explains. */
export function unexplainedDuplicates(
  completions: readonly LedgerEntry[][],
  faults: readonly FaultRecord[],
): number {
  const firstCause = faults.find((fault) => mayDuplicate(fault.fault))?.startedAt ?? Number.POSITIVE_INFINITY;
  return completions.flatMap((list) => list.slice(1)).filter((entry) => entry.at < firstCause).length;
}

/** Why a run fails the acceptance bar; empty when it passes. */
export function violations(
  accounting: Accounting,
  context: { faults: readonly FaultRecord[]; unexpectedExits: number; expectDuplicates: boolean },
): string[] {
  const problems: string[] = [];
  const some = (ids: readonly string[]) =>
    `${ids.length} (${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", …" : ""})`;
  if (accounting.lost.length > 0) problems.push(`lost: ${some(accounting.lost)}`);
  if (accounting.stuck.length > 0)
    problems.push(`stuck in the queue after the drain deadline: ${some(accounting.stuck)}`);
  if (accounting.unexpected.length > 0)
    problems.push(`unexpected executions: ${some(accounting.unexpected)}`);
  if (accounting.wrongOutcome.length > 0) problems.push(`wrong outcome: ${some(accounting.wrongOutcome)}`);
  if (accounting.deadTwice.length > 0) problems.push(`dead-lettered twice: ${some(accounting.deadTwice)}`);
  if (accounting.ackedInMinority.length > 0)
    problems.push(`acknowledged while the majority was down: ${some(accounting.ackedInMinority)}`);
  if (context.unexpectedExits > 0) problems.push(`${context.unexpectedExits} unexpected worker exits`);
  const duplicatesAllowed = context.faults.some((fault) => mayDuplicate(fault.fault));
  if (accounting.unexplainedDuplicates > 0)
    problems.push(
      `${accounting.unexplainedDuplicates} duplicate runs before any fault that could cause them`,
    );
  if (accounting.collateral.length > 0 && !duplicatesAllowed)
    problems.push(`dead-lettered without a crash to explain it: ${some(accounting.collateral)}`);
  if (accounting.duplicated.length > 0 && !duplicatesAllowed)
    problems.push(`duplicates without a fault that explains them: ${some(accounting.duplicated)}`);
  if (context.expectDuplicates && accounting.duplicated.length === 0)
    problems.push("the negative control saw no duplicate: the ledger cannot be trusted");
  return problems;
}
