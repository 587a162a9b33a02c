// Runs every scenario on every system, repeat after repeat, each run bounded in time, and
// collects the samples. A failed run is recorded and the benchmark goes on.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { formatSample, type ScenarioOutcome, type SystemOutcome } from "./report.ts";
import type { RunContext, Runner, Sample, Scenario, ServiceName, Services, System } from "./scenario.ts";

export interface ExecuteOptions {
  repeats: number;
  runTimeoutMs: number;
  services: Services;
  /** Services that could not be started, with the reason; systems needing them are skipped. */
  missing: Map<ServiceName, string>;
  /** Aborted on Ctrl-C: the current run unwinds and no further run starts. */
  signal: AbortSignal;
  log(line: string): void;
}

/** A run that ignores its abort signal is abandoned this long after it, so nothing hangs. */
const ABANDON_AFTER_ABORT_MS = 5_000;
/** Lets the server finish deleting the previous run's stream or queue before the next starts. */
const SETTLE_MS = 250;

/**
 * A run's own signal: aborted by `parent` (Ctrl-C) or after `timeoutMs`. Built by hand: on Node 20 a
 * run bounded by `AbortSignal.any([parent, AbortSignal.timeout(ms)])` was seen never to time out
 * (the timeout signal is only weakly held and can be collected before it fires).
 */
function runSignal(parent: AbortSignal, timeoutMs: number): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onParent = () => controller.abort(parent.reason);
  parent.addEventListener("abort", onParent, { once: true });
  const timer = setTimeout(
    () => controller.abort(new DOMException(`timed out after ${timeoutMs / 1000} s`, "TimeoutError")),
    timeoutMs,
  );
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      parent.removeEventListener("abort", onParent);
    },
  };
}

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "");
}

function describeError(error: unknown): string {
  if (error instanceof Error && error.name === "AbortError") return "interrupted";
  return error instanceof Error ? error.message : String(error);
}

/** Runs `runner` until it settles or until a grace period after `signal` aborts, whichever is first. */
async function bounded(runner: Runner, ctx: RunContext): Promise<Sample> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  const abandoned = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(
        () => reject(new Error("abandoned: did not stop after abort")),
        ABANDON_AFTER_ABORT_MS,
      );
    };
  });
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([runner(ctx), abandoned]);
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    clearTimeout(timer);
  }
}

/** The scenario's outcome record, and those of its systems whose servers are running. */
function prepare(scenario: Scenario, systems: System[], missing: Map<ServiceName, string>) {
  const outcome: ScenarioOutcome = {
    name: scenario.name,
    description: scenario.description,
    metrics: scenario.metrics,
    systems: [],
  };
  const runnable: [SystemOutcome, Runner][] = [];
  for (const system of systems) {
    const runner = scenario.systems[system.name];
    if (runner === undefined) continue;
    const result: SystemOutcome = { system: system.name, samples: [], errors: [] };
    const absent = system.needs.find((service) => missing.has(service));
    if (absent === undefined) runnable.push([result, runner]);
    else result.skipped = missing.get(absent);
    outcome.systems.push(result);
  }
  return { outcome, runnable };
}

/** One bounded run of one system on a fresh run id; its sample or its error lands in `result`. */
async function runOnce(
  scenario: Scenario,
  result: SystemOutcome,
  runner: Runner,
  repeat: number,
  options: ExecuteOptions,
): Promise<void> {
  const run = runSignal(options.signal, scenario.runTimeoutMs ?? options.runTimeoutMs);
  const ctx: RunContext = {
    services: options.services,
    runId: `${slug(scenario.name)}_${slug(result.system)}_${repeat + 1}_${randomBytes(3).toString("hex")}`,
    signal: run.signal,
  };
  const started = performance.now();
  const where = `  ${result.system.padEnd(14)} run ${repeat + 1}/${options.repeats}`;
  try {
    const sample = await bounded(runner, ctx);
    // The machine's 1-minute load as the run ended (JSON only): other work skews single runs.
    result.samples.push({ ...sample, load1: loadavg()[0] ?? Number.NaN });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    options.log(`${where}  ${formatSample(scenario.metrics, sample)}  (${seconds} s)`);
  } catch (error) {
    result.errors.push(describeError(error));
    options.log(`${where}  failed: ${describeError(error)}`);
  } finally {
    run.dispose();
  }
}

export async function execute(
  scenarios: Scenario[],
  systems: System[],
  options: ExecuteOptions,
): Promise<ScenarioOutcome[]> {
  const outcomes: ScenarioOutcome[] = [];
  for (const scenario of scenarios) {
    const { outcome, runnable } = prepare(scenario, systems, options.missing);
    outcomes.push(outcome);
    options.log(`${scenario.name}: ${scenario.description}`);
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      // Rotating the order spreads any drift (heat, background load) across systems.
      for (let turn = 0; turn < runnable.length; turn++) {
        if (options.signal.aborted) return outcomes;
        const [result, runner] = runnable[(turn + repeat) % runnable.length] as [SystemOutcome, Runner];
        await runOnce(scenario, result, runner, repeat, options);
        await sleep(SETTLE_MS);
      }
    }
  }
  return outcomes;
}
