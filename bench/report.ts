// Turns run samples into the results table (Markdown, so it reads in a terminal and pastes into
// the README) and the JSON record of a run.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Environment } from "./environment.ts";
import type { Profile } from "./profile.ts";
import type { MetricSpec, Sample } from "./scenario.ts";
import { type Summary, summarize } from "./stats.ts";

export interface SystemOutcome {
  system: string;
  samples: Sample[];
  /** Why the system was not run, when it was not. */
  skipped?: string;
  /** One message per failed run. */
  errors: string[];
}

export interface ScenarioOutcome {
  name: string;
  description: string;
  metrics: MetricSpec[];
  systems: SystemOutcome[];
}

interface MetricSummary extends Summary {
  /** This system's median over the baseline's; undefined when the baseline has no result. */
  ratioToBaseline: number | undefined;
}

function summarizeMetric(
  outcome: ScenarioOutcome,
  system: SystemOutcome,
  metric: MetricSpec,
  baseline: string,
): MetricSummary | undefined {
  const values = (of: SystemOutcome) => of.samples.map((sample) => sample[metric.key] ?? Number.NaN);
  if (system.samples.length === 0) return undefined;
  const summary = summarize(values(system));
  const reference = outcome.systems.find((candidate) => candidate.system === baseline);
  const referenceMedian =
    reference === undefined || reference.samples.length === 0
      ? undefined
      : summarize(values(reference)).median;
  return {
    ...summary,
    ratioToBaseline:
      referenceMedian === undefined || metric.noRatio ? undefined : summary.median / referenceMedian,
  };
}

function formatValue(metric: MetricSpec, value: number): string {
  if (metric.key === "rate") return Math.round(value).toLocaleString("en-US");
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

/** One run's figures on one line, for progress output. */
export function formatSample(metrics: MetricSpec[], sample: Sample): string {
  return metrics
    .map((metric) => `${metric.label} ${formatValue(metric, sample[metric.key] ?? Number.NaN)}`)
    .join(", ");
}

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

/** The results table, then one line per skipped system and per failed run. */
export function formatTable(outcomes: ScenarioOutcome[], baseline: string): string {
  const header = ["scenario", "metric", "system", "median", "spread (min–max)", "runs", `vs ${baseline}`];
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const outcome of outcomes) {
    for (const metric of outcome.metrics) {
      const direction = metric.better === "higher" ? "↑" : "↓";
      for (const system of outcome.systems) {
        const runs = `${system.samples.length}/${system.samples.length + system.errors.length}`;
        const summary = summarizeMetric(outcome, system, metric, baseline);
        const label = [outcome.name, `${metric.label} ${direction}`, system.system];
        if (summary === undefined) {
          const status =
            system.skipped !== undefined ? "skipped" : system.errors.length > 0 ? "failed" : "not run";
          rows.push([...label, status, "", runs, ""]);
          continue;
        }
        const spread = `${formatValue(metric, summary.min)}–${formatValue(metric, summary.max)} (${(summary.relativeSpread * 100).toFixed(0)}%)`;
        const ratio = summary.ratioToBaseline === undefined ? "" : `${summary.ratioToBaseline.toFixed(2)}×`;
        rows.push([...label, formatValue(metric, summary.median), spread, runs, ratio]);
      }
    }
    for (const system of outcome.systems) {
      if (system.skipped !== undefined)
        notes.push(`${outcome.name} · ${system.system} skipped: ${system.skipped}`);
      for (const error of system.errors) notes.push(`${outcome.name} · ${system.system} failed: ${error}`);
    }
  }
  return [markdownTable(header, rows), ...notes].join("\n");
}

export async function writeJson(
  path: string,
  environment: Environment,
  profile: Profile,
  outcomes: ScenarioOutcome[],
  baseline: string,
): Promise<void> {
  const scenarios = outcomes.map((outcome) => ({
    ...outcome,
    systems: outcome.systems.map((system) => ({
      ...system,
      summary: Object.fromEntries(
        outcome.metrics.map((metric) => [
          metric.key,
          summarizeMetric(outcome, system, metric, baseline) ?? null,
        ]),
      ),
    })),
  }));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify({ environment, profile, baseline, scenarios }, null, 2)}\n`);
}
