// OpenTelemetry for jetmesh's processes (worker, control plane): when the standard OTEL_*
// variables ask for an exporter, start the Node SDK (it reads them itself). The SDK is imported
// only then: without them nothing is loaded or set up, and the library's tracing (which uses
// @opentelemetry/api alone) stays a no-op.
import type { Logger } from "pino";

export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === "true") return false;
  const exporter = env.OTEL_TRACES_EXPORTER;
  if (exporter !== undefined && exporter !== "" && exporter !== "none") return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** Starts the SDK when requested; returns a function that flushes and stops it. */
export async function startTelemetry(logger: Logger, serviceName: string): Promise<() => Promise<void>> {
  if (!tracingRequested()) return async () => {};
  process.env.OTEL_SERVICE_NAME ||= serviceName;
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const sdk = new NodeSDK();
  sdk.start();
  logger.info({ exporter: process.env.OTEL_TRACES_EXPORTER ?? "otlp" }, "OpenTelemetry tracing started");
  return () => sdk.shutdown();
}
