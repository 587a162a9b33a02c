// Workers: each worker (paged, filterable) with host, version, queues, utilisation, heartbeat
// age and the jobs it runs now; drain a worker, cancel one of its jobs.
import { act, actionButton, describeCommand } from "../actions.js";
import { read } from "../api.js";
import { badge, duration, fill, h, searchInput, statePager, table } from "../dom.js";
import { cancelButton, progressText } from "./queue.js";

function utilisationBar(value) {
  if (value === null) return "—";
  const pct = Math.round(value * 100);
  const fillEl = h("div", { class: "bar-fill" });
  // Set through the CSSOM: the page's content security policy forbids inline style attributes.
  fillEl.style.width = `${Math.min(100, pct)}%`;
  return h(
    "div",
    { class: "bar", title: `${pct} % of its concurrency in use` },
    fillEl,
    h("span", null, `${pct} %`),
  );
}

function drainButton(worker, refresh) {
  return actionButton(
    "Drain",
    () =>
      act({
        endpoint: "workers.drain",
        body: { workerId: worker.workerId },
        title: `Drain worker ${worker.workerId}?`,
        message: "It finishes the jobs it runs, takes no new ones and exits.",
        confirmLabel: "Drain",
        destructive: true,
        describe: (result) => describeCommand(`Draining ${worker.workerId}`, result),
        refresh,
      }),
    { destructive: true },
  );
}

export function workersView(root) {
  const state = { q: "", gone: "", offset: 0, limit: 50 };
  const list = h("div");
  const refresh = async () => {
    const data = await read("workers", state);
    const rows = data.workers.flatMap((w) => {
      const main = h(
        "tr",
        { "data-worker": w.workerId, class: `worker liveness-${w.liveness}` },
        h("td", null, w.workerId),
        h("td", null, w.host, h("span", { class: "dim" }, ` pid ${w.pid}`)),
        h("td", null, w.version),
        h("td", null, badge(w.liveness), w.state === "draining" ? badge("draining") : ""),
        h(
          "td",
          null,
          w.queues.map((q) =>
            h(
              "span",
              { class: q.paused ? "chip paused" : "chip", title: q.paused ? "paused on this worker" : "" },
              `${q.queue} ${q.running}/${q.concurrency}`,
            ),
          ),
        ),
        h("td", null, utilisationBar(w.utilisation)),
        h("td", null, duration(w.lastSeenAgoMs)),
        h("td", { class: "num" }, w.runningJobs),
        h("td", null, w.liveness !== "gone" && w.state !== "draining" ? drainButton(w, refresh) : ""),
      );
      if (w.jobs.length === 0) return [main];
      const jobs = h(
        "tr",
        { class: "jobs-row" },
        h(
          "td",
          { colspan: 9 },
          h(
            "ul",
            { class: "jobs" },
            w.jobs.map((job) =>
              h(
                "li",
                { "data-job": job.jobId },
                h("strong", null, job.name),
                " ",
                h("a", { href: `#jobs/${encodeURIComponent(job.jobId)}` }, job.jobId),
                h(
                  "span",
                  { class: "dim" },
                  ` ${job.queue} · attempt ${job.attempt} · running ${duration(job.runningForMs)} `,
                ),
                progressText(job.progress),
                " ",
                cancelButton(job.jobId, refresh),
              ),
            ),
            w.runningJobs > w.jobs.length
              ? h("li", { class: "dim" }, `and ${w.runningJobs - w.jobs.length} more`)
              : "",
          ),
        ),
      );
      return [main, jobs];
    });
    fill(
      list,
      table(
        [
          "Worker",
          "Host",
          "Version",
          "State",
          "Queues (running/concurrency)",
          "Utilisation",
          "Heartbeat",
          "Jobs",
          "",
        ],
        rows,
        { class: "workers" },
        "no workers",
      ),
      statePager(data, state, refresh),
    );
  };
  const filter = searchInput("filter by id, host or queue", state, refresh);
  const gone = h("input", {
    type: "checkbox",
    onchange: (event) => {
      state.gone = event.target.checked ? "1" : "";
      void refresh();
    },
  });
  root.append(
    h("h1", null, "Workers"),
    h("div", { class: "controls" }, filter, h("label", null, gone, " include gone workers")),
    list,
  );
  return { refresh };
}
