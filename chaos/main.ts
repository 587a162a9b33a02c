// `npm run chaos`: runs fault-injection cases against real nats-servers on loopback and prints
// the accounting of every job. Usage: docs/reliability.md ("Running the suite").
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { runAll } from "./emergency.ts";
import { defaultFaults, FAULT_NAMES, type FaultName } from "./faults.ts";
import { renderReport } from "./report.ts";
import { type CaseReport, runCase } from "./run-case.ts";

const USAGE = `usage: npm run chaos -- [--duration 60s] [--seed 42] [--cluster] [--faults a,b] [--rate 100] [--json file]
  --duration  how long the workload and faults run per case (s, m suffix; default 60s)
  --seed      seed of the fault schedule and the workload mix (default: random, printed)
  --cluster   a 3-node cluster with R3 queues instead of one server
  --faults    comma-separated subset of: ${FAULT_NAMES.join(", ")}
              (default: every fault of the topology except the negative control "overrun")
  --baseline  also run the same load without faults first
  --rate      jobs per second of the steady workload (default 100)
  --max-jobs  the queue's size limit (default 3000; the burst fault sends 1000 more)
  --json      also write the full reports as JSON to this file`;

class UsageError extends Error {}

function duration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null) throw new UsageError(`--duration "${text}" is not a duration like 90s or 5m`);
  const unit = match[2] ?? "s";
  return Number(match[1]) * (unit === "ms" ? 1 : unit === "s" ? 1000 : 60_000);
}

function readOptions() {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "60s" },
      seed: { type: "string" },
      cluster: { type: "boolean", default: false },
      faults: { type: "string" },
      baseline: { type: "boolean", default: false },
      rate: { type: "string", default: "100" },
      "max-jobs": { type: "string", default: "3000" },
      json: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) throw new UsageError("");
  const faults = (values.faults
    ?.split(",")
    .map((name) => name.trim())
    .filter(Boolean) ?? defaultFaults(values.cluster)) as FaultName[];
  for (const name of faults) {
    if (!FAULT_NAMES.includes(name)) throw new UsageError(`unknown fault "${name}"`);
  }
  const seed = values.seed === undefined ? Math.floor(Math.random() * 1_000_000) : Number(values.seed);
  const rate = Number(values.rate);
  const maxJobs = Number(values["max-jobs"]);
  if (!Number.isSafeInteger(maxJobs) || maxJobs < 1)
    throw new UsageError("--max-jobs must be a positive integer");
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer`);
  if (!(rate > 0)) throw new UsageError(`--rate must be a positive number`);
  return {
    durationMs: duration(values.duration),
    seed,
    cluster: values.cluster,
    faults,
    baseline: values.baseline,
    rate,
    maxJobs,
    json: values.json,
  };
}

async function main(): Promise<number> {
  let options: ReturnType<typeof readOptions>;
  try {
    options = readOptions();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const onSignal = () => {
    process.stderr.write("interrupted: stopping every process this run started\n");
    runAll();
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const topology = options.cluster ? "cluster" : "single";
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  log(`seed ${options.seed}; faults ${options.faults.join(", ")}`);
  const common = {
    cluster: options.cluster,
    durationMs: options.durationMs,
    seed: options.seed,
    rate: options.rate,
    maxJobs: options.maxJobs,
    log,
  };
  const reports: CaseReport[] = [];
  if (options.baseline) reports.push(await runCase({ ...common, name: `${topology}-baseline`, faults: [] }));
  reports.push(
    await runCase({
      ...common,
      name: `${topology}-faults`,
      faults: options.faults,
      expectDuplicates: options.faults.length === 1 && options.faults[0] === "overrun",
    }),
  );
  process.stdout.write(
    `${renderReport(reports)}\n\ncommand: npm run chaos -- ${process.argv.slice(2).join(" ")} (seed ${options.seed})\n`,
  );
  if (options.json !== undefined) await writeFile(options.json, JSON.stringify(reports, null, 2));
  return reports.every((report) => report.violations.length === 0) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos run failed: ${(error as Error).stack ?? String(error)}\n`);
    runAll();
    process.exit(1);
  },
);
