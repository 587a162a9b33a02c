// Last-resort cleanup: synchronous kills of everything a run started, for when the harness
// exits without its orderly shutdown (Ctrl-C twice, an uncaught error, process.exit).

const steps = new Set<() => void>();
let installed = false;

/** Registers a synchronous kill; returns a function that unregisters it. */
export function emergency(kill: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on("exit", runAll);
  }
  steps.add(kill);
  return () => {
    steps.delete(kill);
  };
}

export function runAll(): void {
  for (const kill of steps) {
    try {
      kill();
    } catch {
      // Keep killing the rest.
    }
  }
  steps.clear();
}
