// Control commands and their durable record. A command is written to the control KV bucket
// first (the truth, honoured by late joiners), then broadcast on `<prefix>.ctl.<type>` as a hint
// that workers act on at once and acknowledge; docs/control-plane.md describes both.

/** Who issued a command and why; kept with its record for the audit trail. */
export interface CommandOrigin {
  by: string;
  at: number;
  reason?: string;
}

export type ControlCommand =
  | ({
      type: "pause";
      id: string;
      queue: string;
      workerId?: string;
      /** When the control plane resumes the queue by itself (ms since epoch); absent: until resumed. */
      expiresAt?: number;
    } & CommandOrigin)
  | ({ type: "resume"; id: string; queue: string; workerId?: string } & CommandOrigin)
  | ({ type: "cancel"; id: string; jobId: string } & CommandOrigin)
  | ({ type: "drain"; id: string; workerId: string } & CommandOrigin);

export type ControlCommandType = ControlCommand["type"];

/** A worker's reply to a broadcast command. */
export interface CommandAck {
  commandId: string;
  workerId: string;
  /** What the command changed on this worker (e.g. "paused", "aborted running job", "not running"). */
  result: string;
}

/** Keys of the control bucket (`<prefix>_control`). */
export const ControlKey = {
  /** Present while a queue is paused fleet-wide. */
  pausedQueue: (queue: string) => `paused.${queue}`,
  /** Present while a queue is paused on one worker only. */
  pausedOnWorker: (queue: string, workerId: string) => `paused.${queue}.${workerId}`,
  /** Present once a job was cancelled: it must never run (again). */
  cancelledJob: (jobKey: string) => `cancelled.${jobKey}`,
  /** Present while a worker is asked to drain and exit. */
  drain: (workerId: string) => `drain.${workerId}`,
} as const;

export function controlBucket(prefix: string): string {
  return `${prefix}_control`;
}
