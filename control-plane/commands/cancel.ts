// Cancel a job by id: recorded first (a waiting job then never runs; a worker that starts later
// terminates it), then broadcast so the worker running it aborts its handler at once.
import { type ControlCommand, ControlKey, jobKey } from "../../runtime/index.ts";
import type { CommandResult } from "../api/protocol.ts";
import { requireString } from "../validate.ts";
import type { CommandContext } from "./context.ts";
import { type IssuerFields, issue, newCommandId, origin } from "./issue.ts";
import { liveWorkers } from "./known.ts";

export interface CancelRequest extends IssuerFields {
  jobId: string;
}

export async function cancelJob(ctx: CommandContext, request: CancelRequest): Promise<CommandResult> {
  const jobId = requireString(request as unknown as Record<string, unknown>, "jobId", 1024);
  const command: ControlCommand = { type: "cancel", id: newCommandId(), jobId, ...origin(request) };
  const kv = await ctx.mesh.control();
  const key = ControlKey.cancelledJob(jobKey(jobId));
  const warnings: string[] = [];
  const running = ctx.heartbeats.findJob(jobId);
  if (running === undefined) warnings.push("the job is not running now: it will not start if it is waiting");
  const expected = liveWorkers(ctx).map((w) => w.workerId);
  return issue(
    ctx,
    command,
    async () => void (await kv.put(key, JSON.stringify(command))),
    expected,
    request,
    warnings,
  );
}
