// Publishes messages to JetStream and collects their acknowledgements (PubAcks) on one wildcard
// inbox subscription, with one timer for all timeouts. The library's js.publish makes a request
// per message: a timer each, and nats-core's request builds an Error, stack trace included, every
// time one completes (RequestOne.cancel) — together a quarter of the client's CPU per enqueue.
import { JetStreamApiError, type PubAck } from "@nats-io/jetstream";
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";

interface Pending {
  subject: string;
  resolve(ack: PubAck): void;
  reject(error: Error): void;
  /** When the acknowledgement is given up on, ms since epoch. */
  deadline: number;
}

interface PubAckBody {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  domain?: string;
  error?: { code: number; err_code: number; description: string };
}

const decoder = new TextDecoder();

export class AckedPublisher {
  readonly #prefix = `${createInbox()}.`;
  #subscription: Subscription | undefined;
  /** By token, in publishing order: with one timeout for all, also in deadline order. */
  readonly #pending = new Map<number, Pending>();
  #nextToken = 1;
  #sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Publishes and resolves with the PubAck. Rejects with the JetStreamApiError the stream answered
   * with, with an error saying no stream listens on the subject, or on timeout.
   */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
    this.#subscription ??= this.nc.subscribe(`${this.#prefix}*`, {
      callback: (_error, msg) => this.#receive(msg),
    });
    const token = this.#nextToken++;
    return new Promise<PubAck>((resolve, reject) => {
      try {
        this.nc.publish(subject, data, { reply: `${this.#prefix}${token}`, headers });
      } catch (error) {
        reject(error as Error);
        return;
      }
      this.#pending.set(token, { subject, resolve, reject, deadline: Date.now() + this.timeoutMs });
      if (this.#sweep === undefined) {
        this.#sweep = setInterval(() => this.#expire(), Math.max(10, Math.min(250, this.timeoutMs / 4)));
        this.#sweep.unref();
      }
    });
  }

  /** Rejects what is still waiting and stops listening. */
  close(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    for (const pending of this.#pending.values()) pending.reject(new Error("the publisher was closed"));
    this.#pending.clear();
    this.#stopSweep();
  }

  #receive(msg: Msg): void {
    const token = Number(msg.subject.slice(this.#prefix.length));
    const pending = this.#pending.get(token);
    if (pending === undefined) return; // timed out already
    this.#pending.delete(token);
    if (this.#pending.size === 0) this.#stopSweep();
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      pending.reject(new Error(`no stream stores messages published on ${pending.subject} (no responders)`));
      return;
    }
    let body: PubAckBody;
    try {
      body = JSON.parse(decoder.decode(msg.data)) as PubAckBody;
    } catch {
      pending.reject(new Error("unreadable acknowledgement from JetStream"));
      return;
    }
    if (body.error !== undefined) {
      pending.reject(new JetStreamApiError(body.error));
      return;
    }
    if (typeof body.stream !== "string" || typeof body.seq !== "number") {
      pending.reject(new Error("invalid acknowledgement from JetStream"));
      return;
    }
    const ack: PubAck = { stream: body.stream, seq: body.seq, duplicate: body.duplicate === true };
    if (body.domain !== undefined) ack.domain = body.domain;
    pending.resolve(ack);
  }

  #expire(): void {
    const now = Date.now();
    for (const [token, pending] of this.#pending) {
      // Deadlines grow with the token: the first one not due ends the sweep.
      if (pending.deadline > now) break;
      this.#pending.delete(token);
      pending.reject(new Error(`timeout: no acknowledgement from JetStream within ${this.timeoutMs} ms`));
    }
    if (this.#pending.size === 0) this.#stopSweep();
  }

  #stopSweep(): void {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}
