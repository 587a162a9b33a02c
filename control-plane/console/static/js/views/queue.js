// One queue: its numbers, its charts, its pause state and the jobs running on it now.
import { act, actionButton, describeCommand } from "../actions.js";
import { read } from "../api.js";
import { duration, fill, h, number, percent, rate, table, time } from "../dom.js";
import { eta, fleetCharts, queueActions, stateBadge } from "./overview.js";

export function cancelButton(jobId, refresh) {
  return actionButton(
    "Cancel",
    () =>
      act({
        endpoint: "jobs.cancel",
        body: { jobId },
        title: `Cancel job ${jobId}?`,
        message: "A running job is aborted on its worker; a waiting one never runs. This cannot be undone.",
        confirmLabel: "Cancel job",
        destructive: true,
        describe: (result) => describeCommand(`Cancelled ${jobId}`, result),
        refresh,
      }),
    { destructive: true },
  );
}

export function progressText(progress) {
  if (progress === undefined || progress === null) return "";
  if (typeof progress === "number")
    return progress <= 1 ? `${Math.round(progress * 100)} %` : String(progress);
  return JSON.stringify(progress).slice(0, 80);
}

function percentiles(distribution, keys) {
  return distribution ? keys.map((key) => duration(distribution[key])).join(" / ") : "—";
}

export function queueView(root, queue) {
  const header = h("div", { class: "controls" });
  const charts = h("div", { class: "charts" });
  const facts = h("div");
  const outcomes = h("div");
  const running = h("div");
  const refresh = async () => {
    const data = await read("queue", { queue });
    const row = data.row;
    fill(
      header,
      stateBadge(row),
      queueActions(row, refresh),
      h("a", { href: `#dead-letters/queue=${encodeURIComponent(queue)}` }, `${row.dead} dead letters`),
    );
    fill(charts, fleetCharts(data.history));
    const pause = data.pause.record;
    fill(
      facts,
      table(
        [
          "Pending",
          "In flight",
          "Backlog",
          "Oldest job",
          "In",
          "Out",
          "Growth",
          "Outlook",
          "Completed",
          "Errors",
          "Workers",
          "Paused by",
        ],
        h(
          "tr",
          null,
          h("td", { class: "num" }, number(row.pending)),
          h("td", { class: "num" }, `${number(row.inFlight)} / ${number(row.maxInFlight)}`),
          h("td", { class: "num" }, number(row.backlog)),
          h("td", null, duration(row.oldestJobAgeMs)),
          h("td", { class: "num" }, rate(row.enqueuedPerSec)),
          h("td", { class: "num" }, rate(row.processedPerSec)),
          h("td", { class: "num" }, rate(row.growthPerSec)),
          h("td", null, eta(row)),
          h("td", { class: "num" }, rate(row.completedPerSec)),
          h("td", { class: "num" }, percent(row.errorRate)),
          h(
            "td",
            { class: "num" },
            `${row.workers.serving} (${row.workers.running}/${row.workers.concurrency} busy)`,
          ),
          h(
            "td",
            null,
            pause ? `${pause.by} at ${time(pause.at)}${pause.reason ? ` — ${pause.reason}` : ""}` : "—",
          ),
        ),
      ),
    );
    const rows = data.runningJobs.map((job) =>
      h(
        "tr",
        { "data-job": job.jobId },
        h("td", null, job.name),
        h("td", null, h("a", { href: `#jobs/${encodeURIComponent(job.jobId)}` }, job.jobId)),
        h("td", { class: "num" }, job.attempt),
        h("td", null, job.workerId),
        h("td", null, duration(job.runningForMs)),
        h("td", null, progressText(job.progress)),
        h("td", null, job.state === "running" ? cancelButton(job.jobId, refresh) : job.state),
      ),
    );
    fill(
      outcomes,
      h("h2", null, `Jobs, last ${duration(data.statsWindowMs)}`),
      table(
        [
          "Name",
          "Completed",
          "Failed",
          "Retried",
          "Dead",
          "Error rate",
          "Run time p50 / p95 / p99",
          "Wait p50 / p95",
          "Top error",
        ],
        data.jobs.map((job) =>
          h(
            "tr",
            { "data-name": job.name },
            h("td", null, job.name),
            h("td", { class: "num" }, number(job.completed)),
            h("td", { class: "num" }, number(job.failed)),
            h("td", { class: "num" }, number(job.retried)),
            h("td", { class: "num" }, number(job.dead)),
            h("td", { class: "num" }, percent(job.errorRate)),
            h("td", null, percentiles(job.durationMs, ["p50", "p95", "p99"])),
            h("td", null, percentiles(job.waitMs, ["p50", "p95"])),
            h(
              "td",
              null,
              job.errorClasses[0] ? `${job.errorClasses[0].errorClass} (${job.errorClasses[0].count})` : "",
            ),
          ),
        ),
        {},
        "no job finished in this window",
      ),
    );
    fill(
      running,
      h("h2", null, `Running now (${data.runningTotal})`),
      table(
        ["Name", "Job id", "Attempt", "Worker", "Running for", "Progress", ""],
        rows,
        {},
        "nothing running",
      ),
    );
  };
  root.append(
    h("h1", null, h("a", { href: "#overview", class: "crumb" }, "Overview"), " › ", queue),
    header,
    charts,
    facts,
    outcomes,
    running,
  );
  return { refresh };
}
