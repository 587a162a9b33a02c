// The design brief's performance floor ("Performance and scale targets"), checked against the
// medians of one run: printed after the results table so every run says where jetmesh stands.
import type { ScenarioOutcome } from "./report.ts";
import { summarize } from "./stats.ts";

const JETMESH_SYSTEMS = ["jetmesh", "jetmesh-noevents", "jetmesh-noprefetch"];

interface TargetRow {
  target: string;
  system: string;
  measured: string;
  floor: string;
  ambition: string;
  met: string;
}

function median(outcome: ScenarioOutcome | undefined, system: string, key: string): number | undefined {
  const samples = outcome?.systems.find((candidate) => candidate.system === system)?.samples ?? [];
  if (samples.length === 0) return undefined;
  return summarize(samples.map((sample) => sample[key] ?? Number.NaN)).median;
}

function verdict(
  value: number,
  floor: number,
  ambition: number | undefined,
  higherIsBetter: boolean,
): string {
  const meets = (limit: number) => (higherIsBetter ? value >= limit : value <= limit);
  if (ambition !== undefined && meets(ambition)) return "yes (ambition too)";
  return meets(floor) ? "yes" : "**no**";
}

/** One row per target and jetmesh system that has the figures; empty when nothing applies. */
export function checkTargets(outcomes: ScenarioOutcome[], baseline: string): TargetRow[] {
  const byName = new Map(outcomes.map((outcome) => [outcome.name, outcome]));
  const rows: TargetRow[] = [];
  const ratioRow = (
    target: string,
    outcome: ScenarioOutcome | undefined,
    system: string,
    reference: string,
    floor: number,
    ambition: number | undefined,
    floorLabel = `≥ ${floor.toFixed(2)}×`,
  ) => {
    const value = median(outcome, system, "rate");
    const base = median(outcome, reference, "rate");
    if (value === undefined || base === undefined) return;
    const ratio = value / base;
    rows.push({
      target,
      system,
      measured: `${ratio.toFixed(2)}× ${reference}`,
      floor: floorLabel,
      ambition: ambition === undefined ? "" : `≥ ${ambition.toFixed(2)}×`,
      met: verdict(ratio, floor, ambition, true),
    });
  };
  const drains = outcomes.filter((outcome) => /^drain c=\d+$/.test(outcome.name));
  for (const system of JETMESH_SYSTEMS) {
    for (const drain of drains) {
      ratioRow(`${drain.name}: ≥ 70 % of raw pull-and-ack`, drain, system, baseline, 0.7, 0.85);
      ratioRow(`${drain.name}: faster than BullMQ`, drain, system, "bullmq", 1.0000001, 3, "> 1.00×");
    }
  }
  ratioRow(
    "enqueue: ≥ 80 % of raw async publish",
    byName.get("enqueue"),
    "jetmesh",
    baseline,
    0.8,
    undefined,
  );
  const latency = byName.get("latency");
  for (const system of JETMESH_SYSTEMS) {
    for (const [key, label, limit] of [
      ["p50", "p50", 1.5],
      ["p99", "p99", 10],
    ] as const) {
      const value = median(latency, system, key);
      if (value === undefined) continue;
      rows.push({
        target: `latency (enqueue→start): ${label} ≤ ${limit} ms`,
        system,
        measured: `${value.toFixed(2)} ms`,
        floor: `≤ ${limit} ms`,
        ambition: "",
        met: verdict(value, limit, undefined, false),
      });
    }
  }
  const pause = [...byName.values()].find((outcome) => outcome.name.startsWith("control pause"));
  const pauseP99 = median(pause, "jetmesh", "p99");
  if (pause !== undefined && pauseP99 !== undefined) {
    rows.push({
      target: `${pause.name}: p99 ≤ 100 ms`,
      system: "jetmesh",
      measured: `${pauseP99.toFixed(2)} ms`,
      floor: "≤ 100 ms",
      ambition: "",
      met: verdict(pauseP99, 100, undefined, false),
    });
  }
  return rows;
}

/** The target check as a Markdown table (same layout as the results table), or "" when none apply. */
export function formatTargets(outcomes: ScenarioOutcome[], baseline: string): string {
  const rows = checkTargets(outcomes, baseline);
  if (rows.length === 0) return "";
  const header = ["design target", "system", "measured (medians)", "floor", "ambition", "met"];
  const cells = rows.map((row) => [row.target, row.system, row.measured, row.floor, row.ambition, row.met]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((row) => row[column]?.length ?? 0)),
  );
  const line = (values: string[]) =>
    `| ${values.map((value, column) => value.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...cells.map(line)].join("\n");
}
