// Acceptance 7 (alerts): every shipped alert rule passes `promtool check rules` and its unit tests
// in deploy/prometheus/rules.test.yml (`promtool test rules`); every alert has a test, and every
// metric the rules read is one the control plane or workers export, documented in docs/metrics.md.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parse } from "yaml";

const RULES = "deploy/prometheus/rules.yml";
const TESTS = "deploy/prometheus/rules.test.yml";

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}

const rules = (parse(readFileSync(RULES, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap(
  (group) => group.rules,
);
const unitTests = parse(readFileSync(TESTS, "utf8")) as {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
};

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const noPromtool =
  promtool.error === undefined
    ? false
    : "promtool is not installed (Debian package `prometheus`; .ci/run installs it): the rules are not run";

test("promtool accepts the rules and their unit tests pass", { skip: noPromtool }, () => {
  const check = spawnSync("promtool", ["check", "rules", RULES], { encoding: "utf8" });
  assert.equal(check.status, 0, `${check.stdout}\n${check.stderr}`);
  const run = spawnSync("promtool", ["test", "rules", TESTS], { encoding: "utf8" });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
});

test("every alert has a unit test in which it fires", () => {
  const firing = new Set(
    unitTests.tests
      .flatMap((t) => t.alert_rule_test ?? [])
      .filter((t) => t.exp_alerts.length > 0)
      .map((t) => t.alertname),
  );
  const alerts = rules.flatMap((rule) => (rule.alert === undefined ? [] : [rule.alert]));
  assert.ok(alerts.length >= 6);
  for (const alert of alerts) assert.ok(firing.has(alert), `${alert} has no test in which it fires`);
});

test("the rules read only documented jetmesh metrics (and up)", () => {
  const docs = readFileSync("docs/metrics.md", "utf8");
  const recorded = new Set(rules.flatMap((rule) => (rule.record === undefined ? [] : [rule.record])));
  for (const rule of rules) {
    for (const [name] of rule.expr.matchAll(
      /\b[a-z_:][a-z0-9_:]*(?=\s*[{[)]|\s*$|\s+(?:>|<|=|unless|and|offset))/g,
    )) {
      if (!name.startsWith("jetmesh_")) continue;
      assert.match(
        docs,
        new RegExp(`^#{2,4} \`${name}\``, "m"),
        `${name} (in ${rule.alert ?? rule.record}) is documented`,
      );
    }
    for (const [name] of rule.expr.matchAll(/\bqueue:jetmesh_[a-z0-9_:]+/g))
      assert.ok(recorded.has(name), `${name} is a recording rule of the file`);
  }
});
