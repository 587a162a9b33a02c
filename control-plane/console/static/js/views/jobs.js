// Jobs: look one up by id — its state, attempts with their errors, timestamps, the stack and
// payload of its dead letter (redacted by the server), and its trace.
import { read } from "../api.js";
import { badge, duration, fill, h, json, table, time } from "../dom.js";
import { cancelButton, progressText } from "./queue.js";

/** Headers the dead-letter section already shows in a readable form. */
const SHOWN_ABOVE = new Set(["jetmesh-error-stack", "jetmesh-attempt-history"]);
const CANCELLABLE = new Set(["running", "waiting", "retrying", "awaiting-redelivery"]);

function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, value]) => value !== undefined && value !== null && value !== "")
      .flatMap(([label, value]) => [h("dt", null, label), h("dd", null, value)]),
  );
}

export function traceLink(traceId, traceUrl) {
  if (!traceId) return undefined;
  return traceUrl
    ? h("a", { href: traceUrl, target: "_blank", rel: "noopener noreferrer" }, traceId)
    : h("code", null, traceId);
}

export function deadLetterDetail(letter) {
  return h(
    "section",
    { class: "dead-letter" },
    h("h2", null, `Dead letter #${letter.seq}`),
    facts([
      ["Reason", letter.reason],
      ["Error", `${letter.errorClass}: ${letter.errorMessage}`],
      ["Failed at", time(letter.failedAt)],
      ["Attempts", letter.attempts],
      ["Worker", letter.workerId],
      ["Trace", traceLink(letter.traceId, letter.traceUrl)],
      ["Payload", `${letter.payloadBytes} bytes${letter.contentType ? `, ${letter.contentType}` : ""}`],
    ]),
    letter.stack ? [h("h3", null, "Stack"), h("pre", { class: "stack" }, letter.stack)] : "",
    h("h3", null, "Payload"),
    letter.payloadBase64 !== undefined
      ? h("pre", { class: "json" }, `(not decodable; base64) ${letter.payloadBase64}`)
      : json(letter.payload),
    h("h3", null, "Headers"),
    table(
      ["Header", "Value"],
      Object.entries(letter.headers)
        .filter(([key]) => !SHOWN_ABOVE.has(key.toLowerCase()))
        .map(([key, value]) => h("tr", null, h("td", null, key), h("td", { class: "wrap" }, value))),
    ),
  );
}

export function attemptsTable(attempts) {
  return table(
    ["Attempt", "At", "Kind", "Error class", "Message", "Worker"],
    attempts.map((a) =>
      h(
        "tr",
        null,
        h("td", { class: "num" }, a.attempt),
        h("td", null, time(a.at)),
        h("td", null, a.kind),
        h("td", null, a.errorClass),
        h("td", { class: "wrap" }, a.message),
        h("td", null, a.workerId),
      ),
    ),
    {},
    "no failed attempt",
  );
}

export function jobsView(root, jobId) {
  const result = h("div", { id: "job" });
  const input = h("input", {
    type: "search",
    name: "jobId",
    placeholder: "job id",
    value: jobId ?? "",
    size: 40,
  });
  const form = h(
    "form",
    {
      class: "controls",
      onsubmit: (event) => {
        event.preventDefault();
        const id = input.value.trim();
        if (id) location.hash = `#jobs/${encodeURIComponent(id)}`;
      },
    },
    input,
    h("button", { type: "submit", class: "primary" }, "Look up"),
  );
  const refresh = async () => {
    if (!jobId) {
      fill(
        result,
        h(
          "p",
          { class: "dim" },
          "Enter a job id to see where it is: running, waiting, retrying, dead, completed or cancelled.",
        ),
      );
      return;
    }
    let data;
    try {
      data = await read("job", { id: jobId });
    } catch (error) {
      if (error.status !== 404) throw error;
      fill(
        result,
        h("p", { class: "error" }, error.message),
        error.hint ? h("p", { class: "dim" }, error.hint) : "",
      );
      return;
    }
    const job = data.lookup;
    fill(
      result,
      h(
        "h2",
        null,
        job.jobId,
        " ",
        badge(job.state),
        " ",
        CANCELLABLE.has(job.state) ? cancelButton(job.jobId, refresh) : "",
      ),
      facts([
        ["Queue", job.queue && h("a", { href: `#queue/${encodeURIComponent(job.queue)}` }, job.queue)],
        ["Name", job.name],
        ["Attempt", job.attempt],
        ["Worker", job.workerId && `${job.workerId}${job.host ? ` on ${job.host}` : ""}`],
        ["Enqueued", job.enqueuedAt && time(job.enqueuedAt)],
        [
          "Started",
          job.startedAt && `${time(job.startedAt)} (running ${duration(Date.now() - job.startedAt)})`,
        ],
        ["Progress", progressText(job.progress)],
        ["Next attempt", job.retryAt && time(job.retryAt)],
        ["Completed", job.completedAt && `${time(job.completedAt)} in ${duration(job.durationMs)}`],
        [
          "Cancelled",
          job.cancelled &&
            `by ${job.cancelled.by} at ${time(job.cancelled.at)}${job.cancelled.reason ? ` — ${job.cancelled.reason}` : ""}`,
        ],
        ["Position", job.sequence && `stream sequence ${job.sequence}`],
      ]),
      job.notes.length > 0
        ? h(
            "ul",
            { class: "notes" },
            job.notes.map((note) => h("li", null, note)),
          )
        : "",
      h("h3", null, "Failed attempts"),
      attemptsTable(data.deadLetter?.history?.length ? data.deadLetter.history : job.attempts),
      data.deadLetter ? deadLetterDetail(data.deadLetter) : "",
    );
  };
  root.append(h("h1", null, "Jobs"), form, result);
  return { refresh };
}
