// Enqueue one job through the control plane (what `jetmesh enqueue` does), with the same
// client, validation and de-duplication as any producer.
import { type JetmeshClient, QueueNotFoundError, UNIQUE_MAX_AGE_MS } from "../../runtime/index.ts";
import type { EnqueueReply } from "../api/protocol.ts";
import { ApiError, invalid, unknownQueue } from "../errors.ts";
import { optionalInteger, optionalString, requireString, requireToken } from "../validate.ts";
import type { CommandContext } from "./context.ts";

export async function enqueueJob(
  ctx: CommandContext,
  client: JetmeshClient,
  body: Record<string, unknown>,
): Promise<EnqueueReply> {
  const queue = requireToken(body, "queue");
  const name = requireString(body, "name");
  const jobId = optionalString(body, "jobId");
  const encoding = optionalString(body, "encoding");
  if (encoding !== undefined && encoding !== "json" && encoding !== "msgpack")
    throw invalid(`encoding must be "json" or "msgpack", got "${encoding}"`);
  const options: Parameters<JetmeshClient["enqueue"]>[3] = {};
  if (jobId !== undefined) options.jobId = jobId;
  if (encoding !== undefined) options.encoding = encoding;
  const maxAttempts = optionalInteger(body, "maxAttempts", 1, 1000);
  if (maxAttempts !== undefined) options.maxAttempts = maxAttempts;
  const timeoutMs = optionalInteger(body, "timeoutMs", 1, 7 * 24 * 3600_000);
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
  const delay = optionalInteger(body, "delayMs", 0, Number.MAX_SAFE_INTEGER);
  if (delay !== undefined) options.delay = delay;
  const runAt = optionalInteger(body, "runAt", 0, Number.MAX_SAFE_INTEGER);
  if (runAt !== undefined) options.runAt = runAt;
  const uniqueKey = optionalString(body, "uniqueKey");
  const uniqueWindowMs = optionalInteger(body, "uniqueWindowMs", 0, UNIQUE_MAX_AGE_MS);
  if (uniqueWindowMs !== undefined && uniqueKey === undefined)
    throw invalid("uniqueWindowMs needs a uniqueKey: the window belongs to a uniqueness key");
  if (uniqueKey !== undefined) options.unique = { key: uniqueKey, windowMs: uniqueWindowMs ?? 0 };
  const key = optionalString(body, "key");
  if (key !== undefined) options.key = key;
  try {
    const result = await client.enqueue(queue, name, body.payload, options);
    return { ...result };
  } catch (error) {
    if (error instanceof QueueNotFoundError) throw unknownQueue(queue, await ctx.stats.queueNames());
    const code = (error as { code?: string }).code;
    if (code === "INVALID_NAME" || code === "INVALID_OPTIONS") throw invalid((error as Error).message);
    throw new ApiError("ENQUEUE_FAILED", (error as Error).message, undefined, { cause: error });
  }
}
