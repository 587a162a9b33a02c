// Resume a queue: delete its pause records, then broadcast. A fleet-wide resume also clears
// the queue's per-worker pauses ("resume the queue" means everywhere); a resume for one worker
// clears only that worker's pause.
import { type ControlCommand, ControlKey } from "../../runtime/index.ts";
import type { CommandResult } from "../api/protocol.ts";
import { readControlRecords } from "../status/control-records.ts";
import { optionalString, requireToken } from "../validate.ts";
import type { CommandContext } from "./context.ts";
import { type IssuerFields, issue, newCommandId, origin } from "./issue.ts";
import { assertQueueExists, liveWorkersServing } from "./known.ts";

export interface ResumeRequest extends IssuerFields {
  queue: string;
  workerId?: string;
}

export async function resumeQueue(ctx: CommandContext, request: ResumeRequest): Promise<CommandResult> {
  const body = request as unknown as Record<string, unknown>;
  const queue = requireToken(body, "queue");
  const workerId =
    optionalString(body, "workerId") === undefined ? undefined : requireToken(body, "workerId");
  await assertQueueExists(ctx, queue);
  const command: ControlCommand = { type: "resume", id: newCommandId(), queue, ...origin(request) };
  if (workerId !== undefined) command.workerId = workerId;
  const kv = await ctx.mesh.control();
  const fleetKey = ControlKey.pausedQueue(queue);
  const records = await readControlRecords(ctx.mesh, `${fleetKey}.>`);
  const keys =
    workerId === undefined
      ? [fleetKey, ...records.map((record) => record.key)]
      : [ControlKey.pausedOnWorker(queue, workerId)];
  const warnings: string[] = [];
  if (workerId !== undefined && (await readControlRecords(ctx.mesh, fleetKey)).length > 0)
    warnings.push(
      `queue "${queue}" is also paused fleet-wide: worker "${workerId}" stays paused until that pause is lifted`,
    );
  const serving = liveWorkersServing(ctx, queue).map((w) => w.workerId);
  const expected = workerId === undefined ? serving : serving.filter((id) => id === workerId);
  return issue(
    ctx,
    command,
    async () => {
      for (const key of keys) await kv.delete(key);
    },
    expected,
    request,
    warnings,
  );
}
