// The console driven in headless Chromium against a real mesh with worker processes: the
// overview loads while they run, pause stops them starting jobs, a dead letter retried from the
// page runs again, a running job is cancelled from the page, and admin actions are denied
// without the token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { DeadLetterSummary, JobLookup, QueueDetail, WaitingJob } from "../../control-plane/index.ts";
import { call } from "../control-plane/support.ts";
import { readLedger, uniqueName, WorkerProcess, waitFor } from "../support/harness.ts";
import { browserMissing, type ConsoleBundle, launchBrowser, startConsole, TOKEN } from "./support.ts";

const skip = browserMissing();
if (skip !== undefined) console.log(`# ${skip}`);

let bundle: ConsoleBundle;
let other: string;
let workers: WorkerProcess[] = [];
let browser: Browser;

before(async () => {
  if (skip !== undefined) return;
  bundle = await startConsole({ token: TOKEN });
  other = uniqueName("other");
  await bundle.mesh.client.queues.declare(other);
  // Heartbeats every second: a worker counts as gone only after 3 s of silence, which a busy
  // machine does not reach, so every command expects both workers.
  const env = { JETMESH_QUEUES: `${bundle.mesh.queue},${other}`, JETMESH_HEARTBEAT_INTERVAL_MS: "1000" };
  workers = await Promise.all([
    WorkerProcess.start(bundle.mesh.server.url, env),
    WorkerProcess.start(bundle.mesh.server.url, env),
  ]);
  browser = await launchBrowser();
});

after(async () => {
  if (skip !== undefined) return;
  await browser?.close();
  await Promise.all(workers.map((worker) => worker.kill()));
  await bundle?.close();
});

async function openAdminPage(hash = ""): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${bundle.url}${hash}`);
  await page.click("#unlock");
  await page.fill("#unlock-dialog input[name=token]", TOKEN);
  await page.click("#unlock-dialog button[value=unlock]");
  await page.waitForSelector(".badge-admin");
  return page;
}

async function confirm(page: Page): Promise<void> {
  await page.waitForSelector("#confirm-dialog[open]");
  await page.click("#confirm-dialog button[value=confirm]");
}

async function ledgerOf(jobId: string) {
  return (await readLedger(bundle.mesh.nc)).filter((entry) => entry.jobId === jobId);
}

test("the overview loads while workers run: queues, live workers and their running jobs", {
  skip,
}, async () => {
  const slow = await bundle.mesh.client.enqueue(bundle.mesh.queue, "slow", { ms: 6000 });
  const page = await browser.newPage();
  await page.goto(bundle.url);
  const row = page.locator(`tr[data-queue="${bundle.mesh.queue}"]`);
  await row.waitFor();
  assert.match((await row.locator(".state").textContent()) ?? "", /active/);
  await page
    .locator(".card", { hasText: "workers alive" })
    .locator(".card-value", { hasText: "2" })
    .waitFor();
  await row.getByRole("link", { name: bundle.mesh.queue }).click();
  // The queue's own page: its facts (in flight out of the queue's limit) and its running jobs.
  await page.locator("td", { hasText: "/ 1000" }).first().waitFor();
  await page.locator(`tr[data-job="${slow.jobId}"]`).waitFor();
  await page.click('#nav a[data-view="workers"]');
  await page.locator("tr.worker").nth(1).waitFor();
  assert.equal(await page.locator("tr.worker").count(), 2);
  await page.locator(`li[data-job="${slow.jobId}"]`).waitFor();
  await waitFor(async () => (await ledgerOf(slow.jobId)).length === 1, "the slow job to finish");
  await page.close();
});

test("pause from the page: the queue shows paused and workers stop starting its jobs until resumed", {
  skip,
}, async () => {
  const { queue } = bundle.mesh;
  const page = await openAdminPage();
  try {
    const row = page.locator(`tr[data-queue="${queue}"]`);
    await row.getByRole("button", { name: "Pause" }).click();
    await confirm(page);
    await page.locator("#notice", { hasText: `Paused ${queue}: acknowledged by 2 of 2 workers` }).waitFor();
    await row.locator(".state", { hasText: "paused" }).waitFor();

    const held: string[] = [];
    for (let i = 0; i < 3; i++) held.push((await bundle.mesh.client.enqueue(queue, "record", { i })).jobId);
    // A job of the other queue runs on the same workers: once it has, they were free to take the
    // paused queue's jobs too, and did not.
    const probe = await bundle.mesh.client.enqueue(other, "record", {});
    await waitFor(async () => (await ledgerOf(probe.jobId)).length === 1, "the other queue's job to run");
    const ledger = await readLedger(bundle.mesh.nc);
    assert.deepEqual(
      ledger.filter((entry) => held.includes(entry.jobId)),
      [],
    );
    // Still stored in the queue: waiting, or handed to a paused worker that holds them unstarted.
    const stored = await call<{ jobs: WaitingJob[] }>(bundle.cp, "jobs.waiting", { queue, limit: 100 });
    const storedIds = stored.jobs.map((job) => job.jobId);
    assert.ok(
      held.every((jobId) => storedIds.includes(jobId)),
      `held ${held.join(", ")}; stored ${storedIds.join(", ")}`,
    );

    await row.getByRole("button", { name: "Resume" }).click();
    await confirm(page);
    await page.locator("#notice", { hasText: `Resumed ${queue}: acknowledged by 2 of 2 workers` }).waitFor();
    await row.locator(".state", { hasText: "active" }).waitFor();
    await waitFor(async () => {
      const ran = new Set((await readLedger(bundle.mesh.nc)).map((entry) => entry.jobId));
      return held.every((jobId) => ran.has(jobId));
    }, "the held jobs to run after resume");
  } finally {
    await page.close();
    // Whatever failed above, the next tests need the queue running.
    if ((await call<QueueDetail>(bundle.cp, "queues.get", { queue })).pause.paused)
      await call(bundle.cp, "queues.resume", { queue });
  }
});

test("retry a dead letter from the page: it runs again", { skip }, async () => {
  const jobId = uniqueName("declined");
  await bundle.mesh.client.enqueue(bundle.mesh.queue, "declined", { order: 7 }, { jobId });
  await waitFor(
    async () =>
      (await call<{ deadLetters: DeadLetterSummary[] }>(bundle.cp, "dlq.list", { jobId })).deadLetters
        .length === 1,
    "the job to be dead-lettered",
  );
  assert.equal((await ledgerOf(jobId)).length, 1);
  const page = await openAdminPage("#dead-letters");
  const row = page.locator(`tr[data-job="${jobId}"]`);
  await row.getByRole("button", { name: "Retry" }).click();
  await confirm(page);
  await page.locator("#notice", { hasText: "Retried 1 of 1 dead letter" }).waitFor();
  await waitFor(async () => (await ledgerOf(jobId)).length === 2, "the retried job to run");
  await page.close();
});

test("cancel a running job from its page: the handler is aborted", { skip }, async () => {
  const job = await bundle.mesh.client.enqueue(bundle.mesh.queue, "hang", {});
  await waitFor(
    async () => (await call<JobLookup>(bundle.cp, "jobs.get", { jobId: job.jobId })).state === "running",
    "the job to run",
  );
  const page = await openAdminPage(`#jobs/${encodeURIComponent(job.jobId)}`);
  await page.locator("#job .badge-running").waitFor();
  await page.locator("#job").getByRole("button", { name: "Cancel" }).click();
  await confirm(page);
  await page
    .locator("#notice", { hasText: `Cancelled ${job.jobId}: acknowledged by 2 of 2 workers` })
    .waitFor();
  await waitFor(
    async () => (await ledgerOf(job.jobId)).some((e) => e.note?.startsWith("aborted")),
    "the abort",
  );
  await page.locator("#job .badge-cancelled").waitFor();
  await page.close();
});

