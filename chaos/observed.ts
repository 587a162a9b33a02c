// What the system under test holds at the end of a run: its dead letters (read back from the
// dead-letter stream), and the state of the queue's stream and consumer.
import type { JetStreamManager } from "@nats-io/jetstream";
import { Header } from "../runtime/index.ts";

export interface DeadLetterRow {
  id: string;
  reason: string;
}

/** Reads the dead-letter stream incrementally; tolerates a server that is down for a while. */
export class DeadLetterReader {
  readonly rows: DeadLetterRow[] = [];
  #nextSeq = 1;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
  ) {}

  async poll(): Promise<void> {
    try {
      const { state } = await this.jsm.streams.info(this.stream);
      this.#nextSeq = Math.max(this.#nextSeq, state.first_seq);
      for (; this.#nextSeq <= state.last_seq; this.#nextSeq++) {
        const msg = await this.jsm.streams.getMessage(this.stream, { seq: this.#nextSeq });
        // A sequence with no message was deleted; anything else (a timeout) ends this poll.
        if (msg === null) continue;
        this.rows.push({ id: msg.header.get(Header.JobId), reason: msg.header.get(Header.DeadReason) });
      }
    } catch {
      // Not reachable right now: the next poll continues where this one stopped.
    }
  }
}

export interface QueueState {
  /** The stream was not found at the end (the server lost it). */
  streamMissing: boolean;
  firstSeq: number;
  lastSeq: number;
  messages: number;
  numPending: number;
  numAckPending: number;
  /** Job ids of messages still in the stream. */
  leftoverIds: string[];
}

export async function readQueueState(
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
): Promise<QueueState> {
  let info: Awaited<ReturnType<JetStreamManager["streams"]["info"]>>;
  try {
    info = await jsm.streams.info(stream);
  } catch {
    return {
      streamMissing: true,
      firstSeq: 0,
      lastSeq: 0,
      messages: 0,
      numPending: 0,
      numAckPending: 0,
      leftoverIds: [],
    };
  }
  const consumerInfo = await jsm.consumers.info(stream, consumer);
  const leftoverIds: string[] = [];
  if (info.state.messages <= 1000) {
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (msg !== null) leftoverIds.push(msg.header.get(Header.JobId) || msg.header.get(Header.MsgId));
    }
  }
  return {
    streamMissing: false,
    firstSeq: info.state.first_seq,
    lastSeq: info.state.last_seq,
    messages: info.state.messages,
    numPending: consumerInfo.num_pending,
    numAckPending: consumerInfo.num_ack_pending,
    leftoverIds,
  };
}
