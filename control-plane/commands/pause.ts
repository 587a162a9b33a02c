// Pause a queue across the fleet, or on one worker: paused workers start no new job of it and
// let running ones finish. The record in the control bucket makes late joiners start paused.
import { type ControlCommand, ControlKey } from "../../runtime/index.ts";
import type { CommandResult } from "../api/protocol.ts";
import { optionalInteger, optionalString, requireToken } from "../validate.ts";
import type { CommandContext } from "./context.ts";
import { type IssuerFields, issue, newCommandId, origin } from "./issue.ts";
import { assertQueueExists, liveWorkersServing } from "./known.ts";

export interface PauseRequest extends IssuerFields {
  queue: string;
  workerId?: string;
  /** Resume by itself after this long (the control plane's expiry sweep does it). */
  forMs?: number;
}

/** A pause may last at most 30 days; longer is "until resumed". */
const MAX_PAUSE_MS = 30 * 86_400_000;

export async function pauseQueue(ctx: CommandContext, request: PauseRequest): Promise<CommandResult> {
  const body = request as unknown as Record<string, unknown>;
  const queue = requireToken(body, "queue");
  const workerId =
    optionalString(body, "workerId") === undefined ? undefined : requireToken(body, "workerId");
  const forMs = optionalInteger(body, "forMs", 1, MAX_PAUSE_MS);
  await assertQueueExists(ctx, queue);
  const command: ControlCommand = { type: "pause", id: newCommandId(), queue, ...origin(request) };
  if (workerId !== undefined) command.workerId = workerId;
  if (forMs !== undefined) command.expiresAt = command.at + forMs;
  const kv = await ctx.mesh.control();
  const key =
    workerId === undefined ? ControlKey.pausedQueue(queue) : ControlKey.pausedOnWorker(queue, workerId);
  const serving = liveWorkersServing(ctx, queue).map((w) => w.workerId);
  const expected = workerId === undefined ? serving : serving.filter((id) => id === workerId);
  const warnings: string[] = [];
  if (workerId !== undefined && expected.length === 0)
    warnings.push(
      `worker "${workerId}" is not a live worker of queue "${queue}": the pause is recorded and applies if it starts`,
    );
  return issue(
    ctx,
    command,
    async () => void (await kv.put(key, JSON.stringify(command))),
    expected,
    request,
    warnings,
  );
}
