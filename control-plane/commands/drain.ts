// Drain a worker for a rolling deploy: it finishes its running jobs, takes nothing new and exits.
// The record stays until the worker is gone (the service then removes it, see service.ts), so a
// worker that reconnects meanwhile still drains.
import { type ControlCommand, ControlKey } from "../../runtime/index.ts";
import type { CommandResult } from "../api/protocol.ts";
import { requireToken } from "../validate.ts";
import type { CommandContext } from "./context.ts";
import { type IssuerFields, issue, newCommandId, origin } from "./issue.ts";
import { liveWorkers } from "./known.ts";

export interface DrainRequest extends IssuerFields {
  workerId: string;
}

export async function drainWorker(ctx: CommandContext, request: DrainRequest): Promise<CommandResult> {
  const workerId = requireToken(request as unknown as Record<string, unknown>, "workerId");
  const command: ControlCommand = { type: "drain", id: newCommandId(), workerId, ...origin(request) };
  const kv = await ctx.mesh.control();
  const live = liveWorkers(ctx).some((w) => w.workerId === workerId);
  const warnings = live
    ? []
    : [
        `worker "${workerId}" is not live: the drain is recorded and applies if it starts before it is cleared`,
      ];
  return issue(
    ctx,
    command,
    async () => void (await kv.put(ControlKey.drain(workerId), JSON.stringify(command))),
    live ? [workerId] : [],
    request,
    warnings,
  );
}
