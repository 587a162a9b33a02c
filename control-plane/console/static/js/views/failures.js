// Failure patterns: which error classes fail where — among failed attempts (retries included)
// in the last 5 and 30 minutes, and among the dead letters.
import { read } from "../api.js";
import { duration, fill, h, number, percent, table, time } from "../dom.js";

export function failuresView(root) {
  const live = h("div");
  const dead = h("div");
  const refresh = async () => {
    const data = await read("failures");
    fill(
      live,
      h("h2", null, "Failed attempts"),
      data.coveredMs < 30 * 60_000
        ? h(
            "p",
            { class: "dim" },
            `This control plane has seen the last ${duration(data.coveredMs)} of them.`,
          )
        : "",
      table(
        ["Queue", "Error class", "Last 5 min", "Last 30 min", "Queue error rate (5 min)", "Job names"],
        data.live.map((p) =>
          h(
            "tr",
            { "data-pattern": `${p.queue}/${p.errorClass}` },
            h("td", null, h("a", { href: `#queue/${encodeURIComponent(p.queue)}` }, p.queue)),
            h("td", null, p.errorClass),
            h("td", { class: "num" }, number(p.last5m)),
            h("td", { class: "num" }, number(p.last30m)),
            h("td", { class: "num" }, percent(p.errorRate)),
            h("td", { class: "wrap" }, p.names.join(", ")),
          ),
        ),
        {},
        "no failed attempt in the last 30 minutes",
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
