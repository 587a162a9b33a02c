// OpenTelemetry spans that follow a job from producer to worker through NATS headers (W3C Trace
// Context). The library depends only on @opentelemetry/api: without an SDK every call here is a
// no-op object, so tracing costs next to nothing until an entry point sets one up.
import {
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";
import { VERSION } from "../version.ts";
import type { JobEnvelope } from "../wire/job-message.ts";

// A proxy: spans go to whichever SDK is registered later, and to nothing until then.
const jetmeshTracer = trace.getTracer("jetmesh", VERSION);
const tracer = () => jetmeshTracer;

let sdkRegistered = false;

/**
 * Whether an OpenTelemetry SDK has registered a tracer provider. Until one has, spans, their
 * attributes and context switches are skipped outright: they would be no-op objects built per
 * job. Once registered, a provider stays (it can only be replaced), so the answer is kept.
 */
function tracingActive(): boolean {
  if (sdkRegistered) return true;
  const provider = trace.getTracerProvider();
  sdkRegistered =
    !(provider instanceof ProxyTracerProvider) ||
    provider.getDelegateTracer("jetmesh", VERSION) !== undefined;
  return sdkRegistered;
}

const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
const NO_TRACE_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

const recordGetter: TextMapGetter<Record<string, string | undefined>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** Starts the producer span of an enqueue and returns the headers that carry its context. */
export function startEnqueueSpan(
  queue: string,
  name: string,
  jobId: string,
  subject: string,
): { span: Span; headers: Readonly<Record<string, string>> } {
  if (!tracingActive()) return { span: NO_SPAN, headers: NO_TRACE_HEADERS };
  const span = tracer().startSpan(`publish ${queue}`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      "messaging.system": "nats",
      "messaging.operation.type": "send",
      "messaging.destination.name": subject,
      "messaging.message.id": jobId,
      "jetmesh.queue": queue,
      "jetmesh.job.name": name,
    },
  });
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), headers);
  return { span, headers };
}

export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
  }
  span.end();
}

/** One attempt of a job as a consumer span, continuing the producer's trace when it sent one. */
export interface AttemptSpan {
  span: Span;
  /** The context to run the handler in, so its own spans nest under the attempt. */
  context: Context;
  /** Ids for log lines; undefined when no SDK records spans. */
  traceId: string | undefined;
  spanId: string | undefined;
}

/** Undefined when no SDK is registered: there is nothing to record or to run the handler in. */
export function startAttemptSpan(envelope: JobEnvelope, subject: string): AttemptSpan | undefined {
  if (!tracingActive()) return undefined;
  const carrier = { traceparent: envelope.traceParent, tracestate: envelope.traceState };
  const parent =
    envelope.traceParent === undefined
      ? context.active()
      : propagation.extract(context.active(), carrier, recordGetter);
  const span = tracer().startSpan(
    `process ${envelope.queue}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.destination.name": subject,
        "messaging.message.id": envelope.id,
        "jetmesh.queue": envelope.queue,
        "jetmesh.job.name": envelope.name,
        "jetmesh.attempt": envelope.attempt,
      },
    },
    parent,
  );
  const spanContext = span.spanContext();
  const recording = span.isRecording();
  return {
    span,
    context: trace.setSpan(parent, span),
    traceId: recording ? spanContext.traceId : undefined,
    spanId: recording ? spanContext.spanId : undefined,
  };
}

/** Runs `fn` with `ctx` as the active context. */
export function runInContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}
