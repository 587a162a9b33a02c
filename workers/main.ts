// The worker process: reads its configuration from the environment, loads the handler modules,
// serves the configured queues, and drains on SIGTERM/SIGINT before exiting 0.
import { createLogger, startMetricsServer, startTelemetry, Worker, WorkerMetrics } from "../runtime/index.ts";
import { ConfigError, loadJobs, readWorkerConfig } from "./config.ts";

const logger = createLogger({ service: "jetmesh-worker" });

let worker: Worker | undefined;
let stopRequested = false;

function close(running: Worker): void {
  running.close().catch((error: unknown) => {
    logger.error({ err: error }, "shutdown failed");
    process.exit(1);
  });
}

// Installed before start-up: a signal while the worker connects must still end in a clean exit.
let signals = 0;
const shutdown = (signal: NodeJS.Signals) => {
  signals++;
  if (signals > 1) {
    logger.warn({ signal }, "second signal: exiting now; running jobs will be redelivered");
    process.exit(1);
  }
  logger.info({ signal }, "draining");
  stopRequested = true;
  if (worker !== undefined) close(worker);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

async function main(): Promise<void> {
  const config = readWorkerConfig();
  const stopTelemetry = await startTelemetry(logger, "jetmesh-worker");
  const jobs = await loadJobs(config.handlerModules);
  const metrics = config.metricsPort === 0 ? undefined : new WorkerMetrics();
  worker = await Worker.start({
    connection: config.connection,
    prefix: config.prefix,
    queues: config.queues,
    jobs,
    concurrency: config.concurrency,
    prefetch: config.prefetch,
    priority: config.priority,
    maxPayloadBytes: config.maxPayloadBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    events: config.events,
    workerId: config.workerId,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    metrics,
    logger,
  });
  const metricsServer =
    metrics === undefined
      ? undefined
      : await startMetricsServer(metrics.registry, { port: config.metricsPort, host: config.metricsHost });
  if (metricsServer !== undefined) logger.info({ port: metricsServer.port }, "serving /metrics and /healthz");
  // A drain command closes the worker from inside; SIGTERM/SIGINT close it from outside.
  worker.closed.then(async () => {
    await stopTelemetry().catch(() => {});
    process.exit(0);
  });
  if (stopRequested) close(worker);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    logger.error(`configuration error: ${error.message}`);
  } else {
    logger.error({ err: error }, `worker failed to start: ${(error as Error).message}`);
  }
  process.exit(1);
});
