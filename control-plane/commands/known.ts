// Lookups commands share: does the queue exist, which live workers serve it.
import type { WorkerView } from "../api/protocol.ts";
import { unknownQueue } from "../errors.ts";
import type { CommandContext } from "./context.ts";

export async function assertQueueExists(ctx: CommandContext, queue: string): Promise<void> {
  const known = await ctx.stats.queueNames();
  if (!known.includes(queue)) throw unknownQueue(queue, known);
}

export function liveWorkers(ctx: CommandContext): WorkerView[] {
  return ctx.heartbeats.workers().filter((worker) => worker.liveness !== "gone");
}

export function liveWorkersServing(ctx: CommandContext, queue: string): WorkerView[] {
  return liveWorkers(ctx).filter((worker) => worker.queues.some((q) => q.queue === queue));
}
