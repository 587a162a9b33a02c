// Job ids: random by default, or chosen by the producer to make enqueue idempotent.
import { createHash, randomUUID } from "node:crypto";
import { JetmeshError } from "../errors.ts";

const JOB_ID = /^[A-Za-z0-9_=-][A-Za-z0-9_=./-]{0,199}$/;
const KV_KEY = /^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$/;

export function newJobId(): string {
  return randomUUID();
}

export function assertJobId(jobId: string): void {
  if (!JOB_ID.test(jobId)) {
    throw new JetmeshError(
      "INVALID_NAME",
      `invalid job id "${jobId}": use 1-200 characters from A-Z a-z 0-9 _ = - . / (not starting with . or /)`,
    );
  }
}

/** A KV key for a job id; ids from foreign producers that are not valid keys are hashed. */
export function jobKey(jobId: string): string {
  return KV_KEY.test(jobId) ? jobId : `sha256-${createHash("sha256").update(jobId).digest("hex")}`;
}
