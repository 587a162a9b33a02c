// The console with 200 queues and 1,000 workers: views stay small (paged on the server) and the
// page pages through the fleet. Sizes are asserted, never times.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { heartbeat } from "../control-plane/support.ts";
import { waitFor } from "../support/harness.ts";
import { browserMissing, type ConsoleBundle, launchBrowser, startConsole } from "./support.ts";

const QUEUES = 200;
const WORKERS = 1000;
/** A view the page polls every second or two must stay well below this. */
const MAX_VIEW_BYTES = 64 * 1024;

let bundle: ConsoleBundle;
const queueName = (i: number) => `scale${String(i).padStart(3, "0")}`;

before(async () => {
  bundle = await startConsole({});
  for (let i = 0; i < QUEUES; i++) await bundle.mesh.client.queues.declare(queueName(i));
  for (let i = 0; i < WORKERS; i++) {
    const queue = queueName(i % QUEUES);
    bundle.mesh.nc.publish(
      `jetmesh.hb.w${String(i).padStart(4, "0")}`,
      JSON.stringify(
        heartbeat(`w${String(i).padStart(4, "0")}`, {
          // One heartbeat each, counted alive for the length of the test.
          intervalMs: 600_000,
          queues: [{ queue, concurrency: 10, running: 3, paused: false }],
          jobs: [0, 1, 2].map((j) => ({
            jobId: `w${i}-j${j}`,
            queue,
            name: "report",
            attempt: 1,
            startedAt: Date.now(),
          })),
        }),
      ),
    );
  }
  await bundle.mesh.nc.flush();
  await waitFor(async () => {
    const response = await fetch(new URL("api/workers?limit=1", bundle.url));
    return ((await response.json()) as { data: { total: number } }).data.total === WORKERS;
  }, "every heartbeat to be aggregated");
});

after(async () => {
  await bundle?.close();
});

async function sized(path: string): Promise<{ bytes: number; data: any }> {
  const response = await fetch(new URL(path, bundle.url));
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return { bytes: Buffer.byteLength(text), data: JSON.parse(text).data };
}

test("the overview and workers views stay small with 200 queues and 1,000 workers", async () => {
  const overview = await sized("api/overview");
  assert.ok(overview.data.totals.queues >= QUEUES);
  assert.equal(overview.data.queues.length, 50, "one page of queues");
  assert.ok(overview.bytes < MAX_VIEW_BYTES, `overview is ${overview.bytes} bytes`);
  const workers = await sized("api/workers");
  assert.equal(workers.data.total, WORKERS);
  assert.equal(workers.data.workers.length, 50, "one page of workers");
  assert.equal(workers.data.workers[0].jobs.length, 3);
  assert.ok(workers.bytes < MAX_VIEW_BYTES, `workers view is ${workers.bytes} bytes`);
  const last = await sized("api/workers?offset=950&limit=100");
  assert.equal(last.data.workers.length, 50);
  assert.equal(last.data.workers.at(-1).workerId, "w0999");
});

test("the page shows one page of workers at a time and pages through all of them", {
  skip: browserMissing(),
}, async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`${bundle.url}#workers`);
    await page.locator(".pager", { hasText: `1–50 of ${WORKERS}` }).waitFor();
    assert.equal(await page.locator("tr.worker").count(), 50);
    await page.getByRole("button", { name: "Next ›" }).click();
    await page.locator(".pager", { hasText: `51–100 of ${WORKERS}` }).waitFor();
    await page.locator('tr[data-worker="w0050"]').waitFor();
    await page.fill('input[type="search"]', "w0999");
    await page.locator(".pager", { hasText: "1–1 of 1" }).waitFor();
    await page.goto(`${bundle.url}#overview`);
    await page.locator(".pager", { hasText: `1–50 of ${QUEUES + 1}` }).waitFor();
  } finally {
    await browser.close();
  }
});
