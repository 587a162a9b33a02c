// The abort side of one running job. The AbortSignal is created only when a handler reads it:
// an AbortController per job is one of the larger costs on the hot path, and most no-op-ish
// handlers never look at it.
import type { AbortReason } from "./failure.ts";

export class RunControl {
  #controller: AbortController | undefined;
  #reason: AbortReason | undefined;
  #reject: ((reason: AbortReason) => void) | undefined;
  /** Rejects with the abort reason once the run is aborted; never resolves. */
  readonly aborted: Promise<never>;

  constructor() {
    this.aborted = new Promise<never>((_, reject) => {
      this.#reject = reject;
    });
    // Nobody awaits `aborted` once the run has settled; keep that from counting as unhandled.
    this.aborted.catch(() => {});
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get reason(): AbortReason | undefined {
    return this.#reason;
  }

  /** Aborts once; later calls keep the first reason. */
  abort(reason: AbortReason): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#reject?.(reason);
  }
}
