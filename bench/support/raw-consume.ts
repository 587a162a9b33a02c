// The raw baseline's consumer loop, shared by the in-process runs and the worker child processes.
import type { Consumer, JsMsg } from "@nats-io/jetstream";
import { Slots } from "./slots.ts";

export interface Consuming {
  /** Rejects if the message iterator ends or fails before the run stops it. */
  ended: Promise<never>;
  stop(): Promise<void>;
}

/**
 * One consume() loop feeding up to `concurrency` handlers at once. A handler is a no-op that
 * yields once, like an async job that does nothing, then acks; `onStart` sees each job first.
 * `max_messages` equals the concurrency, so no job waits in a buffer holding a MaxAckPending slot.
 */
export async function consumeConcurrently(
  consumer: Consumer,
  concurrency: number,
  onStart: (msg: JsMsg) => void,
  onAcked: () => void,
): Promise<Consuming> {
  const messages = await consumer.consume({ max_messages: concurrency });
  const slots = new Slots(concurrency);
  const handle = async (msg: JsMsg) => {
    onStart(msg);
    await Promise.resolve();
    msg.ack();
    slots.release();
    onAcked();
  };
  let stopping = false;
  const loop = (async () => {
    for await (const msg of messages) {
      await slots.acquire();
      void handle(msg);
    }
  })();
  const ended = loop.then(() => {
    if (!stopping) throw new Error("the consumer's message iterator ended early");
    return new Promise<never>(() => {});
  });
  // Observed through Promise.race by the caller; an end after the run is over is irrelevant.
  ended.catch(() => {});
  return {
    ended,
    async stop() {
      stopping = true;
      messages.stop();
      await loop;
    },
  };
}
