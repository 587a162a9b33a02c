// Acceptance (traces and logs): producer and consumer spans are linked across NATS, one consumer
// span per attempt with the failure recorded; a job's log lines carry its ids and trace ids.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import { defineJob, Worker } from "../../runtime/index.ts";
import { collectEvents, type MeshBundle, setupMesh, waitFor } from "../support/harness.ts";

const exporter = new InMemorySpanExporter();
const logLines: Record<string, unknown>[] = [];
let mesh: MeshBundle;
let worker: Worker;

before(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
  mesh = await setupMesh();
  const capture = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  const failOnce = defineJob<{ tag: string }>({
    name: "traced.job",
    backoff: { type: "fixed", delayMs: 50 },
    run: (payload, ctx) => {
      ctx.logger.info({ tag: payload.tag }, "handling");
      if (ctx.attempt === 1) throw new TypeError("first attempt fails");
    },
  });
  worker = await Worker.start({
    connection: mesh.nc,
    queues: [mesh.queue],
    jobs: [failOnce],
    logger: pino({ level: "info" }, capture),
  });
});

after(async () => {
  await worker.close();
  await mesh.close();
  trace.disable();
  propagation.disable();
  context.disable();
});

test("one trace: producer span, then a consumer span per attempt, the failed one marked as error", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jobId } = await mesh.client.enqueue(mesh.queue, "traced.job", { tag: "t1" });
  await waitFor(() => events.some((e) => e.jobId === jobId && e.type === "completed"), "the job to complete");
  await waitFor(
    () => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER).length >= 2,
    "two consumer spans",
  );

  const spans = exporter.getFinishedSpans().filter((s) => s.attributes["messaging.message.id"] === jobId);
  const producer = spans.filter((s) => s.kind === SpanKind.PRODUCER);
  const consumers = spans.filter((s) => s.kind === SpanKind.CONSUMER);
  assert.equal(producer.length, 1);
  assert.equal(consumers.length, 2);
  const traceId = producer[0]!.spanContext().traceId;
  for (const span of consumers) {
    assert.equal(span.spanContext().traceId, traceId, "same trace across NATS");
    assert.equal(
      span.parentSpanContext?.spanId,
      producer[0]!.spanContext().spanId,
      "child of the producer span",
    );
    assert.equal(span.attributes["messaging.system"], "nats");
  }
  const [first, second] = consumers.sort(
    (a, b) => Number(a.attributes["jetmesh.attempt"]) - Number(b.attributes["jetmesh.attempt"]),
  );
  assert.equal(first!.status.code, SpanStatusCode.ERROR);
  assert.match(first!.status.message ?? "", /first attempt fails/);
  assert.ok(
    first!.events.some((e) => e.name === "exception"),
    "the exception is recorded",
  );
  assert.equal(second!.status.code, SpanStatusCode.UNSET);

  const lines = logLines.filter((line) => line.jobId === jobId && line.msg === "handling");
  assert.equal(lines.length, 2, "one log line per attempt");
  for (const line of lines) {
    assert.equal(line.queue, mesh.queue);
    assert.equal(line.jobName, "traced.job");
    assert.equal(line.workerId, worker.id);
    assert.equal(line.traceId, traceId);
    assert.match(String(line.spanId), /^[0-9a-f]{16}$/);
    assert.equal(line.tag, "t1");
  }
  assert.deepEqual(
    lines.map((line) => line.attempt),
    [1, 2],
  );
});

test("a job from a foreign producer without trace headers starts a new trace", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jetstream } = await import("@nats-io/jetstream");
  await jetstream(mesh.nc).publish(`jetmesh.q.${mesh.queue}.traced.job`, JSON.stringify({ tag: "raw" }), {
    msgID: "raw-trace",
  });
  await waitFor(
    () => events.some((e) => e.jobId === "raw-trace" && e.type === "completed"),
    "the raw job to complete",
  );
  const consumers = exporter
    .getFinishedSpans()
    .filter((s) => s.attributes["messaging.message.id"] === "raw-trace" && s.kind === SpanKind.CONSUMER);
  assert.equal(consumers.length, 2);
  assert.equal(consumers[0]!.parentSpanContext, undefined, "a root span");
});