test("admin actions are denied without the token, and a wrong token does not unlock them", {
  skip,
}, async () => {
  const { queue } = bundle.mesh;
  const page = await browser.newPage();
  await page.goto(bundle.url);
  const row = page.locator(`tr[data-queue="${queue}"]`);
  await row.getByRole("button", { name: "Pause" }).click();
  await confirm(page);
  await page.locator("#notice", { hasText: "Denied: admin actions need the admin token" }).waitFor();
  await page.waitForSelector("#unlock-dialog[open]");
  await page.fill("#unlock-dialog input[name=token]", "not-the-token-at-all");
  await page.click("#unlock-dialog button[value=unlock]");
  await page.locator("#unlock-dialog .error", { hasText: "not the console's admin token" }).waitFor();
  await page.click("#unlock-dialog button[value=cancel]");
  const detail = await call<QueueDetail>(bundle.cp, "queues.get", { queue });
  assert.equal(detail.pause.paused, false);
  // The page's own request machinery, used directly: refused without a session.
  const status = await page.evaluate(async () => {
    const response = await fetch("api/actions/queues.pause", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Jetmesh-Console": "1" },
      body: JSON.stringify({ queue: "anything" }),
    });
    return response.status;
  });
  assert.equal(status, 401);
  await page.close();
});

test("schedules from the page: pause, resume, and run one now, whose job runs", { skip }, async () => {
  const id = uniqueName("nightly");
  // Hourly from now: no run of its own falls within the test.
  await call(bundle.cp, "schedules.create", {
    id,
    queue: bundle.mesh.queue,
    name: "record",
    rule: { everyMs: 3_600_000 },
  });
  const page = await openAdminPage("#schedules");
  const row = page.locator(`tr[data-schedule="${id}"]`);
  await row.locator(".state", { hasText: "active" }).waitFor();
  await row.getByRole("button", { name: "Pause" }).click();
  await confirm(page);
  await row.locator(".state", { hasText: "paused" }).waitFor();
  assert.equal((await call(bundle.cp, "schedules.get", { id })).schedule.paused, true);
  await row.getByRole("button", { name: "Resume" }).click();
  await confirm(page);
  await row.locator(".state", { hasText: "active" }).waitFor();
  await row.getByRole("button", { name: "Run now" }).click();
  await confirm(page);
  await page
    .locator("#notice", { hasText: `Ran schedule ${id} now: enqueued job sched-${id}-manual-` })
    .waitFor();
  await waitFor(
    async () =>
      (await readLedger(bundle.mesh.nc)).some((entry) => entry.jobId.startsWith(`sched-${id}-manual-`)),
    "the job of the run to run",
  );
  await page.close();
});
