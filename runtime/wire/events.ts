// Lifecycle events published on `<prefix>.evt.<queue>.<type>` as JSON, for live listeners.
// One message carries one event as a JSON object, or several as newline-separated JSON objects
// (docs/wire-format.md, "Lifecycle events"): every listener reads them through
// parseLifecycleEvents.
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

/** Separates the events of one message; JSON text never holds a raw newline. */
export const LIFECYCLE_EVENT_SEPARATOR = "\n";

const decoder = new TextDecoder();

/**
 * The events of one lifecycle event message, in the order they were published. A line that is not
 * a JSON object is skipped, so it never costs the others.
 */
export function parseLifecycleEvents(data: Uint8Array | string): LifecycleEvent[] {
  const text = typeof data === "string" ? data : decoder.decode(data);
  const events: LifecycleEvent[] = [];
  for (const line of text.split(LIFECYCLE_EVENT_SEPARATOR)) {
    if (line.trim() === "") continue;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof event === "object" && event !== null && !Array.isArray(event))
      events.push(event as LifecycleEvent);
  }
  return events;
}
