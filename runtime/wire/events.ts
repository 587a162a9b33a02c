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
 * a JSON object is skipped, so it never costs the others; a payload that is one JSON object spread
 * over several lines (written by hand) is read as that one event.
 */
export function parseLifecycleEvents(data: Uint8Array | string): LifecycleEvent[] {
  const text = typeof data === "string" ? data : decoder.decode(data);
  const events: LifecycleEvent[] = [];
  let malformed = false;
  for (const line of text.split(LIFECYCLE_EVENT_SEPARATOR)) {
    if (line.trim() === "") continue;
    const event = parseObject(line);
    if (event === undefined) malformed = true;
    else events.push(event);
  }
  if (malformed && events.length === 0) {
    const whole = parseObject(text);
    if (whole !== undefined) events.push(whole);
  }
  return events;
}

function parseObject(text: string): LifecycleEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as LifecycleEvent)
    : undefined;
}
