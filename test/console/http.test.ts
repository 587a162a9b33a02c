// The console over plain HTTP, served by the control plane on its HTTP port: who may act
// (token, session cookie, same-origin POSTs, read-only mode), what the views return (paged,
// redacted, trace links), and the failure patterns. The browser tests drive the same routes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { buildControlPlane, type CommandResult, type ControlPlane } from "../../control-plane/index.ts";
import { call, publishDeadLetter, quietLogger, SimulatedWorker } from "../control-plane/support.ts";
import { uniqueName, waitFor } from "../support/harness.ts";
import { type ConsoleBundle, startConsole, startConsoleReplica, TOKEN } from "./support.ts";

let bundle: ConsoleBundle;
let readOnly: { cp: ControlPlane; url: string };
let worker: SimulatedWorker;
let origin: string;

before(async () => {
  bundle = await startConsole({
    token: TOKEN,
    traceUrlTemplate: "https://traces.example/trace/{traceId}",
    redactKeys: ["password", "card"],
  });
  readOnly = await startConsoleReplica(bundle.mesh.server.url, {});
  origin = new URL(bundle.url).origin;
  worker = new SimulatedWorker(bundle.mesh.nc, uniqueName("w"), [bundle.mesh.queue]).start();
  await waitFor(async () => (await call(bundle.cp, "workers.list")).length === 1, "the worker");
});

after(async () => {
  worker.stop();
  await readOnly.cp.stop();
  await bundle.close();
});

