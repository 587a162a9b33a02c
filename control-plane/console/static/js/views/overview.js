// Overview: the fleet in numbers, charts of the last minutes, and every queue (paged) with
// pending, in flight, rates, growth, time to empty or full, error rate and pause state.
import { act, actionButton, describeCommand } from "../actions.js";
import { read } from "../api.js";
import { lineChart } from "../chart.js";
import { badge, duration, fill, h, number, percent, rate, searchInput, statePager, table } from "../dom.js";

export function queueActions(row, refresh) {
  const paused = row.paused;
  return actionButton(paused ? "Resume" : "Pause", () =>
    act({
      endpoint: paused ? "queues.resume" : "queues.pause",
      body: { queue: row.queue },
      title: `${paused ? "Resume" : "Pause"} queue ${row.queue}?`,
      message: paused
        ? "Workers start taking jobs of this queue again."
        : "Workers stop starting jobs of this queue; jobs already running finish.",
      confirmLabel: paused ? "Resume" : "Pause",
      describe: (result) => describeCommand(`${paused ? "Resumed" : "Paused"} ${row.queue}`, result),
      refresh,
    }),
  );
}

export function eta(row) {
  if (row.timeToEmptyMs !== null) return `empty in ${duration(row.timeToEmptyMs)}`;
  if (row.timeToFullMs !== null) return `full in ${duration(row.timeToFullMs)}`;
  if (row.growthPerSec !== null && row.growthPerSec > 0) return "growing";
  return "—";
}

export function stateBadge(row) {
  // A stall says more than the pause that may cause it: `jetmesh health` gives the advice.
  if (row.stalled) return badge(`stalled: ${row.stalled}`, "stalled");
  if (row.paused) return badge("paused");
  if (row.pausedOnWorkers > 0) return badge(`paused on ${row.pausedOnWorkers}`, "partial");
  return badge("active");
}

const CHARTS = [
  {
    title: "Pending and in flight",
    series: [
      ["pending", "pending", "s1"],
      ["in flight", "inFlight", "s2"],
    ],
  },
  {
    title: "Throughput (jobs/s)",
    series: [
      ["enqueued", "enqueuedPerSec", "s3"],
      ["completed", "completedPerSec", "s1"],
    ],
  },
];

/** The two charts of a history (the fleet's or one queue's). */
export function fleetCharts(history) {
  return CHARTS.map(({ title, series }) =>
    lineChart({
      title,
      at: history.at,
      format: number,
      series: series.map(([label, key, className]) => ({ label, values: history[key], className })),
    }),
  );
}

function card(label, value, detail) {
  return h(
    "div",
    { class: "card" },
    h("div", { class: "card-value" }, value),
    h("div", { class: "card-label" }, label),
    detail && h("div", { class: "card-detail" }, detail),
  );
}

export function overviewView(root) {
  const state = { q: "", sort: "queue", offset: 0, limit: 50 };
  const cards = h("div", { class: "cards" });
  const charts = h("div", { class: "charts" });
  const list = h("div");
  const refresh = async () => {
    const data = await read("overview", state);
    const w = data.workers;
    fill(
      cards,
      card("workers alive", number(w.alive), `${w.late} late · ${w.gone} gone · ${w.draining} draining`),
      card(
        "jobs running",
        number(data.jobs.running),
        data.jobs.awaitingRedelivery > 0 ? `${data.jobs.awaitingRedelivery} awaiting redelivery` : "",
      ),
      card("pending", number(data.totals.pending), `${number(data.totals.inFlight)} in flight`),
      card("enqueued", rate(data.totals.enqueuedPerSec), `completed ${rate(data.totals.completedPerSec)}`),
      card("queues", number(data.totals.queues), `${data.totals.paused} paused`),
      card("dead letters", number(data.deadLetters), h("a", { href: "#dead-letters" }, "browse")),
    );
    fill(charts, fleetCharts(data.history));
    const rows = data.queues.map((row) =>
      h(
        "tr",
        { "data-queue": row.queue },
        h("td", null, h("a", { href: `#queue/${encodeURIComponent(row.queue)}` }, row.queue)),
        h("td", { class: "state" }, stateBadge(row)),
        h("td", { class: "num" }, number(row.pending)),
        h("td", { class: "num" }, `${number(row.inFlight)} / ${number(row.maxInFlight)}`),
        h("td", { class: "num" }, rate(row.enqueuedPerSec)),
        h("td", { class: "num" }, rate(row.processedPerSec)),
        h("td", { class: "num" }, rate(row.growthPerSec)),
        h("td", null, eta(row)),
        h("td", { class: "num" }, percent(row.errorRate)),
        h(
          "td",
          { class: "num" },
          row.dead > 0
            ? h("a", { href: `#dead-letters/queue=${encodeURIComponent(row.queue)}` }, number(row.dead))
            : "0",
        ),
        h("td", { class: "num" }, `${row.workers.serving}`),
        h("td", null, queueActions(row, refresh)),
      ),
    );
    fill(
      list,
      table(
        [
          "Queue",
          "State",
          "Pending",
          "In flight",
          "In",
          "Out",
          "Growth",
          "Outlook",
          "Errors",
          "Dead",
          "Workers",
          "",
        ],
        rows,
        { class: "queues" },
        state.q ? "no queue matches" : "no queues declared yet",
      ),
      statePager(data, state, refresh),
    );
  };
  const filter = searchInput("filter queues", state, refresh);
  const sort = h(
    "select",
    {
      onchange: (event) => {
        state.sort = event.target.value;
        void refresh();
      },
    },
    [
      ["queue", "by name"],
      ["pending", "most pending"],
      ["growth", "fastest growing"],
      ["errors", "highest error rate"],
      ["dead", "most dead letters"],
    ].map(([value, label]) => h("option", { value }, label)),
  );
  root.append(h("h1", null, "Overview"), cards, charts, h("div", { class: "controls" }, filter, sort), list);
  return { refresh };
}
