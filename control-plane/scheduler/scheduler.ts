// The scheduler inside each control-plane replica: a lease picks the one replica that is active;
// the active one fires due delayed jobs and recurring schedules in a loop. Everything it needs
// to resume (cursor, schedule states) is in JetStream, so a replica taking over continues where
// the last one stopped.
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { type JetmeshClient, Lease, type LeaseRecord } from "../../runtime/index.ts";
import type { SchedulerStatusReply } from "../api/protocol.ts";
import type { Mesh } from "../mesh.ts";
import { DelayFirer } from "./delay-firer.ts";
import { ScheduleRunner } from "./schedule-runner.ts";

export interface SchedulerOptions {
  replicaId: string;
  /** Pause between two passes over what is due. */
  tickMs: number;
  /** How long a silent active replica keeps the lease before another takes over. */
  leaseMs: number;
  /** Replicas of the scheduler's bucket. */
  replicas: number;
}

const LEASE_KEY = "lease";

export function schedulerBucket(prefix: string): string {
  return `${prefix}_scheduler`;
}

export class Scheduler {
  #lease: Lease | undefined;
  #firer: DelayFirer | undefined;
  #schedules: ScheduleRunner | undefined;
  #leaseTimer: NodeJS.Timeout | undefined;
  #loopTimer: NodeJS.Timeout | undefined;
  #pass: Promise<void> = Promise.resolve();
  #wasActive = false;
  #stopped = false;

  constructor(
    private readonly mesh: Mesh,
    private readonly client: JetmeshClient,
    private readonly logger: Logger,
    private readonly options: SchedulerOptions,
  ) {}

  async start(): Promise<void> {
    const kv: KV = await this.mesh.kvm.create(schedulerBucket(this.mesh.prefix), {
      history: 1,
      replicas: this.options.replicas,
    });
    const logger = this.logger.child({ component: "scheduler" });
    this.#lease = new Lease(kv, LEASE_KEY, this.options.replicaId, { leaseMs: this.options.leaseMs }, logger);
    this.#firer = new DelayFirer(this.mesh, kv, logger, { graceSeconds: 2, batchSize: 10_000 });
    this.#schedules = new ScheduleRunner(this.mesh, this.client, logger, this.options.replicas);
    await this.#schedules.start();
    const lease = this.#lease;
    // One check at a time: a slow renewal overlapped by the next would fail its own
    // compare-and-set and step down for nothing.
    let checking = false;
    const renew = () => {
      if (checking) return;
      checking = true;
      void lease.tick().finally(() => {
        checking = false;
      });
    };
    renew();
    this.#leaseTimer = setInterval(renew, Math.max(100, Math.floor(this.options.leaseMs / 4)));
    this.#leaseTimer.unref();
    this.#schedule();
  }

  /**
   * Stops the loop. With `release` (a clean stop) the lease is given up so another replica takes
   * over at once; without it, the others wait out the lease as after a crash.
   */
  async stop({ release = true } = {}): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#leaseTimer);
    clearTimeout(this.#loopTimer);
    await this.#pass;
    this.#schedules?.stop();
    if (release) await this.#lease?.release();
  }

  async status(): Promise<SchedulerStatusReply> {
    const record: LeaseRecord | undefined = await this.#lease?.current().catch(() => undefined);
    const active = this.#lease?.held ?? false;
    return {
      active,
      holder: record?.holder ?? null,
      activeSince: active ? (this.#lease?.acquiredAt ?? null) : null,
    };
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#loopTimer = setTimeout(() => {
      this.#pass = this.#runPass()
        .catch((error: unknown) => this.logger.warn({ err: error }, "scheduler pass failed"))
        .finally(() => this.#schedule());
    }, this.options.tickMs);
    this.#loopTimer.unref();
  }

  async #runPass(): Promise<void> {
    const lease = this.#lease;
    const firer = this.#firer;
    const schedules = this.#schedules;
    if (lease === undefined || firer === undefined || schedules === undefined) return;
    const active = () => !this.#stopped && lease.held;
    if (!active()) {
      this.#wasActive = false;
      return;
    }
    if (!this.#wasActive) {
      // Another replica may have moved the cursor meanwhile (schedule states arrive by watch).
      firer.reset();
      this.#wasActive = true;
    }
    await schedules.fireDue(active, lease.acquiredAt);
    await firer.fireDue(active);
  }
}
