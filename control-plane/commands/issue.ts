// Issues a control command the one way the design allows: record it in the control bucket
// first (the truth late joiners read), then broadcast it and collect worker acknowledgements
// until the timeout, and report who answered and who did not.
import { randomUUID } from "node:crypto";
import type { CommandAck, ControlCommand } from "../../runtime/index.ts";
import { isNoResponders } from "../api/client.ts";
import type { CommandResult } from "../api/protocol.ts";
import { invalid } from "../errors.ts";
import type { CommandContext } from "./context.ts";

export interface IssuerFields {
  by?: string;
  reason?: string;
  timeoutMs?: number;
}

const MAX_TIMEOUT_MS = 30_000;

export function newCommandId(): string {
  return randomUUID();
}

/** Who/when/why of a command, from the request. */
export function origin(request: IssuerFields): { by: string; at: number; reason?: string } {
  if (request.by !== undefined && (typeof request.by !== "string" || request.by.length > 200))
    throw invalid("by must be a string of at most 200 characters");
  if (request.reason !== undefined && (typeof request.reason !== "string" || request.reason.length > 1000))
    throw invalid("reason must be a string of at most 1000 characters");
  const result: { by: string; at: number; reason?: string } = {
    by: request.by || "control-plane",
    at: Date.now(),
  };
  if (request.reason) result.reason = request.reason;
  return result;
}

export async function issue(
  ctx: CommandContext,
  command: ControlCommand,
  record: () => Promise<void>,
  expected: readonly string[],
  request: IssuerFields,
  warnings: string[] = [],
): Promise<CommandResult> {
  const timeoutMs = request.timeoutMs ?? ctx.commandTimeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS)
    throw invalid(`timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}`);
  await record();
  const acks = await broadcast(ctx, command, timeoutMs, new Set(expected));
  const acked = new Set(acks.map((ack) => ack.workerId));
  ctx.logger.info(
    { command: command.type, commandId: command.id, acknowledged: acks.length, by: command.by },
    "control command issued",
  );
  return {
    command,
    acks,
    acknowledged: acks.length,
    expected: [...expected],
    missing: expected.filter((workerId) => !acked.has(workerId)),
    warnings,
  };
}

/**
 * Collects acknowledgements until the timeout, or until every expected worker has answered (then
 * waiting longer would only delay the operator; workers not yet in the status may be left out).
 */
async function broadcast(
  ctx: CommandContext,
  command: ControlCommand,
  maxWait: number,
  expected: ReadonlySet<string>,
): Promise<CommandAck[]> {
  const { nc, subjects } = ctx.mesh;
  const acks: CommandAck[] = [];
  try {
    const replies = await nc.requestMany(subjects.control(command.type), JSON.stringify(command), {
      strategy: "timer",
      maxWait,
    });
    for await (const reply of replies) {
      try {
        const ack = reply.json<CommandAck>();
        if (ack.commandId === command.id) acks.push(ack);
      } catch {
        // a reply that is not an acknowledgement is not counted
      }
      if (expected.size > 0 && [...expected].every((id) => acks.some((ack) => ack.workerId === id))) break;
    }
  } catch (error) {
    // No worker listening is a normal answer (an empty fleet); the command is recorded anyway.
    if (!isNoResponders(error)) throw error;
  }
  return acks.sort((a, b) => a.workerId.localeCompare(b.workerId));
}
