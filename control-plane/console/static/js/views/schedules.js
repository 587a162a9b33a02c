// Schedules: each with its rule, next and last run, last error and state; pause, resume or
// run one now. Says which control-plane replica fires them, or that none does.
import { act, actionButton } from "../actions.js";
import { read } from "../api.js";
import { badge, duration, fill, h, searchInput, statePager, table, time } from "../dom.js";

export function describeRule(rule) {
  if ("cron" in rule) return `cron ${rule.cron} (${rule.timezone ?? "UTC"})`;
  if ("everyMs" in rule) return `every ${duration(rule.everyMs)}`;
  return `once at ${time(rule.at)}`;
}

function scheduleAction(schedule, endpoint, label, message, describe, refresh) {
  return actionButton(label, () =>
    act({
      endpoint,
      body: { id: schedule.id },
      title: `${label} schedule ${schedule.id}?`,
      message,
      confirmLabel: label,
      askReason: false,
      describe,
      refresh,
    }),
  );
}

function schedulerLine(scheduler) {
  if (scheduler.holder === null)
    return h("p", { class: "error" }, "No control plane runs the scheduler now: schedules do not fire.");
  const since = scheduler.activeSince === null ? "" : ` since ${time(scheduler.activeSince)}`;
  return h("p", { class: "dim" }, `Schedules fire from control plane ${scheduler.holder}${since}.`);
}

export function schedulesView(root) {
  const state = { q: "", offset: 0, limit: 50 };
  const list = h("div");
  const refresh = async () => {
    const data = await read("schedules", state);
    const rows = data.schedules.map((s) =>
      h(
        "tr",
        { "data-schedule": s.id },
        h("td", null, s.id),
        h("td", null, h("a", { href: `#queue/${encodeURIComponent(s.queue)}` }, s.queue), " / ", s.name),
        h("td", null, describeRule(s.rule)),
        h(
          "td",
          { class: "state" },
          s.paused ? badge("paused") : s.nextFireAt === null ? badge("done", "completed") : badge("active"),
        ),
        h("td", null, s.paused || s.nextFireAt === null ? "—" : time(s.nextFireAt)),
        h("td", null, s.lastFireAt ? time(s.lastFireAt) : "never"),
        h(
          "td",
          { class: "wrap" },
          s.lastJobId ? h("a", { href: `#jobs/${encodeURIComponent(s.lastJobId)}` }, s.lastJobId) : "",
        ),
        h(
          "td",
          { class: "wrap error" },
          s.lastError ? `${time(s.lastError.at)}: ${s.lastError.message}` : "",
        ),
        h(
          "td",
          { class: "row-actions" },
          s.paused
            ? scheduleAction(
                s,
                "schedules.resume",
                "Resume",
                "It fires again from its next due time.",
                () => `Resumed schedule ${s.id}`,
                refresh,
              )
            : scheduleAction(
                s,
                "schedules.pause",
                "Pause",
                "It fires no run until resumed.",
                () => `Paused schedule ${s.id}`,
                refresh,
              ),
          scheduleAction(
            s,
            "schedules.run-now",
            "Run now",
            `Enqueues one ${s.name} job on ${s.queue} now, besides the schedule's own runs.`,
            (reply) => `Ran schedule ${s.id} now: enqueued job ${reply.jobId}`,
            refresh,
          ),
        ),
      ),
    );
    fill(
      list,
      schedulerLine(data.scheduler),
      table(
        ["Schedule", "Queue / job", "Rule", "State", "Next run", "Last run", "Last job", "Last error", ""],
        rows,
        { class: "schedules" },
        state.q ? "no schedule matches" : "no schedules",
      ),
      statePager(data, state, refresh),
    );
  };
  root.append(
    h("h1", null, "Schedules"),
    h("div", { class: "controls" }, searchInput("filter by id, queue or job", state, refresh)),
    list,
  );
  return { refresh };
}
