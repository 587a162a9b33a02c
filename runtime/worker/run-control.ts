// The abort side of one running job, and the race between its handler and an abort. Both the
// AbortSignal and the race's promise are created only when needed: an AbortController per job is
// one of the larger costs on the hot path, most handlers never look at their signal, and a
// synchronous handler has nothing to race.
import type { AbortReason } from "./failure.ts";

/**
 * How one run ended: the handler returned (`value`, when it returned one), or it threw / was
 * aborted with `error`.
 */
export type Settled = { ok: true; value?: unknown } | { ok: false; error: unknown };

const OK: Settled = { ok: true };

export class RunControl {
  #controller: AbortController | undefined;
  #reason: AbortReason | undefined;
  /** Settles the race of an asynchronous handler; set while one is awaited. */
  #settle: ((settled: Settled) => void) | undefined;

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

  /** Aborts once; later calls keep the first reason. An awaited handler settles at once. */
  abort(reason: AbortReason): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#settle?.({ ok: false, error: reason });
  }

  /**
   * Runs a handler; an abort settles its run at once even if the handler ignores its signal.
   * Returns synchronously when the handler does, so a synchronous job costs no promise.
   */
  run<P, C>(
    definition: { run(payload: P, context: C): unknown },
    payload: P,
    context: C,
  ): Settled | Promise<Settled> {
    let result: unknown;
    try {
      result = definition.run(payload, context);
    } catch (error) {
      return { ok: false, error };
    }
    if (!isThenable(result)) return result === undefined ? OK : { ok: true, value: result };
    if (this.#reason !== undefined) return { ok: false, error: this.#reason };
    return new Promise<Settled>((resolve) => {
      this.#settle = resolve;
      // Promise.resolve returns a native promise as it is, and adopts any other thenable safely.
      Promise.resolve(result).then(
        (value) => resolve(value === undefined ? OK : { ok: true, value }),
        (error: unknown) => resolve({ ok: false, error }),
      );
    });
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
