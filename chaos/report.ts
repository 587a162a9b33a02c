// The report of a chaos run: one table row per case (Markdown, so it pastes into
// docs/reliability.md as printed), then each fault with its recovery time, then every violation.
import type { CaseReport } from "./run-case.ts";

const seconds = (ms: number | undefined) => (ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`);

function row(cells: (string | number)[]): string {
  return `| ${cells.join(" | ")} |`;
}

export function renderReport(reports: readonly CaseReport[]): string {
  const lines: string[] = [];
  lines.push(
    row([
      "case",
      "topology",
      "server",
      "seed",
      "run + drain",
      "faults",
      "enqueued: acked / definite error / unknown",
      "acked after unknown",
      "completed",
      "dead-lettered",
      "cancelled",
      "lost",
      "lost by server",
      "unexpected",
      "duplicated (extra runs)",
      "max recovery (slowest worker)",
      "verdict",
    ]),
    row(Array.from({ length: 17 }, () => "---")),
  );
  for (const report of reports) {
    const a = report.accounting;
    const recoveries = a.faults.map((fault) => fault.recoveryMs ?? 0);
    const slowest = a.faults.map((fault) => fault.slowestWorkerMs ?? 0);
    lines.push(
      row([
        report.name,
        report.topology,
        report.serverVersion,
        report.seed,
        `${seconds(report.durationMs)} + ${seconds(report.drainMs)}`,
        report.faults.length,
        `${a.enqueue.acked} / ${a.enqueue.definiteErrors} / ${a.enqueue.unknown}`,
        a.enqueue.ackedAfterUnknown,
        a.completed,
        `${a.deadLettered}${Object.keys(a.deadByReason).length > 0 ? ` (${describeReasons(a.deadByReason)})` : ""}`,
        a.cancelled,
        a.lost.length + a.stuck.length,
        a.lostByServer.length === 0 ? 0 : `${a.lostByServer.length} (nats-server ${report.serverVersion})`,
        a.unexpected.length,
        `${a.duplicated.length} (${a.extraExecutions})`,
        recoveries.length === 0
          ? "—"
          : `${seconds(Math.max(...recoveries))} (${seconds(Math.max(...slowest))})`,
        report.violations.length === 0 ? "pass" : "FAIL",
      ]),
    );
  }
  for (const report of reports) {
    lines.push("", `${report.name} (${report.topology}, seed ${report.seed}):`);
    for (const fault of report.accounting.faults) {
      lines.push(
        `- ${fault.fault} ${fault.detail}: first completion ${seconds(fault.recoveryMs)} after it ended, slowest surviving worker back after ${seconds(fault.slowestWorkerMs)}; ${fault.duplicates} duplicate runs attributed to it`,
      );
    }
    const q = report.queue;
    lines.push(
      `- ordinary jobs dead-lettered because every attempt ended with its process: ${report.accounting.collateral.length}`,
      `- at the end: stream ${q.streamMissing ? "MISSING" : `${q.messages} messages`} (${report.accounting.finishedLeftovers} of finished jobs), consumer pending ${q.numPending}, ack pending ${q.numAckPending}; worker starts ${report.workerStarts}, poison exits ${report.poisonExits}, start-up failures while JetStream was unavailable ${report.startRefusals}, unexpected exits ${report.unexpectedExits.length}`,
    );
    for (const problem of report.violations) lines.push(`- VIOLATION: ${problem}`);
    for (const line of lossContext(report)) lines.push(`- ${line}`);
    if (report.violations.length > 0) {
      for (const run of report.duplicateRuns) {
        lines.push(
          `- ran ${run.id}: attempt ${run.attempt} in pid ${run.pid} at ${new Date(run.at).toISOString()}`,
        );
      }
      for (const fault of report.faults) {
        lines.push(
          `- fault ${fault.fault} ${fault.detail} from ${new Date(fault.startedAt).toISOString()} to ${new Date(fault.healedAt).toISOString()}`,
        );
      }
    }
    for (const exit of report.unexpectedExits) {
      lines.push(
        `- worker ${exit.worker} exited (code ${exit.code}, signal ${exit.signal}):`,
        ...exit.lastLines.map((l) => `    ${l}`),
      );
    }
  }
  return lines.join("\n");
}

function describeReasons(reasons: Record<string, number>): string {
  return Object.entries(reasons)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(", ");
}

/**
 * Where each lost job's acknowledgement fell relative to the faults: a loss acknowledged just
 * before a server was killed points at the server, one acknowledged in calm water at jetmesh.
 */
function lossContext(report: CaseReport): string[] {
  const lost = new Set([...report.accounting.lost, ...report.accounting.lostByServer]);
  return report.suspects
    .filter((record) => lost.has(record.id) && record.ackedAt !== undefined)
    .slice(0, 10)
    .map((record) => {
      const ackedAt = record.ackedAt ?? 0;
      const next = report.faults.find((fault) => fault.startedAt >= ackedAt);
      const during = report.faults.find((fault) => fault.startedAt <= ackedAt && ackedAt <= fault.healedAt);
      const where =
        during !== undefined
          ? `during ${during.fault} ${during.detail}`
          : next === undefined
            ? "after the last fault"
            : `${seconds(next.startedAt - ackedAt)} before ${next.fault} ${next.detail}`;
      return `lost ${record.id}: acknowledged (seq ${record.seq}, try ${record.tries}) ${where}`;
    });
}
