// Recurring schedules in a KV bucket (`<prefix>_schedules`): `def.<id>` holds what a producer
// defined, `state.<id>` what the scheduler did with it (last run, next run, last error). Kept
// apart so a producer's edit and the scheduler's bookkeeping never overwrite each other.
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { JetmeshError } from "../errors.ts";
import type { Subjects } from "../wire/subjects.ts";
import {
  nextDueAfter,
  type Schedule,
  type ScheduleSpec,
  type ScheduleState,
  validateSchedule,
} from "./schedule.ts";

export function schedulesBucket(prefix: string): string {
  return `${prefix}_schedules`;
}

export const ScheduleKey = {
  definition: (id: string) => `def.${id}`,
  state: (id: string) => `state.${id}`,
} as const;

/** A schedule with what the scheduler knows of it. */
export interface ScheduleView {
  schedule: Schedule;
  state: ScheduleState;
}

/** Fields `update` may change; the id never changes. */
export type ScheduleChanges = Partial<Omit<ScheduleSpec, "id">>;

export class ScheduleNotFoundError extends JetmeshError {
  constructor(id: string) {
    super("SCHEDULE_NOT_FOUND", `no schedule "${id}"`);
    this.name = "ScheduleNotFoundError";
  }
}

export class ScheduleStore {
  private constructor(readonly kv: KV) {}

  /** Opens the bucket, creating it on first use. */
  static async open(nc: NatsConnection, subjects: Subjects, replicas = 1): Promise<ScheduleStore> {
    return new ScheduleStore(
      await new Kvm(nc).create(schedulesBucket(subjects.prefix), { history: 5, replicas }),
    );
  }

  async create(spec: ScheduleSpec, now = Date.now()): Promise<ScheduleView> {
    const schedule = validateSchedule(spec, now);
    try {
      await this.kv.create(ScheduleKey.definition(schedule.id), JSON.stringify(schedule));
    } catch (error) {
      if (/wrong last sequence|key exists/i.test((error as Error).message))
        throw new JetmeshError(
          "SCHEDULE_EXISTS",
          `schedule "${schedule.id}" already exists: update it, or remove it first`,
        );
      throw error;
    }
    const state: ScheduleState = { lastDueAt: now, nextFireAt: nextDueAfter(schedule, now) };
    // A one-time run whose time has passed is due now, not skipped as already done.
    if ("at" in schedule.rule && schedule.rule.at <= now) {
      state.lastDueAt = schedule.rule.at - 1;
      state.nextFireAt = schedule.rule.at;
    }
    await this.kv.put(ScheduleKey.state(schedule.id), JSON.stringify(state));
    return { schedule, state };
  }

  async update(id: string, changes: ScheduleChanges, now = Date.now()): Promise<ScheduleView> {
    const entry = await this.kv.get(ScheduleKey.definition(id));
    if (entry === null || entry.operation !== "PUT") throw new ScheduleNotFoundError(id);
    const previous = entry.json<Schedule>();
    const schedule = validateSchedule({ ...previous, ...changes, id }, now, previous);
    await this.kv.update(ScheduleKey.definition(id), JSON.stringify(schedule), entry.revision);
    const state = await this.state(id);
    const resumed = previous.paused && !schedule.paused;
    // Runs due while paused are skipped, not caught up; a new rule counts from now.
    const from = resumed || changes.rule !== undefined ? now : (state.lastDueAt ?? now);
    const next: ScheduleState = { ...state, lastDueAt: from, nextFireAt: nextDueAfter(schedule, from) };
    await this.kv.put(ScheduleKey.state(id), JSON.stringify(next));
    return { schedule, state: next };
  }

  pause(id: string): Promise<ScheduleView> {
    return this.update(id, { paused: true });
  }

  resume(id: string): Promise<ScheduleView> {
    return this.update(id, { paused: false });
  }

  async delete(id: string): Promise<void> {
    const entry = await this.kv.get(ScheduleKey.definition(id));
    if (entry === null || entry.operation !== "PUT") throw new ScheduleNotFoundError(id);
    await this.kv.delete(ScheduleKey.definition(id));
    await this.kv.delete(ScheduleKey.state(id));
  }

  async get(id: string): Promise<ScheduleView> {
    const entry = await this.kv.get(ScheduleKey.definition(id));
    if (entry === null || entry.operation !== "PUT") throw new ScheduleNotFoundError(id);
    const schedule = entry.json<Schedule>();
    return { schedule, state: await this.state(id, schedule) };
  }

  async list(): Promise<ScheduleView[]> {
    const ids: string[] = [];
    for await (const key of await this.kv.keys("def.*")) ids.push(key.slice("def.".length));
    const views = await Promise.all(ids.sort().map((id) => this.get(id).catch(() => undefined)));
    return views.filter((view): view is ScheduleView => view !== undefined);
  }

  /** The scheduler's record; for a schedule never run, when it will first run. */
  async state(id: string, schedule?: Schedule): Promise<ScheduleState> {
    const entry = await this.kv.get(ScheduleKey.state(id));
    if (entry !== null && entry.operation === "PUT") return entry.json<ScheduleState>();
    return { nextFireAt: schedule === undefined ? null : nextDueAfter(schedule, Date.now()) };
  }

  async writeState(id: string, state: ScheduleState): Promise<void> {
    await this.kv.put(ScheduleKey.state(id), JSON.stringify(state));
  }
}
