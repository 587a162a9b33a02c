// Lifecycle events of one event-loop turn leave a worker as one message per subject (newline-
// separated JSON), and every listener reads them: the test harness, the control plane's stats and
// job outcomes. A lone event stays a plain JSON object; a malformed line costs only itself.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { pino } from "pino";
import type { ControlPlane, JobLookup, StatsReport } from "../../control-plane/index.ts";
import {
  defineJob,
  type LifecycleEvent,
  parseLifecycleEvents,
  Subjects,
  Worker,
} from "../../runtime/index.ts";
import type { JobEnvelope } from "../../runtime/wire/job-message.ts";
import { EventPublisher } from "../../runtime/worker/event-publisher.ts";
import { call, startControlPlane } from "../control-plane/support.ts";
import { collectEvents, type MeshBundle, setupMesh, uniqueName, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
let cp: ControlPlane;

before(async () => {
  mesh = await setupMesh();
  cp = await startControlPlane(mesh.server.url);
});

after(async () => {
  await cp.stop();
  await mesh.close();
});

/** Every message on the queue's event subjects, as received. */
function collectMessages(queue: string): { subject: string; text: string }[] {
  const messages: { subject: string; text: string }[] = [];
  mesh.nc.subscribe(`jetmesh.evt.${queue}.*`, {
    callback: (_error, msg) => {
      messages.push({ subject: msg.subject, text: msg.string() });
    },
  });
  return messages;
}

/** The control plane's record of a job, once it says completed. */
function completedOutcome(jobId: string): Promise<JobLookup> {
  return waitFor(async () => {
    const reply = await cp.call("jobs.get", { jobId });
    const found = reply.ok ? (reply.data as JobLookup) : undefined;
    return found?.state === "completed" ? found : undefined;
  }, `the control plane's outcome of ${jobId}`);
}

function envelope(queue: string, id: string): JobEnvelope {
  return {
    id,
    queue,
    name: "burst",
    attempt: 1,
    maxAttempts: undefined,
    timeoutMs: undefined,
    enqueuedAt: undefined,
    dueAt: undefined,
    contentType: undefined,
    traceParent: undefined,
    traceState: undefined,
  };
}

test("a burst of jobs completing together takes fewer messages, and every listener sees every job", async () => {
  const queue = uniqueName("burst");
  await mesh.client.queues.declare(queue);
  const jobs = 200;
  const ids = (
    await mesh.client.enqueueMany(
      Array.from({ length: jobs }, (_, i) => ({ queue, name: "instant", payload: { i } })),
    )
  ).map((result) => result.jobId);
  const messages = collectMessages(queue);
  const events = collectEvents(mesh.nc, queue);
  await mesh.nc.flush();
  const worker = await Worker.start({
    connection: mesh.nc,
    queues: [queue],
    jobs: [defineJob({ name: "instant", run: () => {} })],
    concurrency: 100,
  });
  try {
    const completed = () => new Set(events.filter((e) => e.type === "completed").map((e) => e.jobId));
    await waitFor(() => completed().size === jobs, "a completed event of every job");
    assert.deepEqual([...completed()].sort(), [...ids].sort());
    assert.ok(messages.length < jobs, `${messages.length} event messages for ${jobs} jobs`);
    assert.ok(
      messages.some((m) => m.text.includes("\n")),
      "at least one message carries several events",
    );

    // The control plane reads the batches too: its outcome of every job and its counts.
    await waitFor(async () => {
      const report = await call<StatsReport>(cp, "stats", { queue });
      return report.queues[0]?.total.completed === jobs;
    }, "the control plane's stats to count every job");
    for (const jobId of ids) {
      const lookup = await completedOutcome(jobId);
      assert.equal(lookup.queue, queue);
    }
  } finally {
    await worker.close();
  }
});

test("events published in one turn leave as one message per subject, at most 256 events each, in order", async () => {
  const queue = uniqueName("turn");
  const messages = collectMessages(queue);
  await mesh.nc.flush();
  const publisher = new EventPublisher(mesh.nc, new Subjects(), "w-turn", pino({ level: "silent" }));
  const completed = Array.from({ length: 300 }, (_, i) => envelope(queue, `done-${i}`));
  const failed = envelope(queue, "fails");
  publisher.publish("retrying", envelope(queue, "earlier"), { retryInMs: 5 });
  for (const job of completed) publisher.publish("completed", job, { durationMs: 1 });
  publisher.publish("started", failed);
  publisher.publish("failed", failed, { error: { class: "Error", message: "no", kind: "handler" } });
  publisher.publish("retrying", failed, { retryInMs: 10 });

  const all = () => messages.flatMap((m) => parseLifecycleEvents(m.text));
  await waitFor(() => all().length === 304, "every event of the turn");
  await mesh.nc.flush();
  const events = all();
  assert.equal(events.length, 304);
  // 300 completed events: 256 in one message, 44 in the next.
  const counts = messages.map((m) => `${m.subject.split(".").at(-1)}:${parseLifecycleEvents(m.text).length}`);
  assert.ok(counts.includes("completed:256") && counts.includes("completed:44"), counts.join(" "));
  assert.equal(messages.length, 6, counts.join(" "));
  // The failed job's story keeps its order, although its `retrying` shares no message with the
  // earlier job's: the first `retrying` message went out before `started` was published.
  const story = events.filter((e) => e.jobId === "fails").map((e) => e.type);
  assert.deepEqual(story, ["started", "failed", "retrying"]);
  assert.deepEqual(
    events.filter((e) => e.type === "completed").map((e) => e.jobId),
    completed.map((job) => job.id),
  );
});

test("a lone event is a plain JSON object, as before", async () => {
  const queue = uniqueName("lone");
  const messages = collectMessages(queue);
  await mesh.nc.flush();
  const publisher = new EventPublisher(mesh.nc, new Subjects(), "w-lone", pino({ level: "silent" }));
  publisher.publish("completed", envelope(queue, "only"), { durationMs: 3, waitMs: 2 });
  await waitFor(() => messages.length === 1, "the event");
  const [message] = messages;
  assert.equal(message?.subject, `jetmesh.evt.${queue}.completed`);
  assert.ok(!message.text.includes("\n"));
  const event = JSON.parse(message.text) as LifecycleEvent;
  assert.deepEqual(
    { type: event.type, jobId: event.jobId, durationMs: event.durationMs, waitMs: event.waitMs },
    { type: "completed", jobId: "only", durationMs: 3, waitMs: 2 },
  );
});

test("a malformed line in a batch costs only itself, for the helper and the control plane", async () => {
  const queue = uniqueName("mixed");
  await mesh.client.queues.declare(queue);
  const event = (jobId: string) =>
    JSON.stringify({
      type: "completed",
      jobId,
      queue,
      name: "mixed",
      attempt: 1,
      workerId: "w",
      at: Date.now(),
    });
  const body = [event("good-1"), "{not json", "42", event("good-2"), ""].join("\n");
  assert.deepEqual(
    parseLifecycleEvents(body).map((e) => e.jobId),
    ["good-1", "good-2"],
  );
  assert.deepEqual(
    parseLifecycleEvents(new TextEncoder().encode(body)).map((e) => e.jobId),
    ["good-1", "good-2"],
  );

  // One event written by hand over several lines is still one event.
  const pretty = JSON.stringify({ type: "completed", jobId: "by-hand", queue, name: "mixed" }, null, 2);
  assert.deepEqual(
    parseLifecycleEvents(pretty).map((e) => e.jobId),
    ["by-hand"],
  );

  mesh.nc.publish(`jetmesh.evt.${queue}.completed`, body);
  for (const jobId of ["good-1", "good-2"]) {
    await completedOutcome(jobId);
  }
  const report = await waitFor(async () => {
    const stats = await call<StatsReport>(cp, "stats", { queue });
    return stats.queues[0]?.total.completed === 2 ? stats : undefined;
  }, "both good events to be counted");
  assert.equal(report.queues[0]?.total.completed, 2);
});
