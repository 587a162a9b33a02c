// The provisioned dashboards and the Prometheus configuration stay in step with the code: every
// metric a dashboard query selects is one a worker or the control plane registers, every variable is defined, every
// panel uses the provisioned data source, and the provisioning files point at files that exist.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { ControlPlaneMetrics } from "../../control-plane/metrics/control-plane-metrics.ts";
import { WorkerMetrics } from "../../runtime/index.ts";
import { DEFAULT_METRICS_PORT } from "../../workers/config.ts";
import {
  allPanels,
  BUILT_IN_VARIABLES,
  DASHBOARD_DIR,
  DATASOURCE_UID,
  dashboardFiles,
  dashboardQueries,
  GRAFANA_DIR,
  interpolate,
  type LoadedDashboard,
  loadDashboards,
  metricNames,
  PROMETHEUS_CONFIG,
  parseLabelValues,
  referencedVariables,
  registeredSeriesNames,
  variableQueryText,
  variables,
} from "./dashboards.ts";

/** Where docker-compose.yml mounts the Grafana folders inside the Grafana container. */
const CONTAINER_MOUNTS: Record<string, string> = {
  "/etc/grafana/provisioning": join(GRAFANA_DIR, "provisioning"),
  "/var/lib/grafana/dashboards": DASHBOARD_DIR,
};

/** The dashboards the operator's questions need, by title. */
const EXPECTED_DASHBOARDS = ["jetmesh — fleet overview", "jetmesh — queue detail", "jetmesh — workers"];

let dashboards: LoadedDashboard[];
let registered: Set<string>;

before(async () => {
  dashboards = loadDashboards();
  const metrics = new WorkerMetrics();
  metrics.watchQueues({ queueLoad: () => [] });
  const controlPlane = new ControlPlaneMetrics({
    stats: { latest: () => [] },
    heartbeats: { workers: () => [] },
  });
  registered = new Set([
    ...(await registeredSeriesNames(metrics.registry)),
    ...(await registeredSeriesNames(controlPlane.registry)),
  ]);
});

test("the metric-name extraction sees through functions, matchers, groupings and variables", () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.95, sum by (queue, le) (rate(jetmesh_job_wait_seconds_bucket{queue=~"$queue",name!="a b"}[$__rate_interval])))',
    ),
    ["jetmesh_job_wait_seconds_bucket"],
  );
  assert.deepEqual(
    metricNames(
      "sum by (name) (rate(a_sum[5m])) / on (name) group_left (queue) sum(rate(a_count[1m] offset 5m)) > bool 1e3",
    ),
    ["a_count", "a_sum"],
  );
  assert.deepEqual(metricNames("time() - process_start_time_seconds{instance=~'x'}"), [
    "process_start_time_seconds",
  ]);
  assert.deepEqual(metricNames('topk(10, x:recorded:rate5m) unless {__name__="y_total"}'), [
    "x:recorded:rate5m",
    "y_total",
  ]);
  assert.deepEqual(metricNames("sum(rate(jetmesh_jobs_total[$__range])) and nonexistent_metric"), [
    "jetmesh_jobs_total",
    "nonexistent_metric",
  ]);
});

test("the three dashboards exist, each with a unique uid and title", () => {
  assert.deepEqual(
    dashboards.map(({ dashboard }) => dashboard.title).sort(),
    [...EXPECTED_DASHBOARDS].sort(),
  );
  const uids = dashboards.map(({ dashboard }) => dashboard.uid);
  assert.equal(new Set(uids).size, uids.length, `duplicate uids: ${uids.join(", ")}`);
  for (const { file, dashboard } of dashboards) {
    const ids = allPanels(dashboard.panels).map((panel) => panel.id);
    assert.ok(
      ids.every((id) => typeof id === "number"),
      `${file}: every panel needs a numeric id`,
    );
    assert.equal(new Set(ids).size, ids.length, `${file}: duplicate panel ids`);
  }
});

test("every metric a dashboard query selects is registered by a worker or the control plane", () => {
  const unknown: string[] = [];
  let checked = 0;
  for (const loaded of dashboards) {
    for (const query of dashboardQueries(loaded)) {
      const names = metricNames(query.expr);
      assert.ok(names.length > 0, `${query.file} ${query.where}: no metric in ${query.expr}`);
      for (const name of names) {
        checked++;
        if (!registered.has(name)) unknown.push(`${query.file} ${query.where}: ${name}`);
      }
    }
  }
  assert.ok(checked > 40, `only ${checked} metric references found: is the extraction broken?`);
  assert.deepEqual(unknown, [], `metrics no code registers:\n${unknown.join("\n")}`);
});