function post(path: string, body: unknown, headers: Record<string, string> = {}, base = bundle.url) {
  return fetch(new URL(path, base), {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

const sameOrigin = () => ({ "X-Jetmesh-Console": "1", Origin: origin });

async function login(): Promise<string> {
  const response = await post("api/session", { token: TOKEN }, sameOrigin());
  assert.equal(response.status, 200);
  const cookie = response.headers.get("set-cookie") ?? "";
  return cookie.split(";")[0] ?? "";
}

async function view<T = any>(path: string, base = bundle.url): Promise<T> {
  const response = await fetch(new URL(path, base));
  const body = (await response.json()) as { ok: boolean; data: T; error?: { message: string } };
  assert.equal(response.status, 200, body.error?.message);
  return body.data;
}

test("the page and its assets come from the control plane, with a strict content security policy", async () => {
  const page = await fetch(bundle.url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<script type="module" src="js\/app.js">/);
  const csp = page.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  const script = await fetch(new URL("js/app.js", bundle.url));
  assert.equal(script.status, 200);
  assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
  assert.equal((await fetch(new URL("../../etc/passwd", bundle.url))).status, 404);
  assert.equal((await fetch(new URL("api/constructor", bundle.url))).status, 404);
  // /metrics and /healthz stay where they were on the same port.
  assert.equal((await fetch(new URL("/healthz", bundle.url))).status, 200);
});

test("a session needs the token: wrong tokens are refused; the cookie is random, HttpOnly and SameSite=Strict", async () => {
  const wrong = await post("api/session", { token: "x".repeat(TOKEN.length) }, sameOrigin());
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get("set-cookie"), null);
  const first = await post("api/session", { token: TOKEN }, sameOrigin());
  const second = await post("api/session", { token: TOKEN }, sameOrigin());
  const cookie = first.headers.get("set-cookie") ?? "";
  assert.match(cookie, /^jetmesh_console=[A-Za-z0-9_-]{43}; /);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.match(cookie, /Path=\/console/);
  assert.notEqual(cookie.split(";")[0], second.headers.get("set-cookie")?.split(";")[0]);
});

test("admin actions need a session, the console's header and the console's own origin", async () => {
  const cookie = await login();
  const queue = bundle.mesh.queue;
  const noSession = await post("api/actions/queues.pause", { queue }, sameOrigin());
  assert.equal(noSession.status, 401);
  const forged = await post(
    "api/actions/queues.pause",
    { queue },
    { ...sameOrigin(), Cookie: "jetmesh_console=guess" },
  );
  assert.equal(forged.status, 401);
  const noHeader = await post("api/actions/queues.pause", { queue }, { Origin: origin, Cookie: cookie });
  assert.equal(noHeader.status, 403);
  const otherSite = await post(
    "api/actions/queues.pause",
    { queue },
    { "X-Jetmesh-Console": "1", Origin: "https://evil.example", Cookie: cookie },
  );
  assert.equal(otherSite.status, 403);
  const notAnAction = await post(
    "api/actions/jobs.enqueue",
    { queue, name: "x" },
    { ...sameOrigin(), Cookie: cookie },
  );
  assert.equal(notAnAction.status, 404);
  assert.equal((await call(bundle.cp, "queues.get", { queue })).pause.paused, false, "nothing was paused");

  const paused = await post(
    "api/actions/queues.pause",
    { queue, by: "mallory" },
    { ...sameOrigin(), Cookie: cookie },
  );
  assert.equal(paused.status, 200);
  const result = ((await paused.json()) as { data: CommandResult }).data;
  assert.equal(result.acknowledged, 1);
  assert.equal(result.command.by, "console", "the console names itself as the issuer");
  // Through a reverse proxy that rewrote Host: the browser's host arrives as X-Forwarded-Host.
  const proxied = {
    "X-Jetmesh-Console": "1",
    Origin: "https://console.example",
    "X-Forwarded-Host": "console.example",
    Cookie: cookie,
  };
  const resumed = await post("api/actions/queues.resume", { queue }, proxied);
  assert.equal(resumed.status, 200);

  const logout = await post("api/logout", {}, { ...sameOrigin(), Cookie: cookie });
  assert.match(logout.headers.get("set-cookie") ?? "", /Max-Age=0/);
  const after = await post("api/actions/queues.pause", { queue }, { ...sameOrigin(), Cookie: cookie });
  assert.equal(after.status, 401, "the session ended with the logout");
});

test("a console without a token is read-only: it shows everything and refuses every action", async () => {
  const session = await view<{ mode: string }>("api/session", readOnly.url);
  assert.equal(session.mode, "read-only");
  const readOnlyOrigin = { "X-Jetmesh-Console": "1", Origin: new URL(readOnly.url).origin };
  assert.equal((await post("api/session", { token: TOKEN }, readOnlyOrigin, readOnly.url)).status, 403);
  const action = await post(
    "api/actions/queues.pause",
    { queue: bundle.mesh.queue },
    readOnlyOrigin,
    readOnly.url,
  );
  assert.equal(action.status, 403);
  const overview = await view<{ queues: { queue: string }[] }>("api/overview", readOnly.url);
  assert.ok(overview.queues.some((row) => row.queue === bundle.mesh.queue));
});

test("a console token shorter than 16 characters is refused at start", async () => {
  const cp = buildControlPlane({
    connection: { servers: bundle.mesh.server.url },
    logger: quietLogger,
    httpPort: 0,
    httpHost: "127.0.0.1",
    console: { token: "short" },
  });
  await assert.rejects(cp.start(), /at least 16 characters/);
  await cp.stop();
});

test("views page long lists on the server", async () => {
  const queues = Array.from({ length: 7 }, (_, i) => `page${i}_${uniqueName("")}`);
  for (const queue of queues) await bundle.mesh.client.queues.declare(queue);
  const first = await view<{ total: number; queues: { queue: string }[] }>("api/overview?q=page&limit=5");
  assert.equal(first.total, 7);
  assert.equal(first.queues.length, 5);
  const second = await view<{ total: number; queues: { queue: string }[]; offset: number }>(
    "api/overview?q=page&limit=5&offset=5",
  );
  assert.equal(second.queues.length, 2);
  assert.deepEqual([...first.queues, ...second.queues].map((row) => row.queue).sort(), [...queues].sort());
  const workers = await view<{ total: number; workers: { workerId: string; utilisation: number | null }[] }>(
    "api/workers?limit=1",
  );
  assert.equal(workers.total, 1);
  assert.equal(workers.workers[0]?.workerId, worker.id);
});

test("dead letters show redacted payloads and headers, trace links, and failure patterns by error class", async () => {
  const queue = bundle.mesh.queue;
  const jobId = uniqueName("job");
  const seq = await publishDeadLetter(bundle.mesh.nc, {
    queue,
    name: "charge",
    jobId,
    errorClass: "CardDeclined",
    payload: { order: 17, card: { number: "4111111111111111" }, customer: { password: "hunter2" } },
  });
  await publishDeadLetter(bundle.mesh.nc, {
    queue,
    name: "charge",
    jobId: uniqueName("job"),
    errorClass: "CardDeclined",
  });
  await publishDeadLetter(bundle.mesh.nc, {
    queue,
    name: "ship",
    jobId: uniqueName("job"),
    errorClass: "Timeout",
  });

  const letter = await view<{ payload: any; traceId: string; traceUrl: string; stack: string }>(
    `api/dead-letter?seq=${seq}`,
  );
  assert.deepEqual(letter.payload, { order: 17, card: "[redacted]", customer: { password: "[redacted]" } });
  assert.equal(letter.traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(letter.traceUrl, "https://traces.example/trace/0af7651916cd43dd8448eb211c80319c");
  assert.match(letter.stack, /CardDeclined: boom/);

  const job = await view<{ lookup: { state: string }; deadLetter: { payload: any } }>(`api/job?id=${jobId}`);
  assert.equal(job.lookup.state, "dead");
  assert.equal(job.deadLetter.payload.card, "[redacted]");

  const list = await view<{ total: number; deadLetters: { seq: number }[]; errorClasses: string[] }>(
    `api/dead-letters?queue=${queue}&errorClass=CardDeclined`,
  );
  assert.equal(list.total, 2);
  assert.deepEqual(list.errorClasses, ["CardDeclined"]);
  assert.ok(list.deadLetters[0]!.seq > list.deadLetters[1]!.seq, "newest first");

  const failures = await view<{
    dead: { patterns: { queue: string; errorClass: string; count: number; names: string[] }[] };
  }>("api/failures");
  const mine = failures.dead.patterns.filter((p) => p.queue === queue);
  assert.deepEqual(
    mine.map((p) => [p.errorClass, p.count, p.names]),
    [
      ["CardDeclined", 2, ["charge"]],
      ["Timeout", 1, ["ship"]],
    ],
  );
  const missing = await fetch(new URL("api/job?id=nope-nothing", bundle.url));
  assert.equal(missing.status, 404);
});

test("error rates and failure classes of failed attempts come from the stats endpoint", async () => {
  const queue = uniqueName("events");
  await bundle.mesh.client.queues.declare(queue);
  const event = (type: string, fields: Record<string, unknown> = {}) =>
    bundle.mesh.nc.publish(
      `jetmesh.evt.${queue}.${type}`,
      JSON.stringify({
        type,
        jobId: uniqueName("j"),
        queue,
        name: "sync",
        attempt: 1,
        workerId: "w",
        at: Date.now(),
        ...fields,
      }),
    );
  for (let i = 0; i < 3; i++) event("completed", { durationMs: 5 });
  event("failed", {
    durationMs: 5,
    error: { class: "UpstreamDown", message: "upstream 503", kind: "handler" },
  });
  await bundle.mesh.nc.flush();
  const row = await waitFor(async () => {
    const overview = await view<{ queues: { queue: string; errorRate: number | null }[] }>(
      `api/overview?q=${queue}`,
    );
    const found = overview.queues.find((r) => r.queue === queue);
    return found?.errorRate !== null ? found : undefined;
  }, "the error rate");
  assert.equal(row.errorRate, 0.25);
  const failures = await waitFor(async () => {
    const data = await view<{
      live: { queue: string; errorClass: string; last5m: number; last30m: number; names: string[] }[];
    }>("api/failures");
    const mine = data.live.filter((p) => p.queue === queue);
    return mine.length > 0 ? mine : undefined;
  }, "the failure class");
  assert.deepEqual(
    failures.map((p) => [p.errorClass, p.last5m, p.last30m, p.names]),
    [["UpstreamDown", 1, 1, ["sync"]]],
  );
  const detail = await view<{ jobs: { name: string; completed: number; failed: number }[] }>(
    `api/queue?queue=${queue}`,
  );
  assert.deepEqual(
    detail.jobs.map((job) => [job.name, job.completed, job.failed]),
    [["sync", 3, 1]],
  );
});

test("dead letters are retried or purged one, a selection, or a whole filter at a time", async () => {
  const cookie = await login();
  const queue = uniqueName("dlq");
  await bundle.mesh.client.queues.declare(queue);
  const seqs: number[] = [];
  for (const errorClass of ["A", "A", "B", "B", "B"])
    seqs.push(
      await publishDeadLetter(bundle.mesh.nc, { queue, name: "job", jobId: uniqueName("j"), errorClass }),
    );
  const act = async (endpoint: string, body: Record<string, unknown>) => {
    const response = await post(`api/actions/${endpoint}`, body, { ...sameOrigin(), Cookie: cookie });
    assert.equal(response.status, 200);
    return ((await response.json()) as { data: any }).data;
  };
  const dry = await act("dlq.purge", { queue, errorClass: "B", dryRun: true });
  assert.deepEqual([dry.matched, dry.purged], [3, 0]);
  assert.equal((await act("dlq.purge", { seqs: [seqs[0]] })).purged, 1);
  assert.equal((await act("dlq.purge", { seqs: [seqs[2], seqs[3]] })).purged, 2);
  const retried = await act("dlq.retry", { queue, errorClass: "A" });
  assert.equal(retried.retried.length, 1);
  const left = await view<{ total: number; deadLetters: { seq: number }[] }>(
    `api/dead-letters?queue=${queue}`,
  );
  assert.deepEqual(
    left.deadLetters.map((letter) => letter.seq),
    [seqs[4]],
  );
});
