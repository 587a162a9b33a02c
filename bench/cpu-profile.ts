// CPU profile of jetmesh's hot paths, for explaining the benchmark's figures: a worker draining a
// pre-filled queue (`drain`) or a client enqueueing (`enqueue`), on a private nats-server, with
// the V8 sampling profiler running only over the timed part. Prints where the benchmark process
// spends its time — by function (self time) and by module — and the CPU used by the process and
// by nats-server, and writes the .cpuprofile (open it in Chrome DevTools → Performance).
//
//   npm run bench:profile -- drain --concurrency 64
//   npm run bench:profile -- drain --concurrency 256 --events off
//   npm run bench:profile -- enqueue --payload msgpack:10240
//   npm run bench:profile -- drain --system raw     (the raw baseline's loop, for comparison)
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { NatsServer } from "../deploy/local/nats-server.ts";
import {
  connectNats,
  createLogger,
  defineJob,
  type EnqueueOptions,
  JetmeshClient,
  type JobToEnqueue,
  Worker,
} from "../runtime/index.ts";
import { Countdown } from "./support/countdown.ts";
import { payloadFor } from "./support/payload.ts";
import { consumeConcurrently } from "./support/raw-consume.ts";

const USAGE = `usage: tsx bench/cpu-profile.ts <drain|enqueue> [options]
  --messages <n>        jobs in the timed part (default 50000)
  --concurrency <n>     worker concurrency for drain (default 64)
  --events <on|off>     lifecycle events for drain (default on)
  --system <jetmesh|raw> jetmesh (Worker / JetmeshClient), or the raw baseline's consume loop /
                        js.publish of the same payload bytes (default jetmesh)
  --payload <enc:bytes> e.g. msgpack:10240 or json:100 (default: the 14-byte no-op job, MessagePack)
  --interval <µs>       sampling interval (default 100)
  --alloc               also sample allocations (every 8 KiB allocated, collected or not) by function
  --top <n>             functions to list (default 25)`;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT_DIR = fileURLToPath(new URL("./results/", import.meta.url));
const JOB_NAME = "noop";
const WINDOW = 1_000;

/**
 * Counts the connection's socket writes: each is a system call, and on loopback the largest single
 * cost per job, so how many jobs' acks share one write explains much of a drain rate.
 */
function countSocketWrites(nc: NatsConnection): { count: number } {
  // nats-core keeps its transport private; the profiler may look inside, the runtime never does.
  const transport = (nc as unknown as { protocol: { transport: { send(frame: Uint8Array): void } } }).protocol
    .transport;
  const counter = { count: 0 };
  const send = transport.send.bind(transport);
  transport.send = (frame) => {
    counter.count++;
    send(frame);
  };
  return counter;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

interface AllocationNode {
  callFrame: ProfileNode["callFrame"];
  selfSize: number;
  children: AllocationNode[];
}

/** Bytes allocated by the innermost runtime/ function on the stack, and by function. */
function summarizeAllocations(head: AllocationNode, top: number): string {
  const byRuntimeCaller = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const visit = (node: AllocationNode, caller: string | undefined) => {
    const frame = node.callFrame;
    const name = `${frame.functionName || "(anonymous)"}  ${moduleOf(frame.url, frame.functionName)}`;
    const inRuntime = moduleOf(frame.url, "").startsWith("runtime/");
    const innermost = inRuntime ? name : caller;
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(byFunction, name, node.selfSize);
      add(byRuntimeCaller, innermost ?? `(no runtime/ frame) ${name}`, node.selfSize);
    }
    for (const child of node.children) visit(child, innermost);
  };
  visit(head, undefined);
  const rows = (entries: Map<string, number>) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, bytes]) => `  ${((bytes / total) * 100).toFixed(1).padStart(5)}%  ${name}`)
      .join("\n");
  return [
    `allocations sampled: ${(total / 1024 / 1024).toFixed(0)} MiB (estimated from samples)`,
    "  % bytes  innermost runtime/ function on the stack",
    rows(byRuntimeCaller),
    "  % bytes  allocating function",
    rows(byFunction),
  ].join("\n");
}

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      messages: { type: "string", default: "50000" },
      concurrency: { type: "string", default: "64" },
      events: { type: "string", default: "on" },
      system: { type: "string", default: "jetmesh" },
      payload: { type: "string" },
      interval: { type: "string", default: "100" },
      top: { type: "string", default: "25" },
      alloc: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  const mode = positionals[0];
  const raw = values.system === "raw";
  if (values.help || (mode !== "drain" && mode !== "enqueue")) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  let payload: { value: unknown; data: Uint8Array; options: EnqueueOptions; label: string } = {
    value: { job: "noop" },
    data: new TextEncoder().encode('{"job":"noop"}'),
    options: {},
    label: "no-op",
  };
  if (values.payload !== undefined) {
    const [encoding, bytes] = values.payload.split(":");
    if ((encoding !== "json" && encoding !== "msgpack") || !Number(bytes)) throw new Error(USAGE);
    payload = {
      ...payloadFor({ encoding, bytes: Number(bytes) }),
      options: { encoding },
      label: values.payload,
    };
  }
  return {
    mode,
    messages: Number(values.messages),
    concurrency: Number(values.concurrency),
    events: values.events !== "off",
    raw,
    payload,
    intervalUs: Number(values.interval),
    alloc: values.alloc,
    top: Number(values.top),
  };
}

