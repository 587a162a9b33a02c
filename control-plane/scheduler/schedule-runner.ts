// Fires recurring schedules. Definitions and states are mirrored from the schedules bucket by a
// watch (schedules are few; their runs may be many), so a pass reads nothing. Each due time is
// enqueued under a job id derived from the schedule and the due time: two replicas firing the
// same run store one job. Runs missed while no scheduler ran are skipped, or caught up once.
import type { KvWatchEntry } from "@nats-io/kv";
import type { Logger } from "pino";
import {
  dueTimesBetween,
  Header,
  type JetmeshClient,
  lastDueAtOrBefore,
  nextDueAfter,
  type Schedule,
  type ScheduleState,
  ScheduleStore,
  scheduledJobId,
} from "../../runtime/index.ts";
import type { Mesh } from "../mesh.ts";

export class ScheduleRunner {
  #store: ScheduleStore | undefined;
  readonly #definitions = new Map<string, Schedule>();
  readonly #states = new Map<string, ScheduleState>();
  #stopWatch: (() => void) | undefined;

  constructor(
    private readonly mesh: Mesh,
    private readonly client: JetmeshClient,
    private readonly logger: Logger,
    private readonly replicas: number,
  ) {}

  async start(): Promise<void> {
    this.#store = await ScheduleStore.open(this.mesh.nc, this.mesh.subjects, this.replicas);
    const watch = await this.#store.kv.watch();
    this.#stopWatch = () => watch.stop();
    void (async () => {
      for await (const entry of watch) this.#apply(entry);
    })().catch((error: unknown) => this.logger.warn({ err: error }, "schedules watch ended"));
  }

  stop(): void {
    this.#stopWatch?.();
  }

  #apply(entry: KvWatchEntry): void {
    const present = entry.operation === "PUT";
    const [kind, id] = [
      entry.key.slice(0, entry.key.indexOf(".")),
      entry.key.slice(entry.key.indexOf(".") + 1),
    ];
    try {
      if (kind === "def") {
        if (present) this.#definitions.set(id, entry.json<Schedule>());
        else this.#definitions.delete(id);
      } else if (kind === "state") {
        if (present) this.#states.set(id, entry.json<ScheduleState>());
        else this.#states.delete(id);
      }
    } catch (error) {
      this.logger.warn({ err: error, key: entry.key }, "unreadable entry in the schedules bucket");
    }
  }

  /**
   * Fires every run due by now, then records each schedule's new state. Runs due at or before
   * `activeSince` (when this replica took the lease) came due while no scheduler ran: missed.
   */
  async fireDue(active: () => boolean, activeSince: number, now = Date.now()): Promise<void> {
    for (const schedule of this.#definitions.values()) {
      if (!active()) return;
      if (schedule.paused) continue;
      await this.#fireSchedule(schedule, activeSince, now);
    }
  }

  async #fireSchedule(schedule: Schedule, activeSince: number, now: number): Promise<void> {
    const state = this.#states.get(schedule.id) ?? { nextFireAt: null };
    const lastDue = state.lastDueAt ?? schedule.createdAt;
    const onTime = dueTimesBetween(schedule, Math.max(lastDue, activeSince), now);
    // Only the latest missed run matters (catch-up runs once), so missed runs are not listed.
    const latestMissed = lastDueAtOrBefore(schedule, Math.min(activeSince, now));
    const missed = latestMissed !== null && latestMissed > lastDue ? latestMissed : undefined;
    const latest = onTime.at(-1) ?? missed;
    if (latest === undefined) return;
    // A one-time run is never skipped: late is better than never.
    const catchUp = schedule.missed === "catch-up" || "at" in schedule.rule;
    const runs = catchUp && missed !== undefined ? [missed, ...onTime] : onTime;
    if (missed !== undefined)
      this.logger.info(
        { scheduleId: schedule.id, latestMissed: missed, caughtUp: catchUp },
        "runs were missed while no scheduler ran",
      );
    const next: ScheduleState = { ...state, lastDueAt: latest };
    for (const dueAt of runs) {
      try {
        next.lastJobId = await this.#enqueue(schedule, dueAt);
        next.lastFireAt = Date.now();
      } catch (error) {
        next.lastError = { at: Date.now(), message: (error as Error).message ?? String(error) };
        this.logger.warn(
          { err: error, scheduleId: schedule.id, dueAt },
          "schedule run could not be enqueued",
        );
      }
    }
    next.nextFireAt = nextDueAfter(schedule, Math.max(now, latest));
    this.#states.set(schedule.id, next);
    await this.#store?.writeState(schedule.id, next);
  }

  async #enqueue(schedule: Schedule, dueAt: number): Promise<string> {
    const options = schedule.jobOptions ?? {};
    const result = await this.client.enqueue(schedule.queue, schedule.name, schedule.payload, {
      ...options,
      jobId: scheduledJobId(schedule.id, dueAt),
      runAt: dueAt,
      headers: { ...options.headers, [Header.ScheduleId]: schedule.id },
    });
    return result.jobId;
  }
}
