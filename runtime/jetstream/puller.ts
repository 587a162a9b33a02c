// Pulls messages from a durable pull consumer, asking for exactly as many as the caller has room
// for. The library's consume() refills as messages arrive, not as they are processed, so it would
// buffer jobs whose ack wait is already running; fetch() costs a subscription per batch.
import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { Delivery } from "./delivery.ts";

export interface PullerOptions {
  stream: string;
  consumer: string;
  onDelivery: (delivery: Delivery) => void;
  /** Called when a request ends early for a reason worth logging (e.g. consumer deleted). */
  onWarning: (message: string) => void;
  /** How long a pull request waits on the server. @default 30000 */
  expiresMs?: number;
  /** Server heartbeat interval while a request waits. @default 5000 */
  heartbeatMs?: number;
  /** Wraps a received message; a subclass of Delivery can watch its acknowledgement. */
  deliveryOf?: (msg: Msg) => Delivery;
}

const CONFLICT_RETRY_MS = 1000;

/** A request as it ended: fewer received than asked means the consumer ran out (or the request expired). */
export interface PullRequest {
  count: number;
  received: number;
}

export class Puller {
  readonly #nc: NatsConnection;
  readonly #options: Required<PullerOptions>;
  #inbox = createInbox();
  readonly #subject: string;
  #subscription: Subscription | undefined;
  /** Outstanding requests, oldest first: the server fills them in that order. */
  #requests: PullRequest[] = [];
  #lastHeard = Date.now();
  #watchdog: NodeJS.Timeout | undefined;
  #onChange: (ended: PullRequest | undefined) => void = () => {};
  /** Drains of abandoned subscriptions: jobs may still arrive on them until these settle. */
  readonly #draining = new Set<Promise<void>>();
  #stopStatuses: () => void = () => {};

  constructor(nc: NatsConnection, options: PullerOptions) {
    this.#nc = nc;
    this.#options = {
      expiresMs: 30_000,
      heartbeatMs: 5_000,
      deliveryOf: (msg) => new Delivery(msg),
      ...options,
    };
    this.#subject = `$JS.API.CONSUMER.MSG.NEXT.${options.stream}.${options.consumer}`;
  }

  /** Messages asked for and not yet received. */
  get requested(): number {
    let total = 0;
    for (const request of this.#requests) total += request.count - request.received;
    return total;
  }

  get pendingRequests(): number {
    return this.#requests.length;
  }

  /**
   * `onChange` runs whenever requests end, so the caller can ask again; it gets the request that
   * ended, or nothing when all were dropped (reconnect, lost heartbeats).
   */
  start(onChange: (ended: PullRequest | undefined) => void): void {
    this.#onChange = onChange;
    this.#subscription = this.#subscribe();
    // A request the server forgot (restart, leader change) sends no more heartbeats: drop it.
    this.#watchdog = setInterval(() => {
      if (this.#requests.length > 0 && Date.now() - this.#lastHeard > 2 * this.#options.heartbeatMs + 1000) {
        this.#reset();
      }
    }, this.#options.heartbeatMs);
    this.#watchdog.unref();
    void this.#watchReconnects();
  }

  /**
   * Asks for up to `count` messages. A `noWait` request is answered at once with what the
   * consumer has, and ends (404/408) instead of waiting for more. A status does not say which
   * request it ends (it is booked against the oldest), so a caller that must know keeps one out.
   */
  request(count: number, { noWait = false } = {}): void {
    if (count <= 0 || this.#subscription === undefined) return;
    if (this.#requests.length === 0) this.#lastHeard = Date.now();
    this.#requests.push({ count, received: 0 });
    const body = JSON.stringify(
      noWait
        ? { batch: count, no_wait: true }
        : {
            batch: count,
            expires: this.#options.expiresMs * 1_000_000,
            idle_heartbeat: this.#options.heartbeatMs * 1_000_000,
          },
    );
    try {
      this.#nc.publish(this.#subject, body, { reply: this.#inbox });
    } catch (error) {
      this.#requests.pop();
      this.#options.onWarning(`pull request failed: ${(error as Error).message}`);
    }
  }

  /**
   * Ends the outstanding requests on the server too (pause, stop): otherwise a request goes on
   * delivering until it expires, and every job it delivers is handed back and stored again. The
   * server drops a waiting request whose reply subject has no interest (so does 2.9.10), so
   * later requests use a fresh inbox while the old subscription drains: a job already sent to it
   * still reaches onDelivery (to be handed back) instead of waiting out its ack wait.
   */
  abandonRequests(): void {
    this.#requests = [];
    const old = this.#subscription;
    if (old === undefined) return;
    this.#inbox = createInbox();
    this.#subscription = this.#subscribe();
    const draining = old.drain().catch(() => {});
    this.#draining.add(draining);
    void draining.finally(() => this.#draining.delete(draining));
  }

  /**
   * Stops receiving; resolves once abandoned subscriptions have drained, so every job sent to
   * them has reached onDelivery (a worker must not close its connection before it has handed
   * them back: a job arriving during the close ran twice).
   */
  async close(): Promise<void> {
    this.#requests = [];
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    this.#stopStatuses();
    await Promise.all([...this.#draining]);
  }

  #subscribe(): Subscription {
    const inbox = this.#inbox;
    return this.#nc.subscribe(inbox, {
      callback: (_error, msg) => {
        if (inbox === this.#inbox) this.#receive(msg);
        // A job for an abandoned request: no request of ours counts it.
        else if (msg.reply) this.#options.onDelivery(this.#options.deliveryOf(msg));
      },
    });
  }

  #receive(msg: Msg): void {
    this.#lastHeard = Date.now();
    if (msg.reply) {
      const head = this.#requests[0];
      const fulfilled = head !== undefined && ++head.received >= head.count;
      if (fulfilled) this.#requests.shift();
      // Deliver before reporting the change, so the caller counts this job as running when it asks again.
      this.#options.onDelivery(this.#options.deliveryOf(msg));
      if (fulfilled) this.#onChange(head);
      return;
    }
    const status = msg.headers?.code ?? 0;
    if (status === 100) return; // idle heartbeat
    // 404/408: the request ended with messages unsent; 409: ended for a reason (consumer deleted, max waiting…).
    const ended = this.#requests.shift();
    if (status === 409) {
      // Consumer deleted, too many waiting requests…: asking again at once would only repeat it.
      this.#options.onWarning(
        `pull request ended: ${msg.headers?.description ?? "conflict"}; retrying in 1 s`,
      );
      setTimeout(() => this.#onChange(ended), CONFLICT_RETRY_MS).unref();
      return;
    }
    this.#onChange(ended);
  }

  #reset(): void {
    this.#requests = [];
    this.#lastHeard = Date.now();
    this.#onChange(undefined);
  }

  async #watchReconnects(): Promise<void> {
    const statuses = this.#nc.status();
    // nats-core's status iterator has stop(); without it, a closed puller would listen forever
    // (a keyed partition's puller is closed whenever the partition changes owner).
    this.#stopStatuses = () => (statuses as { stop?: () => void }).stop?.();
    for await (const status of statuses) {
      if (status.type === "reconnect") this.#reset();
    }
  }
}
