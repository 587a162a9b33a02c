// Resumes pauses whose expiry has passed. The expiry lives in the pause record in the control
// bucket, so whichever replica ticks first (or one restarted meanwhile) resumes it; a
// compare-and-delete on the record's revision lets exactly one replica claim each expiry.
import type { Logger } from "pino";
import type { CommandResult } from "../api/protocol.ts";
import type { Mesh } from "../mesh.ts";
import { readControlRecords } from "../status/control-records.ts";

/** The identity expiry resumes are issued and audited under. */
export const EXPIRY_ISSUER = "pause-expiry";

export type ResumeHandler = (body: Record<string, unknown>) => Promise<CommandResult>;

export async function resumeExpiredPauses(
  mesh: Mesh,
  resume: ResumeHandler,
  logger: Logger,
  now = Date.now(),
): Promise<number> {
  const records = await readControlRecords(mesh, "paused.>");
  const due = records.filter((r) => typeof r.value.expiresAt === "number" && r.value.expiresAt <= now);
  if (due.length === 0) return 0;
  const kv = await mesh.control();
  let resumed = 0;
  for (const record of due) {
    const entry = await kv.get(record.key);
    if (entry === null || entry.operation !== "PUT") continue;
    const expiresAt = (entry.json() as { expiresAt?: unknown }).expiresAt;
    if (typeof expiresAt !== "number" || expiresAt > now) continue; // renewed meanwhile
    try {
      await kv.delete(record.key, { previousSeq: entry.revision });
    } catch {
      continue; // another replica claimed it, or the pause was renewed meanwhile
    }
    const [queue, workerId] = record.key.slice("paused.".length).split(".");
    const body: Record<string, unknown> = {
      queue,
      by: EXPIRY_ISSUER,
      reason: `the pause by ${String(record.value.by ?? "unknown")} expired`,
    };
    if (workerId !== undefined) body.workerId = workerId;
    try {
      await resume(body);
      resumed++;
    } catch (error) {
      logger.warn({ err: error, key: record.key }, "could not resume an expired pause");
    }
  }
  return resumed;
}
