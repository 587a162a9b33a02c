// One delivery of a job from a pull consumer, and its acknowledgements. A thin layer over the
// core message: the ack protocol is a handful of fixed payloads sent to the reply subject.
import type { Msg, MsgHdrs } from "@nats-io/transport-node";
import { type HeaderValues, headerValues, parseHeaderBlock } from "../wire/job-message.ts";

const ACK = new TextEncoder().encode("+ACK");
const NAK = new TextEncoder().encode("-NAK");
const IN_PROGRESS = new TextEncoder().encode("+WPI");
// A bare +TERM: servers before 2.10.4 ignore "+TERM <reason>" and redeliver the message.
const TERM = new TextEncoder().encode("+TERM");

const EMPTY = new Uint8Array(0);

/** The internals of nats-core 3.x's MsgImpl that hold a message's bytes as received. */
interface RawMessage {
  _msg: { hdr: number };
  _rdata: Uint8Array;
}

export class Delivery {
  readonly stream: string;
  readonly seq: number;
  /** How many times JetStream has delivered this message (1 on the first delivery). */
  readonly deliveryCount: number;

  constructor(private readonly msg: Msg) {
    // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>, or the
    // longer form with domain and account hash tokens after $JS.ACK.
    const tokens = (msg.reply ?? "").split(".");
    const offset = tokens.length >= 12 ? 4 : 2;
    this.stream = tokens[offset] ?? "";
    this.deliveryCount = Number(tokens[offset + 2]);
    this.seq = Number(tokens[offset + 3]);
  }

  get subject(): string {
    return this.msg.subject;
  }

  get data(): Uint8Array {
    return this.msg.data;
  }

  /** Throws when a foreign client stored a header block that cannot be parsed. */
  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }

  /**
   * The header values by lower-cased name, read from the raw header block when the client's
   * message exposes it (nats-core's MsgImpl keeps the block as `_rdata` up to `_msg.hdr`); other
   * message types go through their MsgHdrs. Throws where `headers` would.
   */
  headerValues(): HeaderValues {
    const raw = this.msg as Partial<RawMessage>;
    const end = raw._msg?.hdr;
    if (typeof end === "number" && raw._rdata instanceof Uint8Array) {
      return parseHeaderBlock(end > 0 ? raw._rdata.subarray(0, end) : EMPTY);
    }
    return headerValues(this.msg.headers);
  }

  ack(): void {
    this.msg.respond(ACK);
  }

  /** Asks for redelivery, after `delayMs` when given. */
  nak(delayMs?: number): void {
    this.msg.respond(delayMs ? `-NAK ${JSON.stringify({ delay: delayMs * 1_000_000 })}` : NAK);
  }

  /** Renews the lease (resets the ack wait). */
  working(): void {
    this.msg.respond(IN_PROGRESS);
  }

  /** Stops redelivery for good; the message is removed from a WorkQueue stream. */
  term(): void {
    this.msg.respond(TERM);
  }
}
