// Failure patterns: which error classes fail where — live from failed attempts (retries
// included) over the last half hour, and among the dead letters.
import { read } from "../api.js";
import { sparkBars } from "../chart.js";
import { fill, h, number, table, time } from "../dom.js";

export function failuresView(root) {
  const live = h("div");
  const dead = h("div");
  const refresh = async () => {
    const data = await read("failures");
    fill(
      live,
      h("h2", null, "Failed attempts, last 30 minutes"),
      table(
        ["Queue", "Error class", "Failures", "Per minute", "Last", "Last message"],
        data.live.map((p) =>
          h(
            "tr",
            { "data-pattern": `${p.queue}/${p.errorClass}` },
            h("td", null, p.queue),
            h("td", null, p.errorClass),
            h("td", { class: "num" }, number(p.total)),
            h("td", null, sparkBars(p.perMinute)),
            h("td", null, time(p.lastAt)),
            h("td", { class: "wrap" }, p.lastMessage),
          ),
        ),
        {},
        "no failed attempt seen since this control plane started",
      ),
    );
    const d = data.dead;
    fill(
      dead,
      h("h2", null, `Dead letters by error class (${number(d.total)})`),
      d.truncated
        ? h(
            "p",
            { class: "dim" },
            "More dead letters exist than one scan reads; counts cover the oldest ones.",
          )
        : "",
      table(
        ["Queue", "Error class", "Dead letters", "Job names", "First", "Last", "Last message"],
        d.patterns.map((p) =>
          h(
            "tr",
            { "data-pattern": `${p.queue}/${p.errorClass}` },
            h("td", null, p.queue),
            h(
              "td",
              null,
              h(
                "a",
                {
                  href: `#dead-letters/queue=${encodeURIComponent(p.queue)}&errorClass=${encodeURIComponent(p.errorClass)}`,
                },
                p.errorClass,
              ),
            ),
            h("td", { class: "num" }, number(p.count)),
            h("td", null, p.names.join(", ")),
            h("td", null, time(p.firstAt)),
            h("td", null, time(p.lastAt)),
            h("td", { class: "wrap" }, p.lastMessage),
          ),
        ),
        {},
        "no dead letters",
      ),
    );
  };
  root.append(h("h1", null, "Failure patterns"), live, dead);
  return { refresh };
}
