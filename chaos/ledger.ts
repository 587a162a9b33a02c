// The ledger: a stream on a separate nats-server that no fault ever touches. Handlers write one
// entry per execution (and wait for it to be stored) before the worker acknowledges the job, so
// a job acknowledged but never recorded cannot exist, and a job recorded twice ran twice.
import { DeliverPolicy, type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { NatsServer } from "../deploy/local/nats-server.ts";

export const LEDGER_STREAM = "chaos_ledger";
export const LEDGER_SUBJECT = "chaos.ledger";
/** Environment variable that tells the handlers (in worker processes) where the ledger is. */
export const LEDGER_URL_ENV = "CHAOS_LEDGER_URL";

/** What one execution of a handler ended in, as the handler saw it. */
export type ExecutionKind = "completed" | "failed" | "crashed";

export interface LedgerEntry {
  id: string;
  kind: ExecutionKind;
  attempt: number;
  pid: number;
  at: number;
}

/** Opens a ledger connection for a handler module; reconnects forever like a worker would. */
export function connectLedger(url: string): Promise<NatsConnection> {
  return connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
}

export async function recordExecution(js: JetStreamClient, entry: LedgerEntry): Promise<void> {
  await js.publish(`${LEDGER_SUBJECT}.${entry.kind}`, JSON.stringify(entry), { timeout: 10_000 });
}

/** The ledger server and an always-on reader of every entry, in store order. */
export class Ledger {
  readonly entries: LedgerEntry[] = [];
  #stopReading: (() => void) | undefined;

  private constructor(
    readonly server: NatsServer,
    readonly nc: NatsConnection,
  ) {}

  get url(): string {
    return this.server.url;
  }

  static async start(): Promise<Ledger> {
    const server = await NatsServer.start();
    try {
      const nc = await connectLedger(server.url);
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: LEDGER_STREAM, subjects: [`${LEDGER_SUBJECT}.>`] });
      const ledger = new Ledger(server, nc);
      await ledger.#read();
      return ledger;
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  async #read(): Promise<void> {
    const consumer = await jetstream(this.nc).consumers.get(LEDGER_STREAM, {
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume();
    this.#stopReading = () => void messages.stop();
    void (async () => {
      for await (const msg of messages) this.entries.push(msg.json<LedgerEntry>());
    })();
  }

  /** Waits until the reader has caught up with everything stored so far. */
  async caughtUp(): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    const stored = (await jsm.streams.info(LEDGER_STREAM)).state.messages;
    const deadline = Date.now() + 30_000;
    while (this.entries.length < stored && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    this.#stopReading?.();
    await this.nc.close().catch(() => {});
    await this.server.stop();
  }
}
