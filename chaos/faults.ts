// The fault catalogue: each fault disturbs the running system one way and reports when it
// started and when the system was whole again (the moment recovery time is measured from).
import { headers as createHeaders } from "@nats-io/transport-node";
import { ContentType, Header, type JetmeshClient } from "../runtime/index.ts";
import type { Fleet } from "./fleet.ts";
import type { Random } from "./random.ts";
import type { SystemUnderTest } from "./system.ts";
import type { Workload } from "./workload.ts";

export interface FaultContext {
  system: SystemUnderTest;
  fleet: Fleet;
  workload: Workload;
  /** A client of the system under test for administration and raw publishes. */
  admin: JetmeshClient;
  queue: string;
  stream: string;
  workers: number;
  ackWaitMs: number;
  maxJobs: number;
  random: Random;
}

export interface FaultRecord {
  fault: FaultName;
  detail: string;
  startedAt: number;
  /** When the fault was over (servers back, worker respawn requested, jobs enqueued). */
  healedAt: number;
  /** While a majority of a cluster was down: no enqueue may be acknowledged then. */
  minority?: { from: number; to: number };
}

interface Fault {
  /** Topologies the fault applies to. */
  topologies: readonly ("single" | "cluster")[];
  /** Whether duplicate executions are an accepted consequence (in-flight work cut off). */
  mayDuplicate: boolean;
  inject(ctx: FaultContext, record: FaultRecord): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const FAULTS = {
  /** kill -9 of a worker mid-job; the supervisor starts it again. */
  "worker-kill": {
    topologies: ["single", "cluster"],
    mayDuplicate: true,
    async inject(ctx, record) {
      const index = ctx.random.int(0, ctx.workers - 1);
      record.detail = `worker ${index}`;
      await ctx.fleet.kill(index, "SIGKILL");
    },
  },
  /** SIGTERM: the worker drains (running jobs finish, unstarted ones are handed back). */
  "worker-term": {
    topologies: ["single", "cluster"],
    mayDuplicate: false,
    async inject(ctx, record) {
      const index = ctx.random.int(0, ctx.workers - 1);
      record.detail = `worker ${index}`;
      await ctx.fleet.kill(index, "SIGTERM");
    },
  },
  /** kill -9 of the single nats-server, restarted 2-5 s later on the same storage. */
  "server-kill": {
    topologies: ["single"],
    mayDuplicate: true,
    async inject(ctx, record) {
      const downMs = ctx.random.int(2000, 5000);
      record.detail = `down ${downMs} ms`;
      await ctx.system.kill(0);
      await sleep(downMs);
      await ctx.system.restart(0);
    },
  },
  /** kill -9 of one cluster node (the queue stream's leader or a follower), restarted 3-8 s later. */
  "node-kill": {
    topologies: ["cluster"],
    mayDuplicate: true,
    async inject(ctx, record) {
      const { index, role } = await pickNode(ctx);
      const downMs = ctx.random.int(3000, 8000);
      record.detail = `n${index + 1} (${role}) down ${downMs} ms`;
      await ctx.system.kill(index);
      await sleep(downMs);
      await ctx.system.restart(index);
    },
  },
  /** Two of three nodes killed: no quorum, so no enqueue may be acknowledged until one returns. */
  "two-nodes-kill": {
    topologies: ["cluster"],
    mayDuplicate: true,
    async inject(ctx, record) {
      const survivor = ctx.random.int(0, 2);
      const victims = [0, 1, 2].filter((index) => index !== survivor);
      const downMs = ctx.random.int(4000, 8000);
      record.detail = `${victims.map((index) => `n${index + 1}`).join("+")} down ${downMs} ms`;
      for (const index of victims) await ctx.system.kill(index);
      const from = Date.now();
      await sleep(downMs);
      record.minority = { from, to: Date.now() };
      for (const index of victims) await ctx.system.restart(index);
    },
  },
  /** SIGSTOP of one node for 8-15 s, then SIGCONT: a partition the others notice by silence. */
  "node-pause": {
    topologies: ["cluster"],
    mayDuplicate: true,
    async inject(ctx, record) {
      const { index, role } = await pickNode(ctx);
      const pausedMs = ctx.random.int(8000, 15_000);
      record.detail = `n${index + 1} (${role}) stopped ${pausedMs} ms`;
      ctx.system.pause(index);
      await sleep(pausedMs);
      ctx.system.resume(index);
    },
  },
  /** Jobs that run for 2.5 ack waits: lease renewal must keep them from being redelivered. */
  slow: {
    topologies: ["single", "cluster"],
    mayDuplicate: false,
    async inject(ctx, record) {
      const ms = Math.round(ctx.ackWaitMs * 2.5);
      record.detail = `3 jobs of ${ms} ms`;
      for (let i = 0; i < 3; i++) void ctx.workload.add("work", { ms });
    },
  },
  /** More jobs at once than the queue may hold: the excess must fail loudly (QueueFullError). */
  burst: {
    topologies: ["single", "cluster"],
    mayDuplicate: false,
    async inject(ctx, record) {
      const count = ctx.maxJobs + 1000;
      record.detail = `${count} jobs at once into a queue of ${ctx.maxJobs}`;
      const pending: Promise<void>[] = [];
      for (let i = 0; i < count; i++) pending.push(ctx.workload.add("work", { ms: 1 }));
      await Promise.all(pending);
    },
  },
  /** Poison jobs: one crashes its worker process on every attempt, one throws on every attempt. */
  poison: {
    topologies: ["single", "cluster"],
    // A crashing job takes down the jobs running beside it in the same process.
    mayDuplicate: true,
    async inject(ctx, record) {
      record.detail = "1 crash + 1 fail";
      await Promise.all([ctx.workload.add("crash", {}, "dead"), ctx.workload.add("fail", {}, "dead")]);
    },
  },
  /** Malformed and oversized input: each must end in the dead-letter stream or as an enqueue error. */
  malformed: {
    topologies: ["single", "cluster"],
    mayDuplicate: false,
    async inject(ctx, record) {
      const cases = malformedMessages();
      record.detail = `${cases.length} malformed + 1 oversized`;
      await Promise.all(cases.map((message) => publishRaw(ctx, message)));
      const tooLarge = "x".repeat((ctx.admin.nc.info?.max_payload ?? 1024 * 1024) + 1);
      await ctx.workload.add("work", { ms: 1, tooLarge }, "rejected");
    },
  },
  /**
   * The negative control: handlers that block their event loop past the ack wait, so no lease
   * renewal is sent; JetStream redelivers while they run and the ledger must count duplicates.
   */
  overrun: {
    topologies: ["single", "cluster"],
    mayDuplicate: true,
    async inject(ctx, record) {
      const ms = Math.round(ctx.ackWaitMs * 1.5);
      record.detail = `2 jobs blocking their worker ${ms} ms`;
      await Promise.all([0, 1].map(() => ctx.workload.add("overrun", { ms })));
    },
  },
} satisfies Record<string, Fault>;

export type FaultName = keyof typeof FAULTS;

export const FAULT_NAMES = Object.keys(FAULTS) as FaultName[];

/** Faults a run injects unless told otherwise (the negative control is asked for by name). */
export function defaultFaults(cluster: boolean): FaultName[] {
  return FAULT_NAMES.filter(
    (name) =>
      name !== "overrun" &&
      (FAULTS[name].topologies as readonly string[]).includes(cluster ? "cluster" : "single"),
  );
}

export function mayDuplicate(name: FaultName): boolean {
  return FAULTS[name].mayDuplicate;
}

export async function injectFault(name: FaultName, ctx: FaultContext): Promise<FaultRecord> {
  const record: FaultRecord = { fault: name, detail: "", startedAt: Date.now(), healedAt: 0 };
  await FAULTS[name].inject(ctx, record);
  record.healedAt = Date.now();
  return record;
}

/** Alternates between the queue stream's leader and a follower, when the leader is known. */
async function pickNode(ctx: FaultContext): Promise<{ index: number; role: string }> {
  const wantLeader = ctx.random.next() < 0.5;
  const leader = await ctx.admin.nc
    .request(`$JS.API.STREAM.INFO.${ctx.stream}`, "", { timeout: 2000 })
    .then((msg) => ctx.system.indexOf(msg.json<{ cluster?: { leader?: string } }>().cluster?.leader))
    .catch(() => undefined);
  if (leader === undefined) return { index: ctx.random.int(0, 2), role: "leader unknown" };
  if (wantLeader) return { index: leader, role: "stream leader" };
  const followers = [0, 1, 2].filter((index) => index !== leader);
  return { index: ctx.random.pick(followers), role: "follower" };
}

interface RawMessage {
  name: string;
  contentType?: string;
  headers?: Record<string, string>;
  data: Uint8Array;
}

/** Messages a foreign producer could store; the worker must dead-letter each with a reason. */
function malformedMessages(): RawMessage[] {
  const text = new TextEncoder();
  return [
    { name: "work", contentType: ContentType.Json, data: text.encode('{"ms": 1,') },
    { name: "work", contentType: ContentType.MessagePack, data: new Uint8Array([0x82, 0xa2, 0x6d, 0x73]) },
    { name: "work", contentType: "text/csv", data: text.encode("ms,1") },
    { name: "work", data: new Uint8Array([0xc1, 0xc1, 0xff]) },
    { name: "work", headers: { [Header.Attempt]: "zero" }, data: text.encode('{"ms":1}') },
    { name: "no.such.job", contentType: ContentType.Json, data: text.encode("{}") },
  ];
}

async function publishRaw(ctx: FaultContext, message: RawMessage): Promise<void> {
  const record = ctx.workload.track(ctx.workload.newId(), message.name, "dead");
  const h = createHeaders();
  h.set(Header.JobId, record.id);
  if (message.contentType !== undefined) h.set(Header.ContentType, message.contentType);
  h.set(Header.MsgId, record.id);
  for (const [key, value] of Object.entries(message.headers ?? {})) h.set(key, value);
  record.tries++;
  try {
    const ack = await ctx.admin.nc
      .request(ctx.admin.subjects.job(ctx.queue, message.name), message.data, {
        timeout: 5000,
        headers: h,
      })
      .then((reply) => reply.json<{ seq?: number; error?: { description: string } }>());
    if (ack.seq === undefined) {
      record.status = "error";
      record.error = ack.error?.description;
    } else {
      record.status = "acked";
      record.seq = ack.seq;
      record.ackedAt = Date.now();
    }
  } catch (error) {
    record.status = "unknown";
    record.error = (error as Error).message;
  }
}
