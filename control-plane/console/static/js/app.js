// The console page: a hash router over the views, a refresh loop that redraws the current
// view every refreshMs while the tab is visible, and the admin lock in the header.
import { askToken, notify } from "./dialogs.js";
import { fill, h } from "./dom.js";
import { loadSession, lock, onSessionChange, session, unlock } from "./session.js";
import { deadLettersView } from "./views/dead-letters.js";
import { failuresView } from "./views/failures.js";
import { jobsView } from "./views/jobs.js";
import { overviewView } from "./views/overview.js";
import { queueView } from "./views/queue.js";
import { schedulesView } from "./views/schedules.js";
import { workersView } from "./views/workers.js";

const VIEWS = {
  overview: overviewView,
  queue: queueView,
  workers: workersView,
  jobs: jobsView,
  "dead-letters": deadLettersView,
  failures: failuresView,
  schedules: schedulesView,
};

let current;
let refreshing = false;
let lastOk = 0;

function route() {
  const [name, ...rest] = location.hash.replace(/^#/, "").split("/");
  const view = VIEWS[name] ? name : "overview";
  return { view, arg: rest.length > 0 ? decodeURIComponent(rest.join("/")) : undefined };
}

function mount() {
  const { view, arg } = route();
  const root = fill(document.getElementById("view"));
  current = VIEWS[view](root, arg);
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.view === (view === "queue" ? "overview" : view));
  }
  document.body.dataset.view = view;
  void refresh();
}

export async function refresh() {
  if (refreshing || current === undefined) return;
  refreshing = true;
  const live = document.getElementById("live");
  try {
    await current.refresh();
    lastOk = Date.now();
    live.textContent = "● live";
    live.className = "live ok";
  } catch (error) {
    live.textContent = `● ${error.message}`;
    live.className = "live failing";
  } finally {
    refreshing = false;
  }
}

function renderAdmin() {
  const el = document.getElementById("admin");
  if (session.mode === "read-only") {
    fill(
      el,
      h("span", { class: "badge badge-read-only", title: "no admin token is configured" }, "read-only"),
    );
  } else if (session.admin) {
    fill(
      el,
      h("span", { class: "badge badge-admin" }, "admin"),
      h(
        "button",
        { type: "button", class: "small", onclick: () => lock().then(() => notify("Admin actions locked")) },
        "Lock",
      ),
    );
  } else {
    fill(
      el,
      h(
        "button",
        {
          type: "button",
          class: "small",
          id: "unlock",
          onclick: async () => {
            if (await askToken(unlock)) notify("Admin actions unlocked");
          },
        },
        "Unlock admin",
      ),
    );
  }
}

async function main() {
  await loadSession();
  renderAdmin();
  onSessionChange(() => {
    renderAdmin();
    mount();
  });
  window.addEventListener("hashchange", mount);
  mount();
  setInterval(() => {
    if (!document.hidden && !document.querySelector("dialog[open]")) void refresh();
    if (lastOk > 0 && Date.now() - lastOk > 10_000) document.getElementById("live").className = "live stale";
  }, session.refreshMs);
}

void main();
