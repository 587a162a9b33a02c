// Entry point of `npm run bench` / `npm run bench:quick`: starts private servers, runs the scenario
// registry against every system, prints the table and writes bench/results/latest.json.
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { currentLoad, describeEnvironment } from "./environment.ts";
import { execute } from "./execute.ts";
import { PROFILES } from "./profile.ts";
import { formatTable, type ScenarioOutcome, writeJson } from "./report.ts";
import { BASELINE, buildScenarios } from "./scenarios.ts";
import { startServices } from "./services/start.ts";
import { SYSTEMS } from "./systems/index.ts";
import { formatTargets } from "./targets.ts";

const RESULTS_PATH = fileURLToPath(new URL("./results/latest.json", import.meta.url));
const DUPLICATE_SIGNAL_MS = 1_000;
const USAGE = `usage: tsx bench/run.ts [--quick] [--only <scenario text>]... [--systems <name,name>]
  --quick            small counts, one run each (under a minute)
  --only <text>      run only scenarios whose name contains <text> (repeatable)
  --systems <list>   comma-separated systems to run (default: ${SYSTEMS.map((system) => system.name).join(",")})`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string", multiple: true },
      systems: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const names = values.systems?.split(",").map((name) => name.trim()) ?? SYSTEMS.map((system) => system.name);
  const unknown = names.filter((name) => !SYSTEMS.some((system) => system.name === name));
  if (unknown.length > 0) throw new Error(`unknown system(s): ${unknown.join(", ")}\n${USAGE}`);
  return {
    profile: PROFILES[values.quick ? "quick" : "full"],
    only: values.only ?? [],
    systems: SYSTEMS.filter((system) => names.includes(system.name)),
  };
}

/** First Ctrl-C: stop after the current run unwinds and report. A later one: leave now. */
function interruptController(): AbortController {
  const controller = new AbortController();
  let firstAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      // A terminal's Ctrl-C reaches this process twice (directly, and relayed by tsx).
      if (Date.now() - firstAt > DUPLICATE_SIGNAL_MS) process.exit(130);
      return;
    }
    firstAt = Date.now();
    console.error(`\n${signal}: stopping after the current run (again to quit at once)`);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return controller;
}

async function main(): Promise<number> {
  const { profile, only, systems } = parseOptions();
  const scenarios = buildScenarios(profile, systems).filter(
    (scenario) => only.length === 0 || only.some((text) => scenario.name.includes(text)),
  );
  const environment = describeEnvironment(`tsx bench/run.ts ${process.argv.slice(2).join(" ")}`.trim());
  console.log(
    `jetmesh bench (${profile.name}): ${scenarios.length} scenarios × ${systems.length} systems × ${profile.repeats} runs; ` +
      `nats-server ${environment.natsServer ?? "?"}, redis-server ${environment.redisServer ?? "not installed"}, ` +
      `node ${environment.node}, ${environment.cpus} cpus, load ${environment.loadAverage.atStart.toFixed(2)}`,
  );
  const interrupt = interruptController();
  const running = await startServices(new Set(systems.flatMap((system) => system.needs)));
  for (const reason of running.missing.values()) console.error(`note: ${reason}`);
  let outcomes: ScenarioOutcome[];
  try {
    outcomes = await execute(scenarios, systems, {
      repeats: profile.repeats,
      runTimeoutMs: profile.runTimeoutMs,
      services: running.services,
      missing: running.missing,
      signal: interrupt.signal,
      log: (line) => console.log(line),
    });
  } finally {
    await running.stop();
  }
  environment.loadAverage.atEnd = currentLoad();
  console.log(`\n${formatTable(outcomes, BASELINE)}\n`);
  const targets = formatTargets(outcomes, BASELINE);
  if (targets !== "")
    console.log(
      `Design targets (the design brief's "Performance and scale targets"), medians of this run:\n\n${targets}\n`,
    );
  await writeJson(RESULTS_PATH, environment, profile, outcomes, BASELINE);
  console.log(`results written to ${RESULTS_PATH}`);
  if (interrupt.signal.aborted) return 130;
  return outcomes.some((outcome) => outcome.systems.some((system) => system.errors.length > 0)) ? 1 : 0;
}

// Exit explicitly: a client library's leftover timer must not keep a finished benchmark alive.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
