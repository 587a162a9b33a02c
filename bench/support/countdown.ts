// Completion of a run: resolves once the expected number of jobs has been handled.

export class Countdown {
  readonly done: Promise<void>;
  #remaining: number;
  #resolve!: () => void;

  constructor(count: number) {
    this.#remaining = count;
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    if (count <= 0) this.#resolve();
  }

  tick(): void {
    if (--this.#remaining === 0) this.#resolve();
  }
}
