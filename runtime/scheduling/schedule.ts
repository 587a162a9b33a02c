// A recurring schedule: what it enqueues, the rule of its due times (cron in a time zone, a fixed
// interval, or one time), its bounds and policies, and the rules that validate it. Pure: no I/O,
// and every computation takes the time as an argument.
import { Cron } from "croner";
import { JetmeshError } from "../errors.ts";
import { assertJobName, assertToken } from "../wire/names.ts";

export type ScheduleRule =
  /** 5 fields (minute precision) or 6 (seconds first); `timezone` is an IANA name. @default UTC */
  | { cron: string; timezone?: string }
  /** Every `everyMs` from the schedule's start (its `startAt`, or its creation). */
  | { everyMs: number }
  /** Once, at this time (ms since epoch); a time already past when created means now. */
  | { at: number };

/** Runs missed while no scheduler ran: skip them all, or run once for the latest of them. */
export type MissedRunPolicy = "skip" | "catch-up";

export interface ScheduleJobOptions {
  encoding?: "json" | "msgpack";
  maxAttempts?: number;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/** What a producer gives to create a schedule. */
export interface ScheduleSpec {
  /** 1-100 characters of A-Z a-z 0-9 _ -. */
  id: string;
  queue: string;
  /** The job name each run enqueues. */
  name: string;
  payload?: unknown;
  jobOptions?: ScheduleJobOptions;
  rule: ScheduleRule;
  /** No run before this time (ms since epoch). */
  startAt?: number;
  /** No run after this time (ms since epoch). */
  endAt?: number;
  paused?: boolean;
  /** @default "skip" */
  missed?: MissedRunPolicy;
}

export interface Schedule extends ScheduleSpec {
  paused: boolean;
  missed: MissedRunPolicy;
  createdAt: number;
  updatedAt: number;
}

/** What the scheduler records after each run; `schedule show` displays it. */
export interface ScheduleState {
  /** The due time of the last run (the scheduler never fires a due time at or before it again). */
  lastDueAt?: number;
  /** When the last run was fired. */
  lastFireAt?: number;
  lastJobId?: string;
  /** The next due time, or null when the schedule has no more runs. */
  nextFireAt: number | null;
  lastError?: { at: number; message: string };
}

export class InvalidScheduleError extends JetmeshError {
  constructor(message: string) {
    super("INVALID_SCHEDULE", message);
    this.name = "InvalidScheduleError";
  }
}

const SCHEDULE_ID = /^[A-Za-z0-9_-]{1,100}$/;
/** Shortest interval: the scheduler's resolution is a fraction of a second. */
export const MIN_INTERVAL_MS = 1000;

/** The job id of the run due at `dueAt`: the same on every replica, so JetStream keeps one. */
export function scheduledJobId(scheduleId: string, dueAt: number): string {
  return `sched-${scheduleId}-${dueAt}`;
}

/** Checks a spec and returns the schedule to store; every error names the field and the rule. */
export function validateSchedule(input: unknown, now: number, previous?: Schedule): Schedule {
  if (typeof input !== "object" || input === null)
    throw new InvalidScheduleError("a schedule must be an object");
  const spec = input as Record<string, unknown>;
  const id = spec.id;
  if (typeof id !== "string" || !SCHEDULE_ID.test(id))
    throw new InvalidScheduleError(
      `id must be 1-100 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(id)}`,
    );
  const queue = requireText(spec, "queue");
  const name = requireText(spec, "name");
  try {
    assertToken("queue", queue);
    assertJobName(name);
  } catch (error) {
    throw new InvalidScheduleError((error as Error).message);
  }
  const createdAt = previous?.createdAt ?? now;
  // An unchanged one-time rule keeps its time: moving a past one to now would run it again.
  const rule =
    previous !== undefined && JSON.stringify(spec.rule) === JSON.stringify(previous.rule)
      ? previous.rule
      : validateRule(spec.rule, now);
  const startAt = optionalTime(spec, "startAt");
  const endAt = optionalTime(spec, "endAt");
  if (startAt !== undefined && endAt !== undefined && endAt <= startAt)
    throw new InvalidScheduleError("endAt must be later than startAt");
  if (endAt !== undefined && endAt <= now)
    throw new InvalidScheduleError("endAt is in the past: the schedule would never run");
  const missed = spec.missed ?? "skip";
  if (missed !== "skip" && missed !== "catch-up")
    throw new InvalidScheduleError(`missed must be "skip" or "catch-up", got ${JSON.stringify(missed)}`);
  if (spec.paused !== undefined && typeof spec.paused !== "boolean")
    throw new InvalidScheduleError("paused must be true or false");
  const schedule: Schedule = {
    id,
    queue,
    name,
    rule,
    paused: spec.paused === true,
    missed,
    createdAt,
    updatedAt: now,
  };
  if (spec.payload !== undefined) schedule.payload = spec.payload;
  const jobOptions = validateJobOptions(spec.jobOptions);
  if (jobOptions !== undefined) schedule.jobOptions = jobOptions;
  if (startAt !== undefined) schedule.startAt = startAt;
  if (endAt !== undefined) schedule.endAt = endAt;
  return schedule;
}

function validateRule(input: unknown, now: number): ScheduleRule {
  if (typeof input !== "object" || input === null)
    throw new InvalidScheduleError("rule is required: { cron, timezone? }, { everyMs } or { at }");
  const rule = input as Record<string, unknown>;
  const kinds = ["cron", "everyMs", "at"].filter((key) => rule[key] !== undefined);
  if (kinds.length !== 1) throw new InvalidScheduleError("rule must have exactly one of cron, everyMs or at");
  if (rule.cron !== undefined) {
    const timezone = rule.timezone;
    if (timezone !== undefined && (typeof timezone !== "string" || timezone === ""))
      throw new InvalidScheduleError("rule.timezone must be an IANA time zone name, e.g. Europe/Berlin");
    const result: ScheduleRule =
      timezone === undefined ? { cron: String(rule.cron) } : { cron: String(rule.cron), timezone };
    cronOf(result);
    return result;
  }
  if (rule.everyMs !== undefined) {
    const every = rule.everyMs;
    if (typeof every !== "number" || !Number.isSafeInteger(every) || every < MIN_INTERVAL_MS)
      throw new InvalidScheduleError(`rule.everyMs must be a whole number of ms ≥ ${MIN_INTERVAL_MS}`);
    return { everyMs: every };
  }
  const at = rule.at;
  if (typeof at !== "number" || !Number.isSafeInteger(at) || at < 0)
    throw new InvalidScheduleError("rule.at must be a time in whole ms since the epoch");
  // A one-time run whose time has passed runs at once (docs/scheduling.md).
  return { at: Math.max(at, now) };
}

/** Parses a cron rule; the error says which field is wrong (croner names it). */
function cronOf(rule: { cron: string; timezone?: string }): Cron {
  const fields = rule.cron.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6)
    throw new InvalidScheduleError(
      `cron expression "${rule.cron}" has ${fields.length} fields: use 5 (minute hour day-of-month month day-of-week) or 6 (second first)`,
    );
  const timezone = rule.timezone ?? "UTC";
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
  } catch {
    throw new InvalidScheduleError(`unknown time zone "${timezone}": use an IANA name such as Europe/Berlin`);
  }
  try {
    return new Cron(rule.cron, { timezone, paused: true });
  } catch (error) {
    // croner counts months from 0 inside and reports them so: give the month as written.
    const detail = (error as Error).message
      .replace(/^CronPattern: /, "")
      .replace(/month: (\d+)/, (_, month: string) => `month: ${Number(month) + 1}`);
    throw new InvalidScheduleError(`cron expression "${rule.cron}" is invalid: ${detail}`);
  }
}

