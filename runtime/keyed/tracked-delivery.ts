// A delivery of a keyed job that remembers how it was answered, so the key's line knows whether
// its head is finished (acknowledged, dead-lettered or cancelled) or will come back (a retry).
import type { Msg } from "@nats-io/transport-node";
import { Delivery } from "../jetstream/delivery.ts";
import { Header } from "../wire/headers.ts";

const KEY = Header.Key.toLowerCase();

export type Answer = "ack" | "nak" | "term";

export class TrackedDelivery extends Delivery {
  /** The last answer sent for this delivery; undefined while none was (or it was left to expire). */
  answer: Answer | undefined;
  /** The job's key; a job without one (a foreign producer's) shares the empty key of its partition. */
  readonly key: string;

  constructor(msg: Msg) {
    super(msg);
    let key = "";
    try {
      key = this.headerValues().get(KEY) ?? "";
    } catch {
      // Unreadable headers: the runner dead-letters the job; it waits its turn under the empty key.
    }
    this.key = key;
  }

  override ack(): void {
    super.ack();
    this.answer = "ack";
  }

  override nak(delayMs?: number): void {
    super.nak(delayMs);
    this.answer = "nak";
  }

  override term(): void {
    super.term();
    this.answer = "term";
  }
}
