// Follows the limits bucket for the queues this worker serves and puts a rate limiter in front of
// a queue's fetcher while any limit applies to it; a queue without a limit keeps no gate at all.
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV, Kvm } from "@nats-io/kv";
import type { Logger } from "pino";
import { type LimitRecord, LimitStore } from "../limits/limit-store.ts";
import { limitsBucket, permitsBucket, targetOfKey } from "../limits/rate.ts";
import type { Subjects } from "../wire/subjects.ts";
import { RateLimiter } from "./rate-limiter.ts";
import type { GatedFetcher } from "./start-gate.ts";

export class RateLimits {
  readonly #limiters = new Map<string, RateLimiter>();
  #stopFollowing: (() => void) | undefined;

  private constructor(
    private readonly fetchers: ReadonlyMap<string, GatedFetcher>,
    private readonly subjects: Subjects,
    private readonly permits: KV,
    private readonly logger: Logger,
  ) {}

  /**
   * Resolves once the limits set before this worker started apply to its fetchers. A mesh whose
   * queues were declared before rate limits existed has no limits bucket: the worker runs
   * without limits (and says so) rather than refusing to start.
   */
  static async follow(
    kvm: Kvm,
    subjects: Subjects,
    fetchers: ReadonlyMap<string, GatedFetcher>,
    logger: Logger,
  ): Promise<RateLimits> {
    const permits = await kvm.open(permitsBucket(subjects.prefix));
    const limits = new RateLimits(fetchers, subjects, permits, logger);
    const store = new LimitStore(await kvm.open(limitsBucket(subjects.prefix)), permits);
    try {
      limits.#stopFollowing = await store.follow(
        (key, record) => limits.#apply(key, record),
        (error) => logger.warn({ err: error }, "rate-limit watch ended; limits stay as they were"),
      );
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound))
        throw error;
      logger.warn(
        { bucket: limitsBucket(subjects.prefix) },
        "no rate-limit bucket: rate limits are off until a queue is declared again with this version",
      );
    }
    return limits;
  }

  #apply(key: string, record: LimitRecord | undefined): void {
    const { queue, name } = targetOfKey(key);
    const fetcher = this.fetchers.get(queue);
    if (fetcher === undefined) return;
    let limiter = this.#limiters.get(queue);
    if (limiter === undefined) {
      if (record === undefined) return;
      limiter = new RateLimiter({
        queue,
        namePrefixLength: this.subjects.queueFilter(queue).length - 1,
        permits: this.permits,
        logger: this.logger.child({ queue }),
      });
      this.#limiters.set(queue, limiter);
      fetcher.setGate(limiter);
    }
    const rate = record === undefined ? undefined : { limit: record.limit, intervalMs: record.intervalMs };
    this.logger.info(
      { queue, jobName: name, rate: rate ?? null },
      rate ? "rate limit set" : "rate limit lifted",
    );
    limiter.setLimit(name, rate);
    if (!limiter.active) {
      limiter.stop();
      this.#limiters.delete(queue);
      fetcher.setGate(undefined);
    }
  }

  /** Per served queue: whether a limit applies, and the jobs held here waiting for a permit. */
  snapshot(): { queue: string; limited: boolean; waiting: number }[] {
    return [...this.fetchers].map(([queue, fetcher]) => ({
      queue,
      limited: this.#limiters.has(queue),
      waiting: fetcher.held,
    }));
  }

  stop(): void {
    this.#stopFollowing?.();
    for (const limiter of this.#limiters.values()) limiter.stop();
  }
}