/** user + system CPU seconds of a process, from /proc (Linux). */
function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function enqueueAll(
  client: JetmeshClient,
  queue: string,
  count: number,
  payload: unknown,
  opts: EnqueueOptions,
) {
  const job: JobToEnqueue = { queue, name: JOB_NAME, payload, options: opts };
  for (let sent = 0; sent < count; sent += WINDOW) {
    await client.enqueueMany(Array.from({ length: Math.min(WINDOW, count - sent) }, () => job));
  }
}

/** Where a frame comes from: a package, a runtime/ or bench/ file, Node itself, or V8. */
function moduleOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const path = url.replace(/^file:\/\//, "");
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  if (pkg) return pkg[1] as string;
  if (path.startsWith("node:")) return "node internals";
  if (path.startsWith(ROOT)) return path.slice(ROOT.length);
  return path;
}

function frameName(node: ProfileNode): string {
  const frame = node.callFrame;
  // tsx compiles each module onto few lines, so a line number would mislead: name and file only.
  return `${frame.functionName || "(anonymous)"}  ${moduleOf(frame.url, frame.functionName)}`;
}

function add(map: Map<string, number>, key: string, ms: number): void {
  map.set(key, (map.get(key) ?? 0) + ms);
}

/**
 * Self time by module and by function; time by the innermost jetmesh (runtime/) frame on the
 * stack, i.e. which runtime function a library or native call was made for; and the inclusive
 * time of each runtime function.
 */
function summarize(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const selfMs = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index++) {
    const id = profile.samples[index] as number;
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  }
  const total = [...selfMs.values()].reduce((sum, ms) => sum + ms, 0);
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  const byRuntimeCaller = new Map<string, number>();
  const runtimeInclusive = new Map<string, number>();
  const isRuntime = (node: ProfileNode) => moduleOf(node.callFrame.url, "").startsWith("runtime/");
  for (const [id, ms] of selfMs) {
    const node = byId.get(id) as ProfileNode;
    add(byFunction, frameName(node), ms);
    add(byModule, moduleOf(node.callFrame.url, node.callFrame.functionName), ms);
    let caller: string | undefined;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at) as ProfileNode;
      if (!isRuntime(frame)) continue;
      const name = frameName(frame);
      caller ??= name;
      if (!seen.has(name)) add(runtimeInclusive, name, ms);
      seen.add(name);
    }
    add(byRuntimeCaller, caller ?? `(no runtime/ frame) ${node.callFrame.functionName || "(anonymous)"}`, ms);
  }
  const busy = total - (byModule.get("(idle)") ?? 0);
  const rows = (entries: Map<string, number>, count: number) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, ms]) => {
        // Idle time is not part of the busy time: no share of it.
        const ofBusy = name.includes("(idle)") ? "    -" : `${((ms / busy) * 100).toFixed(1).padStart(5)}%`;
        return `  ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${ofBusy}  ${name}`;
      })
      .join("\n");
  return [
    `sampled ${total.toFixed(0)} ms, ${busy.toFixed(0)} ms of it not idle`,
    "  % wall  % busy  module (self time)",
    rows(byModule, 20),
    "  % wall  % busy  function (self time)",
    rows(byFunction, top),
    "  % wall  % busy  innermost runtime/ function on the stack (self time of everything it called)",
    rows(byRuntimeCaller, top),
    "  % wall  % busy  runtime/ function, inclusive",
    rows(runtimeInclusive, top),
  ].join("\n");
}

/** Samples allocations including objects the GC has since collected: what makes the GC work. */
async function startAllocationSampling(session: Session): Promise<void> {
  await session.post("HeapProfiler.enable");
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 8192,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as object);
}

