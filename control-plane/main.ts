// The control plane process: options from the environment, start, and stop cleanly on
// SIGTERM/SIGINT. `jetmesh control-plane` runs the same function.
import { pathToFileURL } from "node:url";
import { createLogger, startTelemetry } from "../runtime/index.ts";
import { ConsoleConfigError } from "./console/options.ts";
import { ControlPlaneConfigError, controlPlaneOptionsFromEnv } from "./options.ts";
import { buildControlPlane } from "./service.ts";

export async function runControlPlane(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const logger = createLogger({ service: "jetmesh-control-plane" }, env);
  let service: ReturnType<typeof buildControlPlane> | undefined;
  let started = false;
  let stopping = false;
  // Traces of what the control plane publishes (dead-letter retries, schedule firings) when the
  // OTEL_* variables ask for an exporter; nothing is loaded otherwise.
  let stopTelemetry: () => Promise<void> = async () => {};
  const stop = () => {
    (service?.stop() ?? Promise.resolve())
      .then(() => stopTelemetry())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  // Installed before start(): a signal while it connects (slow on a replicated cluster) must
  // still end in a clean stop, not a kill by signal.
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, "stopping");
    if (started) stop();
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  try {
    stopTelemetry = await startTelemetry(logger, "jetmesh-control-plane");
    service = buildControlPlane({ ...controlPlaneOptionsFromEnv(env), logger });
    await service.start();
    started = true;
  } catch (error) {
    if (error instanceof ControlPlaneConfigError || error instanceof ConsoleConfigError)
      logger.error(`configuration error: ${error.message}`);
    else logger.error({ err: error }, `control plane failed to start: ${(error as Error).message}`);
    process.exit(1);
  }
  if (stopping) stop();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  void runControlPlane();
