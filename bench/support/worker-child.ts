// A worker in a process of its own, for the multi-process and memory scenarios. Started by
// support/children.ts with a `ChildSpec` (JSON) as its only argument; it connects, reports
// "ready", and waits for the parent's requests over the IPC channel:
//   go       start consuming (a jetmesh Worker, or the raw baseline's consume loop), or start the
//            control plane (the control scenarios)
//   sample   memory now (after a GC when asked) and the peak since the last reset
//   stop     stop consuming, flush, reply with the number of jobs handled, and exit
// Handlers are no-ops that count the jobs they start. Each system's modules are imported only in
// its own mode, so a raw child's memory holds nothing of jetmesh.
import type { ChildReply, ChildRequest, ChildSpec, MemoryReading } from "./children.ts";

const spec = JSON.parse(process.argv[2] ?? "{}") as ChildSpec;
/** Memory is read this often to find the peak under load. */
const PEAK_SAMPLE_MS = 50;

let handled = 0;
let peakRss = 0;
let peakHeapUsed = 0;

function readPeak(): void {
  const { rss, heapUsed } = process.memoryUsage();
  peakRss = Math.max(peakRss, rss);
  peakHeapUsed = Math.max(peakHeapUsed, heapUsed);
}
setInterval(readPeak, PEAK_SAMPLE_MS).unref();

interface Running {
  stop(): Promise<void>;
}

interface Mode {
  go(): Promise<Running>;
  close(): Promise<void>;
}

async function rawMode(spec: Extract<ChildSpec, { system: "raw" }>): Promise<Mode> {
  const { jetstream } = await import("@nats-io/jetstream");
  const { connectRaw } = await import("./raw-connect.ts");
  const { consumeConcurrently } = await import("./raw-consume.ts");
  const nc = await connectRaw(spec.natsUrl);
  return {
    async go() {
      const consumer = await jetstream(nc).consumers.get(spec.stream, spec.consumer);
      const consuming = await consumeConcurrently(
        consumer,
        spec.concurrency,
        () => handled++,
        () => {},
      );
      consuming.ended.catch(fail);
      return {
        async stop() {
          await consuming.stop();
          await nc.flush();
        },
      };
    },
    close: () => nc.close(),
  };
}

async function jetmeshMode(spec: Extract<ChildSpec, { system: "jetmesh" }>): Promise<Mode> {
  const { connectNats, createLogger, defineJob, Worker } = await import("../../runtime/index.ts");
  const nc = await connectNats({ servers: spec.natsUrl });
  return {
    async go() {
      const worker = await Worker.start({
        connection: nc,
        queues: [spec.queue],
        concurrency: spec.concurrency,
        events: spec.events,
        jobs: [
          defineJob({
            name: spec.jobName,
            run: async () => {
              handled++;
            },
          }),
        ],
        logger: createLogger({}, { JETMESH_LOG_LEVEL: "silent" }),
      });
      return {
        async stop() {
          await worker.close();
          await nc.flush();
        },
      };
    },
    close: () => nc.close(),
  };
}

async function controlPlaneMode(spec: Extract<ChildSpec, { system: "control-plane" }>): Promise<Mode> {
  const { createLogger } = await import("../../runtime/index.ts");
  const { buildControlPlane } = await import("../../control-plane/service.ts");
  const controlPlane = buildControlPlane({
    connection: { servers: spec.natsUrl },
    logger: createLogger({}, { JETMESH_LOG_LEVEL: "silent" }),
  });
  return {
    async go() {
      await controlPlane.start();
      return { stop: () => controlPlane.stop() };
    },
    close: async () => {},
  };
}

function reply(message: ChildReply): Promise<void> {
  return new Promise((resolve) => process.send?.(message, undefined, {}, () => resolve()));
}

function fail(error: unknown): void {
  console.error(`worker child ${process.pid}:`, error);
  process.exit(1);
}

function reading(gc: boolean): MemoryReading {
  if (gc) {
    // Twice: the first pass can leave garbage that only becomes unreachable after finalizers run.
    globalThis.gc?.();
    globalThis.gc?.();
  }
  readPeak();
  const { rss, heapUsed } = process.memoryUsage();
  const cpu = process.cpuUsage();
  return { rss, heapUsed, peakRss, peakHeapUsed, handled, cpuMicros: cpu.user + cpu.system };
}

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error("worker-child.ts is started by support/children.ts");
  const mode =
    spec.system === "raw"
      ? await rawMode(spec)
      : spec.system === "jetmesh"
        ? await jetmeshMode(spec)
        : await controlPlaneMode(spec);
  let running: Running | undefined;
  process.on("message", (request: ChildRequest) => {
    const handle = async (): Promise<ChildReply> => {
      switch (request.op) {
        case "go":
          running ??= await mode.go();
          return { id: request.id, ok: true };
        case "sample": {
          const memory = reading(request.gc);
          if (request.resetPeak) {
            peakRss = memory.rss;
            peakHeapUsed = memory.heapUsed;
          }
          return { id: request.id, ok: true, memory };
        }
        case "stop":
          await running?.stop();
          await mode.close();
          return { id: request.id, ok: true, memory: reading(false) };
      }
    };
    handle()
      .then(
        (message) => reply(message),
        (error: unknown) =>
          reply({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      )
      .then(() => {
        if (request.op === "stop") process.exit(0);
      }, fail);
  });
  // The parent went away (Ctrl-C, crash): nothing left to report to.
  process.on("disconnect", () => process.exit(0));
  await reply({ id: 0, ok: true, memory: reading(false) });
}

main().catch(fail);
