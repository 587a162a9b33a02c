// Overview: the fleet in numbers, charts of the last minutes, and every queue (paged) with
// pending, in flight, rates, growth, time to empty or full, error rate and pause state.
import { act, actionButton, describeCommand } from "../actions.js";
import { read } from "../api.js";
import { lineChart } from "../chart.js";
import { badge, duration, empty, fill, h, number, pager, percent, rate, table } from "../dom.js";

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
  if (row.paused) return badge("paused");
  if (row.pausedOnWorkers > 0) return badge(`paused on ${row.pausedOnWorkers}`, "partial");
  return badge("active");
}

export function fleetCharts(history) {
  return [
    lineChart({
      title: "Pending and in flight",
      at: history.at,
      series: [
        { label: "pending", values: history.pending, className: "s1" },
        { label: "in flight", values: history.inFlight, className: "s2" },
      ],
      format: number,
    }),
    lineChart({
      title: "Throughput (jobs/s)",
      at: history.at,
      series: [
        { label: "enqueued", values: history.enqueuedPerSec, className: "s3" },
        { label: "completed", values: history.completedPerSec, className: "s1" },
      ],
      format: number,
    }),
  ];
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
        rows.length > 0 ? rows : empty(12, state.q ? "no queue matches" : "no queues declared yet"),
        { class: "queues" },
      ),
      pager(data.total, data.offset, state.limit, (offset) => {
        state.offset = offset;
        void refresh();
      }),
    );
  };
  const filter = h("input", {
    type: "search",
    placeholder: "filter queues",
    oninput: (event) => {
      state.q = event.target.value.trim();
      state.offset = 0;
      void refresh();
    },
  });
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