test("every metric family of workers and the control plane appears on some dashboard", () => {
  const used = new Set(
    dashboards.flatMap((loaded) => dashboardQueries(loaded).flatMap((q) => metricNames(q.expr))),
  );
  const families = [...registered].filter(
    (name) => name.startsWith("jetmesh_") && !/_(bucket|sum|count)$/.test(name),
  );
  const unused = families.filter(
    (family) => ![family, `${family}_bucket`, `${family}_sum`, `${family}_count`].some((n) => used.has(n)),
  );
  assert.deepEqual(unused, []);
});

test("every template variable is defined, and every query interpolates to plain PromQL", () => {
  for (const loaded of dashboards) {
    const { file, dashboard } = loaded;
    const defined = new Set(variables(dashboard).map((variable) => variable.name));
    const values = Object.fromEntries([...defined].map((name) => [name, ["a.b", "c"]]));
    const builtIns = Object.fromEntries([...BUILT_IN_VARIABLES].map((name) => [name, "1m"]));
    for (const variable of variables(dashboard)) {
      assert.equal(variable.type, "query", `${file}: variable ${variable.name}`);
      assert.equal(
        variable.datasource?.uid,
        DATASOURCE_UID,
        `${file}: variable ${variable.name} data source`,
      );
      parseLabelValues(variableQueryText(variable));
    }
    for (const query of dashboardQueries(loaded)) {
      for (const name of referencedVariables(query.expr)) {
        assert.ok(
          defined.has(name) || BUILT_IN_VARIABLES.has(name),
          `${file} ${query.where}: $${name} is not defined`,
        );
      }
      assert.doesNotMatch(interpolate(query.expr, dashboard, values, builtIns), /\$|\[\[/);
    }
  }
});

test("every panel with queries uses the provisioned Prometheus data source", () => {
  for (const { file, dashboard } of dashboards) {
    for (const panel of allPanels(dashboard.panels)) {
      if (panel.type === "row" || panel.type === "text") continue;
      assert.ok((panel.targets ?? []).length > 0, `${file} "${panel.title}" has no query`);
      assert.equal(panel.datasource?.uid, DATASOURCE_UID, `${file} "${panel.title}" data source`);
      for (const target of panel.targets ?? []) {
        assert.equal(target.datasource?.uid, DATASOURCE_UID, `${file} "${panel.title}" ${target.refId}`);
        assert.ok(target.expr?.trim(), `${file} "${panel.title}" ${target.refId} has an empty expression`);
      }
    }
  }
});

/** `key: value` of a small YAML file we own (no YAML dependency for a handful of fields). */
function yamlValues(text: string, key: string): string[] {
  return [...text.matchAll(new RegExp(`^\\s*-?\\s*${key}:\\s*(.+?)\\s*(?:#.*)?$`, "gm"))].map((match) =>
    match[1]!.replace(/^["']|["']$/g, ""),
  );
}

test("Grafana provisioning points at the Prometheus service and at the dashboard files", () => {
  const provisioning = CONTAINER_MOUNTS["/etc/grafana/provisioning"]!;
  const datasources = readFileSync(join(provisioning, "datasources", "prometheus.yml"), "utf8");
  assert.deepEqual(yamlValues(datasources, "uid"), [DATASOURCE_UID]);
  assert.deepEqual(yamlValues(datasources, "type"), ["prometheus"]);
  assert.deepEqual(yamlValues(datasources, "url"), ["http://prometheus:9090"]);

  const provider = readFileSync(join(provisioning, "dashboards", "provider.yml"), "utf8");
  const paths = yamlValues(provider, "path");
  assert.equal(paths.length, 1, "one dashboard provider path");
  const local = CONTAINER_MOUNTS[paths[0]!];
  assert.ok(local !== undefined, `provider path ${paths[0]} is not a mounted folder`);
  assert.ok(existsSync(local) && statSync(local).isDirectory(), `${local} is missing`);
  assert.deepEqual(
    dashboardFiles(local),
    dashboards.map(({ file }) => file),
  );
  assert.ok(dashboards.length > 0);
});

test("the Prometheus configuration scrapes workers on their metrics port and the control plane", () => {
  const config = readFileSync(PROMETHEUS_CONFIG, "utf8");
  const jobs = yamlValues(config, "job_name");
  assert.ok(jobs.includes("jetmesh-workers"), `jobs: ${jobs.join(", ")}`);
  assert.ok(jobs.includes("jetmesh-control-plane"), `jobs: ${jobs.join(", ")}`);
  assert.deepEqual(yamlValues(config, "port"), [String(DEFAULT_METRICS_PORT)], "worker metrics port");
  assert.match(config, /targets: \["control-plane:9465"\]/);
});

test("docs/metrics.md documents every metric family of workers and the control plane", () => {
  const docs = readFileSync("docs/metrics.md", "utf8");
  const families = [...registered].filter(
    (name) => name.startsWith("jetmesh_") && !/_(bucket|sum|count)$/.test(name),
  );
  for (const family of families) {
    assert.match(docs, new RegExp(`^#{2,4} \`${family}\``, "m"), `${family} has no section`);
  }
});