async function main(): Promise<void> {
  const opts = options();
  const server = await NatsServer.start();
  const session = new Session();
  session.connect();
  try {
    const client = await JetmeshClient.connect({ connection: { servers: server.url } });
    const queue = `profile_${opts.mode}`;
    const { stream } = await client.queues.declare(queue);
    const workerConnection = await connectNats({ servers: server.url });
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: opts.intervalUs });
    let worker: Worker | undefined;
    let seconds: number;
    let connectionLine: string | undefined;
    let cpu: { self: NodeJS.CpuUsage; server: number };
    if (opts.mode === "drain") {
      await enqueueAll(client, queue, opts.messages, opts.payload.value, opts.payload.options);
      const handled = new Countdown(opts.messages);
      const serverCpu = processCpuSeconds(server.pid);
      const selfCpu = process.cpuUsage();
      const statsBefore = workerConnection.stats();
      const writes = countSocketWrites(workerConnection);
      await session.post("Profiler.start");
      if (opts.alloc) await startAllocationSampling(session);
      const start = performance.now();
      if (opts.raw) {
        // The same jobs, consumed as the raw baseline does (no envelope, no decoding, no events).
        const consumer = await jetstream(workerConnection).consumers.get(stream, "workers");
        const consuming = await consumeConcurrently(
          consumer,
          opts.concurrency,
          () => {},
          () => handled.tick(),
        );
        await handled.done;
        await workerConnection.flush();
        seconds = (performance.now() - start) / 1000;
        await consuming.stop();
      } else {
        worker = await Worker.start({
          connection: workerConnection,
          queues: [queue],
          concurrency: opts.concurrency,
          events: opts.events,
          jobs: [defineJob({ name: JOB_NAME, run: async () => handled.tick() })],
          logger: createLogger({}, { JETMESH_LOG_LEVEL: "silent" }),
        });
        await handled.done;
        await new Promise((resolve) => setImmediate(resolve));
        await workerConnection.flush();
        seconds = (performance.now() - start) / 1000;
      }
      const stats = workerConnection.stats();
      // Out: acks, pull requests, events (and the flush's PING); in: jobs, pull status messages.
      connectionLine =
        `worker connection per job: ${((stats.outMsgs - statsBefore.outMsgs) / opts.messages).toFixed(2)} messages out, ` +
        `${((stats.inMsgs - statsBefore.inMsgs) / opts.messages).toFixed(2)} in, ` +
        `${((stats.outBytes - statsBefore.outBytes) / opts.messages).toFixed(0)} bytes out, ` +
        `${(writes.count / opts.messages).toFixed(2)} socket writes`;
      cpu = { self: process.cpuUsage(selfCpu), server: processCpuSeconds(server.pid) - serverCpu };
    } else {
      await enqueueAll(client, queue, WINDOW, opts.payload.value, opts.payload.options);
      const serverCpu = processCpuSeconds(server.pid);
      const selfCpu = process.cpuUsage();
      await session.post("Profiler.start");
      if (opts.alloc) await startAllocationSampling(session);
      const start = performance.now();
      if (opts.raw) {
        // The raw baseline's publishing: js.publish of the same bytes, no headers, batches of 1,000.
        const js = jetstream(client.nc);
        const subject = client.subjects.job(queue, JOB_NAME);
        for (let sent = 0; sent < opts.messages; sent += WINDOW) {
          const batch = Math.min(WINDOW, opts.messages - sent);
          await Promise.all(Array.from({ length: batch }, () => js.publish(subject, opts.payload.data)));
        }
      } else {
        await enqueueAll(client, queue, opts.messages, opts.payload.value, opts.payload.options);
      }
      seconds = (performance.now() - start) / 1000;
      cpu = { self: process.cpuUsage(selfCpu), server: processCpuSeconds(server.pid) - serverCpu };
    }
    const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
    const allocations = opts.alloc
      ? ((await session.post("HeapProfiler.stopSampling")) as { profile: { head: AllocationNode } }).profile
      : undefined;
    await worker?.close();
    await (await jetstreamManager(client.nc)).streams.delete(stream);
    await workerConnection.close();
    await client.close();

    const system = opts.raw
      ? "raw"
      : opts.mode === "drain"
        ? `events-${opts.events ? "on" : "off"}`
        : "jetmesh";
    const label = `${opts.mode}-${opts.mode === "drain" ? `c${opts.concurrency}-` : ""}${system}-${opts.payload.label.replace(/[^a-z0-9]+/gi, "")}`;
    await mkdir(OUT_DIR, { recursive: true });
    const out = `${OUT_DIR}${label}.cpuprofile`;
    await writeFile(out, JSON.stringify(profile));
    const selfSeconds = (cpu.self.user + cpu.self.system) / 1e6;
    console.log(
      `${opts.mode} of ${opts.messages} jobs (${opts.payload.label}, ${opts.raw ? "raw baseline" : "jetmesh"}${opts.mode === "drain" ? `, concurrency ${opts.concurrency}${opts.raw ? "" : `, events ${opts.events ? "on" : "off"}`}` : ""}): ` +
        `${Math.round(opts.messages / seconds).toLocaleString("en-US")} jobs/s under the profiler, ${seconds.toFixed(2)} s`,
    );
    console.log(
      `CPU over that time: this process ${((selfSeconds / seconds) * 100).toFixed(0)}% of a core ` +
        `(${((selfSeconds * 1e6) / opts.messages).toFixed(1)} µs per job), nats-server ${((cpu.server / seconds) * 100).toFixed(0)}%`,
    );
    if (connectionLine !== undefined) console.log(connectionLine);
    console.log(summarize(profile, opts.top));
    if (allocations !== undefined) console.log(summarizeAllocations(allocations.head, opts.top));
    console.log(`profile written to ${out}`);
  } finally {
    session.disconnect();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
