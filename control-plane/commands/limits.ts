// Rate limits as admin actions: set, remove and list the limits in `<prefix>_limits`, which every
// worker follows (docs/rate-limits.md). A listed limit shows the permits granted in its current
// window, so an operator sees a limit biting.
import type { KV } from "@nats-io/kv";
import {
  checkRate,
  formatRate,
  JetmeshError,
  type LimitRecord,
  LimitStore,
  type LimitTarget,
  limitKey,
  limitsBucket,
  parseRate,
  permitsBucket,
  permitsUsed,
  type RateLimit,
} from "../../runtime/index.ts";
import type { LimitView } from "../api/protocol.ts";
import { ApiError, invalid, unknownQueue } from "../errors.ts";
import { kvStream } from "../names.ts";
import { optionalInteger, optionalString, requireToken } from "../validate.ts";
import type { CommandContext } from "./context.ts";

type Body = Record<string, unknown>;

export async function setLimit(ctx: CommandContext, body: Body): Promise<LimitView> {
  const target = await readTarget(ctx, body);
  const rate = readRate(body);
  const { store, permits } = declared(await openStore(ctx));
  return view(await store.set(target, rate, origin(body)), permits);
}

export async function removeLimit(ctx: CommandContext, body: Body): Promise<LimitTarget & { removed: true }> {
  const target = await readTarget(ctx, body);
  const { store } = declared(await openStore(ctx));
  if (!(await store.remove(target)))
    throw new ApiError(
      "LIMIT_NOT_FOUND",
      `no rate limit is set on ${describeTarget(target)}`,
      "list the limits with `jetmesh limit list`",
    );
  return { ...target, removed: true };
}

export async function listLimits(ctx: CommandContext, body: Body): Promise<LimitView[]> {
  const queue = optionalString(body, "queue") === undefined ? undefined : requireToken(body, "queue");
  const opened = await openStore(ctx);
  if (opened === undefined) return [];
  const records = await opened.store.list();
  return Promise.all(
    records.filter((r) => queue === undefined || r.queue === queue).map((r) => view(r, opened.permits)),
  );
}

async function readTarget(ctx: CommandContext, body: Body): Promise<LimitTarget> {
  const queue = requireToken(body, "queue");
  const name = optionalString(body, "name");
  const known = await ctx.stats.queueNames();
  if (!known.includes(queue)) throw unknownQueue(queue, known);
  asInvalid(() => limitKey({ queue, name }));
  return name === undefined ? { queue } : { queue, name };
}

/** `rate: "10/s"`, or `limit` with `intervalMs`. */
function readRate(body: Body): RateLimit {
  const text = optionalString(body, "rate", 64);
  const limit = optionalInteger(body, "limit", 1, Number.MAX_SAFE_INTEGER);
  const intervalMs = optionalInteger(body, "intervalMs", 1, Number.MAX_SAFE_INTEGER);
  if (text !== undefined && limit === undefined && intervalMs === undefined)
    return asInvalid(() => parseRate(text));
  if (text === undefined && limit !== undefined && intervalMs !== undefined)
    return asInvalid(() => checkRate({ limit, intervalMs }));
  throw invalid('give the rate as rate (e.g. "10/s") or as limit and intervalMs, not both');
}

/** Runs a runtime check, reporting its JetmeshError as the caller's bad request. */
function asInvalid<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof JetmeshError) throw invalid(error.message);
    throw error;
  }
}

function origin(body: Body): { by: string; at: number; reason?: string } {
  const by = optionalString(body, "by") ?? "control-plane";
  const reason = optionalString(body, "reason", 1000);
  return reason === undefined ? { by, at: Date.now() } : { by, at: Date.now(), reason };
}

interface OpenStore {
  store: LimitStore;
  permits: KV;
}

/** The limit store, or undefined while the limits bucket does not exist (no queue declared with it). */
async function openStore({ mesh }: CommandContext): Promise<OpenStore | undefined> {
  if (!(await mesh.streamExists(kvStream(limitsBucket(mesh.prefix))))) return undefined;
  const permits = await mesh.kvm.open(permitsBucket(mesh.prefix));
  return { store: new LimitStore(await mesh.kvm.open(limitsBucket(mesh.prefix)), permits), permits };
}

function declared(opened: OpenStore | undefined): OpenStore {
  if (opened !== undefined) return opened;
  throw new ApiError(
    "NOT_DECLARED",
    "the limits bucket does not exist",
    "declare the queue again (client.queues.declare) with this version: it creates the bucket",
  );
}

/** A limit with what its counter says of the current window. */
async function view(record: LimitRecord, permits: KV): Promise<LimitView> {
  const { window, used } = await permitsUsed(permits, limitKey(record), record);
  return {
    ...record,
    rate: formatRate(record),
    window: { startedAt: window * record.intervalMs, used },
  };
}

export function describeTarget({ queue, name }: LimitTarget): string {
  return name === undefined ? `queue ${queue}` : `job name ${name} of queue ${queue}`;
}
