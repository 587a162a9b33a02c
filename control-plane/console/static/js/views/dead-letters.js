// Dead letters: browse newest first, filter by queue, job name, error class and time, and retry
// or purge one, a selection, or everything the filter matches.
import { act, actionButton } from "../actions.js";
import { post, read } from "../api.js";
import { fill, h, statePager, table, time } from "../dom.js";
import { deadLetterDetail } from "./jobs.js";

function describeRetry(result) {
  const failed =
    result.failed.length > 0
      ? `; ${result.failed.length} failed: ${result.failed.map((f) => f.error).join("; ")}`
      : "";
  return `Retried ${result.retried.length} of ${result.matched} dead letter${result.matched === 1 ? "" : "s"}${failed}`;
}

function describePurge(result) {
  return `Purged ${result.purged} of ${result.matched} dead letter${result.matched === 1 ? "" : "s"}`;
}

/** The API's filter from the form state (times as ms since the epoch). */
function apiFilter(state) {
  const filter = {};
  for (const field of ["queue", "name", "errorClass"]) if (state[field]) filter[field] = state[field];
  for (const field of ["since", "until"]) if (state[field]) filter[field] = new Date(state[field]).getTime();
  return filter;
}

export function deadLettersView(root, arg) {
  const initial = new URLSearchParams(arg ?? "");
  const state = {
    queue: initial.get("queue") ?? "",
    name: "",
    errorClass: initial.get("errorClass") ?? "",
    since: "",
    until: "",
    offset: 0,
    limit: 50,
  };
  const selected = new Set();
  let shown = [];
  const toolbar = h("div", { class: "controls" });
  const list = h("div");
  const detail = h("div");

  const retryOrPurge = (kind, filter, what) => {
    const retry = kind === "retry";
    return act({
      endpoint: retry ? "dlq.retry" : "dlq.purge",
      body: filter,
      title: `${retry ? "Retry" : "Purge"} ${what}?`,
      message: retry
        ? "Each is enqueued again as a new attempt and leaves the dead-letter stream."
        : "They are deleted for good; their jobs will not run again.",
      confirmLabel: retry ? "Retry" : "Purge",
      destructive: !retry,
      askReason: false,
      describe: retry ? describeRetry : describePurge,
      refresh: async () => {
        selected.clear();
        await refresh();
      },
    });
  };

  const byFilter = async (kind) => {
    const filter = apiFilter(state);
    const all = Object.keys(filter).length === 0;
    const body = all ? { all: true } : filter;
    let matched = "every matching dead letter";
    try {
      const dry = await post(`actions/${kind === "retry" ? "dlq.retry" : "dlq.purge"}`, {
        ...body,
        dryRun: true,
      });
      matched = `${dry.matched} dead letter${dry.matched === 1 ? "" : "s"}${all ? " (all of them)" : " matching the filter"}`;
    } catch {
      // without a session the dry run is refused too; the action itself reports the denial
    }
    await retryOrPurge(kind, body, matched);
  };

  const renderToolbar = () => {
    const n = selected.size;
    fill(
      toolbar,
      actionButton(
        `Retry selected (${n})`,
        () =>
          n > 0 &&
          retryOrPurge("retry", { seqs: [...selected] }, `${n} selected dead letter${n === 1 ? "" : "s"}`),
      ),
      actionButton(
        `Purge selected (${n})`,
        () =>
          n > 0 &&
          retryOrPurge("purge", { seqs: [...selected] }, `${n} selected dead letter${n === 1 ? "" : "s"}`),
        { destructive: true },
      ),
      actionButton("Retry all matching", () => byFilter("retry")),
      actionButton("Purge all matching", () => byFilter("purge"), { destructive: true }),
    );
  };

  const showDetail = async (seq) => {
    fill(detail, deadLetterDetail(await read("dead-letter", { seq })));
    detail.scrollIntoView({ behavior: "smooth", block: "start" });
  };

  const refresh = async () => {
    const data = await read("dead-letters", {
      ...apiFilter(state),
      offset: state.offset,
      limit: state.limit,
    });
    shown = data.deadLetters;
    const classes = document.getElementById("error-classes");
    fill(
      classes,
      data.errorClasses.map((c) => h("option", { value: c })),
    );
    const rows = shown.map((letter) =>
      h(
        "tr",
        { "data-seq": letter.seq, "data-job": letter.jobId },
        h(
          "td",
          null,
          h("input", {
            type: "checkbox",
            "aria-label": `select dead letter ${letter.seq}`,
            checked: selected.has(letter.seq),
            onchange: (event) => {
              if (event.target.checked) selected.add(letter.seq);
              else selected.delete(letter.seq);
              renderToolbar();
            },
          }),
        ),
        h(
          "td",
          null,
          h(
            "a",
            {
              href: "#",
              onclick: (event) => {
                event.preventDefault();
                void showDetail(letter.seq);
              },
            },
            `#${letter.seq}`,
          ),
        ),
        h("td", null, time(letter.failedAt)),
        h("td", null, letter.queue),
        h("td", null, letter.name),
        h("td", null, h("a", { href: `#jobs/${encodeURIComponent(letter.jobId)}` }, letter.jobId)),
        h("td", null, letter.errorClass),
        h("td", { class: "wrap" }, letter.errorMessage),
        h("td", { class: "num" }, letter.attempts),
        h("td", null, letter.reason),
        h(
          "td",
          { class: "row-actions" },
          actionButton("Retry", () =>
            retryOrPurge("retry", { seqs: [letter.seq] }, `dead letter #${letter.seq} (${letter.jobId})`),
          ),
          actionButton(
            "Purge",
            () =>
              retryOrPurge("purge", { seqs: [letter.seq] }, `dead letter #${letter.seq} (${letter.jobId})`),
            { destructive: true },
          ),
        ),
      ),
    );
    fill(
      list,
      data.truncated
        ? h(
            "p",
            { class: "dim" },
            "More dead letters are in range than one scan reads: narrow the filter to see them all.",
          )
        : "",
      table(
        [
          "",
          "Seq",
          "Failed at",
          "Queue",
          "Name",
          "Job id",
          "Error class",
          "Message",
          "Attempts",
          "Reason",
          "",
        ],
        rows,
        { class: "dead-letters" },
        "no dead letters match",
      ),
      statePager(data, state, refresh),
    );
    renderToolbar();
  };

  const field = (name, attrs) =>
    h("input", {
      name,
      value: state[name],
      ...attrs,
      onchange: (event) => {
        state[name] = event.target.value.trim();
        state.offset = 0;
        selected.clear();
        void refresh();
      },
    });
  const filters = h(
    "form",
    { class: "controls filters", onsubmit: (event) => event.preventDefault() },
    field("queue", { placeholder: "queue", size: 14 }),
    field("name", { placeholder: "job name", size: 14 }),
    field("errorClass", { placeholder: "error class", list: "error-classes", size: 16 }),
    h("datalist", { id: "error-classes" }),
    h("label", null, "since ", field("since", { type: "datetime-local" })),
    h("label", null, "until ", field("until", { type: "datetime-local" })),
  );
  root.append(h("h1", null, "Dead letters"), filters, toolbar, list, detail);
  return { refresh };
}
