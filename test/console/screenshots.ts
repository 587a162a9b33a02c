// Regenerates docs/console/*.png (`npm run console:screenshots`): a local mesh with three
// queues, two worker processes running the test fixtures under a mixed workload (slow jobs,
// retries, dead letters), and headless Chromium photographing each view of the console.
import { mkdirSync } from "node:fs";
import { JetmeshClient } from "../../runtime/index.ts";
import { publishDeadLetter } from "../control-plane/support.ts";
import { createLedger, NatsServer, WorkerProcess, waitFor } from "../support/harness.ts";
import { browserMissing, launchBrowser, startConsoleReplica, TOKEN } from "./support.ts";

const OUT = "docs/console";
const QUEUES = ["emails", "billing", "reports"];
/** How long the workload runs before the first photo, so the charts have a history. */
const WARM_UP_MS = 60_000;

async function main(): Promise<void> {
  const missing = browserMissing();
  if (missing !== undefined) throw new Error(missing);
  mkdirSync(OUT, { recursive: true });
  const server = await NatsServer.start();
  const client = await JetmeshClient.connect({ connection: { servers: server.url } });
  const workers: WorkerProcess[] = [];
  let producing = true;
  try {
    for (const queue of QUEUES) await client.queues.declare(queue, { maxJobs: 50_000 });
    await createLedger(client.nc);
    const { cp, url } = await startConsoleReplica(server.url, {
      token: TOKEN,
      traceUrlTemplate: "https://tempo.example/trace/{traceId}",
    });
    const env = {
      JETMESH_QUEUES: QUEUES.join(","),
      JETMESH_CONCURRENCY: "4",
      JETMESH_HEARTBEAT_INTERVAL_MS: "1000",
    };
    workers.push(await WorkerProcess.start(server.url, env), await WorkerProcess.start(server.url, env));

    // Written as a worker writes it, with a stack of the application's own (not this machine's paths).
    const dead = { jobId: "order-1042-charge" };
    await publishDeadLetter(client.nc, {
      queue: "billing",
      name: "charge",
      jobId: dead.jobId,
      errorClass: "CardDeclined",
      message: "card declined by issuer (code 05)",
      payload: { order: 1042, amount: 1999, card: { number: "4111111111111111", expiry: "12/29" } },
      stack:
        "CardDeclined: card declined by issuer (code 05)\n    at charge (src/billing/charge.ts:42:11)\n    at run (src/billing/jobs.ts:17:5)",
    });
    const schedules = [
      {
        id: "nightly-report",
        queue: "reports",
        name: "slow",
        payload: { ms: 1000 },
        rule: { cron: "0 3 * * *" },
      },
      {
        id: "digest-emails",
        queue: "emails",
        name: "slow",
        payload: { ms: 200 },
        rule: { everyMs: 15 * 60_000 },
      },
      {
        id: "invoice-run",
        queue: "billing",
        name: "slow",
        payload: { ms: 500 },
        rule: { cron: "0 6 1 * *", timezone: "Europe/Berlin" },
        paused: true,
      },
    ];
    for (const schedule of schedules) await cp.call("schedules.create", schedule);
    await cp.call("schedules.run-now", { id: "digest-emails" });
    const workload = (async () => {
      for (let tick = 0; producing; tick++) {
        await client.enqueue("emails", "slow", { ms: 300 + (tick % 5) * 200 });
        await client.enqueue("emails", "slow", { ms: 500 });
        if (tick % 2 === 0) await client.enqueue("reports", "slow", { ms: 4000 });
        // A burst now and then, so the charts show a backlog building and draining.
        if (tick % 25 === 0)
          await client.enqueueMany(
            Array.from({ length: 80 }, () => ({ queue: "emails", name: "slow", payload: { ms: 600 } })),
          );
        if (tick % 3 === 0) await client.enqueue("billing", "flaky", { failUntil: 2 });
        if (tick % 7 === 0)
          await client.enqueue(
            "billing",
            "always.fail",
            { errorClass: "GatewayTimeout" },
            { maxAttempts: 2 },
          );
        if (tick % 11 === 0)
          await client.enqueue("emails", "always.fail", { errorClass: "SmtpRejected" }, { maxAttempts: 1 });
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
    })();
    await waitFor(async () => (await cp.call("jobs.get", { jobId: dead.jobId })).ok, "the dead job", 30_000);
    console.log(`warming up for ${WARM_UP_MS / 1000} s at ${url}`);
    const browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    await page.goto(url);
    await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
    await page.click("#unlock");
    await page.fill("#unlock-dialog input[name=token]", TOKEN);
    await page.click("#unlock-dialog button[value=unlock]");
    await page.waitForSelector(".badge-admin");
    await page.reload(); // the session cookie stays; the "unlocked" notice goes
    const shots: [string, string, string][] = [
      ["overview", "#overview", "tr[data-queue=emails]"],
      ["queue", "#queue/reports", "tr[data-job]"],
      ["workers", "#workers", "tr.worker"],
      ["job", `#jobs/${dead.jobId}`, "#job .badge-dead"],
      ["dead-letters", "#dead-letters", "tr[data-seq]"],
      ["failures", "#failures", "tr[data-pattern]"],
      ["schedules", "#schedules", "tr[data-schedule]"],
    ];
    for (const [name, hash, ready] of shots) {
      await page.goto(`${url}${hash}`);
      await page.waitForSelector(ready, { timeout: 30_000 });
      await page.waitForTimeout(2000); // one more refresh, so the photo is of a settled view
      await page.screenshot({ path: `${OUT}/${name}.png`, fullPage: name !== "dead-letters" });
      console.log(`${OUT}/${name}.png`);
    }
    await browser.close();
    producing = false;
    await workload;
    await cp.stop();
  } finally {
    producing = false;
    await Promise.all(workers.map((worker) => worker.kill()));
    await client.close();
    await server.stop();
  }
}

await main();