function validateJobOptions(input: unknown): ScheduleJobOptions | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input !== "object") throw new InvalidScheduleError("jobOptions must be an object");
  const options = input as Record<string, unknown>;
  const result: ScheduleJobOptions = {};
  if (options.encoding !== undefined) {
    if (options.encoding !== "json" && options.encoding !== "msgpack")
      throw new InvalidScheduleError('jobOptions.encoding must be "json" or "msgpack"');
    result.encoding = options.encoding;
  }
  for (const key of ["maxAttempts", "timeoutMs"] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1)
      throw new InvalidScheduleError(`jobOptions.${key} must be a positive integer`);
    result[key] = value;
  }
  if (options.headers !== undefined) {
    const headers = options.headers;
    if (
      typeof headers !== "object" ||
      headers === null ||
      Object.values(headers).some((v) => typeof v !== "string")
    )
      throw new InvalidScheduleError("jobOptions.headers must map header names to strings");
    result.headers = headers as Record<string, string>;
  }
  return result;
}

function requireText(spec: Record<string, unknown>, field: string): string {
  const value = spec[field];
  if (typeof value !== "string" || value === "") throw new InvalidScheduleError(`${field} is required`);
  return value;
}

function optionalTime(spec: Record<string, unknown>, field: string): number | undefined {
  const value = spec[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
    throw new InvalidScheduleError(`${field} must be a time in whole ms since the epoch`);
  return value;
}

/** The first due time strictly after `after`, within the schedule's bounds; null when none is left. */
export function nextDueAfter(schedule: Schedule, after: number): number | null {
  const from = schedule.startAt === undefined ? after : Math.max(after, schedule.startAt - 1);
  const rule = schedule.rule;
  let next: number | null;
  if ("at" in rule) next = rule.at > from ? rule.at : null;
  else if ("everyMs" in rule) {
    const anchor = schedule.startAt ?? schedule.createdAt;
    next = from < anchor ? anchor : anchor + (Math.floor((from - anchor) / rule.everyMs) + 1) * rule.everyMs;
  } else next = cronOf(rule).nextRun(new Date(from))?.getTime() ?? null;
  if (next === null || (schedule.endAt !== undefined && next > schedule.endAt)) return null;
  return next;
}

/** Due times in (after, until], oldest first; at most `max` of them (the earliest). */
export function dueTimesBetween(schedule: Schedule, after: number, until: number, max = 1000): number[] {
  const times: number[] = [];
  for (
    let next = nextDueAfter(schedule, after);
    next !== null && next <= until && times.length < max;
    next = nextDueAfter(schedule, next)
  )
    times.push(next);
  return times;
}

/** The last due time at or before `at`, within the schedule's bounds; null when there is none. */
export function lastDueAtOrBefore(schedule: Schedule, at: number): number | null {
  const until = schedule.endAt === undefined ? at : Math.min(at, schedule.endAt);
  const rule = schedule.rule;
  let last: number | null;
  if ("at" in rule) last = rule.at <= until ? rule.at : null;
  else if ("everyMs" in rule) {
    const anchor = schedule.startAt ?? schedule.createdAt;
    last = until < anchor ? null : anchor + Math.floor((until - anchor) / rule.everyMs) * rule.everyMs;
  } else
    last =
      cronOf(rule)
        .previousRuns(1, new Date(until + 1))[0]
        ?.getTime() ?? null;
  if (last === null || (schedule.startAt !== undefined && last < schedule.startAt)) return null;
  return last;
}
