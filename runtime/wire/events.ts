// Lifecycle events published on `<prefix>.evt.<queue>.<type>` as JSON, for live listeners.
import type { LifecycleEventType } from "./subjects.ts";

export interface LifecycleEvent {
  type: LifecycleEventType;
  jobId: string;
  queue: string;
  name: string;
  attempt: number;
  workerId: string;
  /** When it happened, ms since epoch. */
  at: number;
  /** completed / failed: how long the attempt ran. */
  durationMs?: number;
  /** started: time from enqueue to start. */
  waitMs?: number;
  /** failed / retrying / dead. */
  error?: { class: string; message: string; kind: string };
  /** retrying: delay before the next attempt. */
  retryInMs?: number;
  /** dead: why. */
  reason?: string;
  /** progress: the value the handler reported. */
  progress?: unknown;
}
