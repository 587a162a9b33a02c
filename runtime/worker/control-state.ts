// The control bucket as this worker sees it: which of its queues are paused, which jobs are
// cancelled, and whether it was asked to drain. Loaded before the first pull (late joiners obey
// commands issued before they started) and kept current by a watch; the broadcast on the
// control subject only makes a worker act sooner and acknowledge.
import type { KV } from "@nats-io/kv";
import { KvWatchInclude } from "@nats-io/kv";
import type { Logger } from "pino";

export interface ControlStateEvents {
  /** A queue's effective pause state changed for this worker. */
  onPauseChange(queue: string, paused: boolean): void;
  onCancel(jobKey: string): void;
  onDrain(): void;
}

export class ControlState {
  /** Key → revision of the last change applied, so a late read never undoes a newer watch update. */
  readonly #revisions = new Map<string, number>();
  readonly #present = new Set<string>();
  #stopWatch: (() => void) | undefined;

  constructor(
    private readonly kv: KV,
    private readonly workerId: string,
    private readonly queues: readonly string[],
    private readonly events: ControlStateEvents,
    private readonly logger: Logger,
  ) {}

  isPaused(queue: string): boolean {
    return this.#present.has(`paused.${queue}`) || this.#present.has(`paused.${queue}.${this.workerId}`);
  }

  isCancelled(jobKey: string): boolean {
    return this.#present.has(`cancelled.${jobKey}`);
  }

  get drainRequested(): boolean {
    return this.#present.has(`drain.${this.workerId}`);
  }

  /** Starts watching, then reads the current state; resolves once it is known. */
  async load(): Promise<void> {
    const watch = await this.kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.#stopWatch = () => watch.stop();
    void (async () => {
      for await (const entry of watch) this.#apply(entry.key, entry.revision, entry.operation === "PUT");
    })().catch((error: unknown) => this.logger.warn({ err: error }, "control watch ended"));
    for await (const key of await this.kv.keys()) {
      if (!this.#concernsMe(key)) continue;
      const entry = await this.kv.get(key);
      if (entry !== null) this.#apply(key, entry.revision, entry.operation === "PUT");
    }
  }

  /**
   * Applies what a broadcast command says at once, ahead of the bucket's watch, then re-reads the
   * key: a broadcast may be a duplicate or arrive out of order, and only the bucket is the truth.
   */
  applyHint(key: string, present: boolean): void {
    this.#set(key, present);
    void this.#reconcile(key);
  }

  async #reconcile(key: string): Promise<void> {
    try {
      const entry = await this.kv.get(key);
      const revision = entry?.revision ?? 0;
      if ((this.#revisions.get(key) ?? 0) > revision) return;
      this.#revisions.set(key, revision);
      this.#set(key, entry !== null && entry.operation === "PUT");
    } catch (error) {
      // The watch still brings the bucket's next change; log so a stuck state can be explained.
      this.logger.warn({ err: error, key }, "could not re-read a control key after a broadcast");
    }
  }

  stop(): void {
    this.#stopWatch?.();
  }

  #concernsMe(key: string): boolean {
    if (key.startsWith("cancelled.")) return true;
    if (key === `drain.${this.workerId}`) return true;
    const [kind, queue, worker] = key.split(".");
    return (
      kind === "paused" &&
      queue !== undefined &&
      this.queues.includes(queue) &&
      (worker === undefined || worker === this.workerId)
    );
  }

  #apply(key: string, revision: number, present: boolean): void {
    if (!this.#concernsMe(key)) return;
    if ((this.#revisions.get(key) ?? 0) >= revision) return;
    this.#revisions.set(key, revision);
    this.#set(key, present);
  }

  #set(key: string, present: boolean): void {
    const wasPaused = key.startsWith("paused.") ? this.isPaused(key.split(".")[1] ?? "") : false;
    if (present === this.#present.has(key)) return;
    if (present) this.#present.add(key);
    else this.#present.delete(key);
    if (key.startsWith("paused.")) {
      const queue = key.split(".")[1] ?? "";
      const paused = this.isPaused(queue);
      if (paused !== wasPaused) this.events.onPauseChange(queue, paused);
    } else if (key.startsWith("cancelled.") && present) {
      this.events.onCancel(key.slice("cancelled.".length));
    } else if (key.startsWith("drain.") && present) {
      this.events.onDrain();
    }
  }
}
