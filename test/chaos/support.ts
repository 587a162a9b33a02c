// Shared by the chaos tests: runs a case with its progress as test diagnostics, and prints the
// report when the case fails its acceptance bar, so a CI failure explains itself.
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { renderReport } from "../../chaos/report.ts";
import { type CaseOptions, type CaseReport, runCase } from "../../chaos/run-case.ts";

export async function runChaosCase(t: TestContext, options: Omit<CaseOptions, "log">): Promise<CaseReport> {
  const report = await runCase({ ...options, log: (line) => t.diagnostic(line) });
  const printed = renderReport([report]);
  for (const line of printed.split("\n")) t.diagnostic(line);
  assert.deepEqual(report.violations, [], printed);
  return report;
}
