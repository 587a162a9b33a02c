// A queue's rate limits as a start gate: a stock of permits per limit (queue-wide, and per limited
// job name), claimed from the fleet-wide counter when short and spent as jobs start. Permits in
// hand belong to one window and lapse with it, so the fleet starts at most `limit` jobs per window.
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import type { Delivery } from "../jetstream/delivery.ts";
import { claimPermits, windowAt } from "../limits/permit-counter.ts";
import { limitKey, type RateLimit } from "../limits/rate.ts";
import type { StartGate } from "./start-gate.ts";

/** Wait before claiming again after the counter could not be reached. */
const CLAIM_RETRY_MS = 500;

/** The permits this worker holds for one limit, and what it still wants of them. */
class PermitStock {
  #window = -1;
  #inHand = 0;
  /** Permits wanted for pulls not made for want of them (the latest count asked). */
  #pullDemand = 0;
  /** Delivered jobs refused since the last claim. */
  #startDemand = 0;
  #claiming = false;
  /** The window whose permits are all granted: no claim until the clock is past it. */
  #spentWindow = -1;
  #timer: NodeJS.Timeout | undefined;
  /** Set when the limit is lifted or the worker stops: a claim still in flight then changes nothing. */
  #stopped = false;

  constructor(
    readonly key: string,
    private rate: RateLimit,
    private readonly permits: KV,
    private readonly notify: () => void,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** Permits in hand for the current window. */
  available(): number {
    if (this.#inHand > 0 && windowAt(this.now(), this.rate.intervalMs) > this.#window) this.#inHand = 0;
    return this.#inHand;
  }

  take(): boolean {
    if (this.available() > 0) {
      this.#inHand--;
      return true;
    }
    this.#startDemand++;
    this.#claim();
    return false;
  }

  /** Undoes a take whose job could not start after all (another limit refused it). */
  giveBack(): void {
    this.#inHand++;
  }

  wantForPulls(count: number): void {
    this.#pullDemand = Math.max(this.#pullDemand, count);
    if (count > 0) this.#claim();
  }

  /**
   * A changed limit may grant more in a window this stock found spent; a changed interval counts
   * windows differently, so the permits in hand (numbered in the old one) lapse.
   */
  changeRate(rate: RateLimit): void {
    if (rate.intervalMs !== this.rate.intervalMs) {
      this.#inHand = 0;
      this.#window = -1;
    }
    this.rate = rate;
    this.#spentWindow = -1;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #claim(): void {
    const wanted = this.#pullDemand + this.#startDemand;
    if (this.#stopped || this.#claiming || this.#timer !== undefined || wanted === 0) return;
    const now = this.now();
    if (windowAt(now, this.rate.intervalMs) <= this.#spentWindow) {
      // Up to two intervals: the spent window may be the next one (this clock behind the fleet's).
      const untilNext = (this.#spentWindow + 1) * this.rate.intervalMs - now;
      this.#retryAt(Math.min(untilNext, 2 * this.rate.intervalMs));
      return;
    }
    this.#claiming = true;
    claimPermits(this.permits, this.key, this.rate, wanted, this.now).then(
      (claim) => {
        this.#claiming = false;
        if (claim.granted > 0) {
          if (claim.window !== this.#window) this.#inHand = 0;
          this.#window = claim.window;
          this.#inHand += claim.granted;
        }
        if (claim.spent) this.#spentWindow = claim.window;
        this.#settled();
      },
      (error: unknown) => {
        this.#claiming = false;
        if (this.#stopped) return;
        this.logger.warn({ err: error, limit: this.key }, "could not claim rate-limit permits; trying again");
        this.#retryAt(CLAIM_RETRY_MS);
      },
    );
  }

  #retryAt(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#settled();
    }, delayMs);
    this.#timer.unref();
  }

  /** The fetcher says afresh what it still wants (which sets the demand) once it sees the change. */
  #settled(): void {
    this.#pullDemand = 0;
    this.#startDemand = 0;
    this.notify();
  }
}

export interface RateLimiterOptions {
  queue: string;
  /** Length of `<prefix>.q.<queue>.`: a delivery's subject past it is its job name. */
  namePrefixLength: number;
  permits: KV;
  logger: Logger;
  now?: () => number;
}

export class RateLimiter implements StartGate {
  onReady: (() => void) | undefined;
  #queueStock: PermitStock | undefined;
  readonly #nameStocks = new Map<string, PermitStock>();

  constructor(private readonly options: RateLimiterOptions) {}

  /** True while any limit applies to the queue. */
  get active(): boolean {
    return this.#queueStock !== undefined || this.#nameStocks.size > 0;
  }

  /** Sets (rate) or lifts (undefined) the limit of the queue, or of one job name in it. */
  setLimit(name: string | undefined, rate: RateLimit | undefined): void {
    const current = name === undefined ? this.#queueStock : this.#nameStocks.get(name);
    let next: PermitStock | undefined;
    if (rate === undefined) current?.stop();
    else if (current !== undefined) {
      current.changeRate(rate);
      next = current;
    } else {
      const { queue, permits, logger, now = Date.now } = this.options;
      next = new PermitStock(limitKey({ queue, name }), rate, permits, () => this.onReady?.(), logger, now);
    }
    if (name === undefined) this.#queueStock = next;
    else if (next === undefined) this.#nameStocks.delete(name);
    else this.#nameStocks.set(name, next);
    this.onReady?.();
  }

  pullable(free: number, committed: number): number {
    const stock = this.#queueStock;
    if (stock === undefined) return free;
    const pullable = Math.min(free, Math.max(0, stock.available() - committed));
    stock.wantForPulls(free - pullable);
    return pullable;
  }

  admit(delivery: Delivery): boolean {
    const nameStock =
      this.#nameStocks.size === 0
        ? undefined
        : this.#nameStocks.get(delivery.subject.slice(this.options.namePrefixLength));
    if (nameStock !== undefined && !nameStock.take()) return false;
    if (this.#queueStock !== undefined && !this.#queueStock.take()) {
      nameStock?.giveBack();
      return false;
    }
    return true;
  }

  stop(): void {
    this.#queueStock?.stop();
    for (const stock of this.#nameStocks.values()) stock.stop();
  }
}
