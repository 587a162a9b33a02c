// End to end: a real Prometheus scrapes a worker process and a control plane on loopback while
// succeeding, failing and slow jobs run, then every dashboard query (panels and template variables), filled in the
// way Grafana fills it in, must return data through the Prometheus HTTP API.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { ControlPlane } from "../../control-plane/index.ts";
import { freePort } from "../../deploy/local/nats-server.ts";
import { startControlPlane } from "../control-plane/support.ts";
import { collectEvents, type MeshBundle, setupMesh, WorkerProcess, waitFor } from "../support/harness.ts";
import {
  dashboardQueries,
  interpolate,
  type LoadedDashboard,
  loadDashboards,
  PROMETHEUS_CONFIG,
  parseLabelValues,
  variableQueryText,
  variables,
} from "./dashboards.ts";

const INSTALL_HINT = "prometheus not installed: apt-get install -y prometheus";

function findBinary(name: string): string | undefined {
  for (const candidate of [name, `/usr/bin/${name}`, `/usr/local/bin/${name}`]) {
    if (spawnSync(candidate, ["--version"], { encoding: "utf8" }).status === 0) return candidate;
  }
  return undefined;
}

const prometheusBinary = findBinary("prometheus");
const promtoolBinary = findBinary("promtool");

/** A Prometheus child process with its own port, configuration and storage. */
class PrometheusProcess {
  #output = "";

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly dir: string,
  ) {
    const collect = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
  }

  get output(): string {
    return this.#output;
  }

  static async start(binary: string, targets: Record<string, string[]>): Promise<PrometheusProcess> {
    const dir = await mkdtemp(join(tmpdir(), "jetmesh-prometheus-"));
    const port = await freePort();
    const scrapeConfigs = Object.entries(targets)
      .map(
        ([job, list]) =>
          `  - job_name: ${job}\n    static_configs:\n      - targets: [${list.map((t) => `"${t}"`).join(", ")}]`,
      )
      .join("\n");
    const config = `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${scrapeConfigs}\n`;
    await writeFile(join(dir, "prometheus.yml"), config);
    const child = spawn(
      binary,
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const prometheus = new PrometheusProcess(child, `http://127.0.0.1:${port}`, dir);
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited early:\n${prometheus.output}`);
      const ready = await fetch(`${prometheus.url}/-/ready`).catch(() => undefined);
      return ready?.status === 200;
    }, "prometheus to be ready");
    return prometheus;
  }

  /** An instant query; the raw `data` of a successful answer. */
  async query(expr: string): Promise<{ resultType: string; result: unknown[] }> {
    const response = await fetch(`${this.url}/api/v1/query`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ query: expr }),
    });
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data: { resultType: string; result: unknown[] };
    };
    if (body.status !== "success") throw new Error(`query failed (${body.error}): ${expr}`);
    return body.data;
  }

  /** The number a query returns, or undefined while it returns nothing. */
  async value(expr: string): Promise<number | undefined> {
    const { result } = await this.query(expr);
    const first = result[0] as { value: [number, string] } | undefined;
    return first === undefined ? undefined : Number(first.value[1]);
  }

  /** What Grafana's label_values() shows: the values of `label` on series matching `selector`. */
  async labelValues(label: string, selector: string | undefined): Promise<string[]> {
    const params = new URLSearchParams(selector === undefined ? {} : { "match[]": selector });
    const response = await fetch(`${this.url}/api/v1/label/${label}/values?${params}`);
    const body = (await response.json()) as { status: string; error?: string; data: string[] };
    if (body.status !== "success") throw new Error(`label values failed (${body.error}): ${selector}`);
    return body.data;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, "exit");
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** True when a query result holds at least one sample that is a number (not NaN). */
function hasData(data: { resultType: string; result: unknown[] }): boolean {
  if (data.resultType === "scalar" || data.resultType === "string") {
    return !Number.isNaN(Number((data.result as unknown as [number, string])[1]));
  }
  return (data.result as { value?: [number, string]; values?: [number, string][] }[]).some((series) =>
    [...(series.value === undefined ? [] : [series.value]), ...(series.values ?? [])].some(
      ([, value]) => !Number.isNaN(Number(value)),
    ),
  );
}

/** The template variables of a dashboard set the way Grafana sets them: "All" of what Prometheus has. */
async function resolveVariables(
  prometheus: PrometheusProcess,
  { file, dashboard }: LoadedDashboard,
  builtIns: Record<string, string>,
): Promise<Record<string, string[]>> {
  const values: Record<string, string[]> = {};
  for (const variable of variables(dashboard)) {
    const { selector, label } = parseLabelValues(variableQueryText(variable));
    const filled = selector === undefined ? undefined : interpolate(selector, dashboard, values, builtIns);
    const found = await prometheus.labelValues(label, filled);
    assert.ok(found.length > 0, `${file}: variable ${variable.name} has no values (${filled})`);
    // A single-value variable starts on its first value, a multi-value one on "All".
    values[variable.name] = variable.multi || variable.includeAll ? found : found.slice(0, 1);
  }
  return values;
}

test("every dashboard query returns data from a real Prometheus scraping a worker and the control plane", {
  skip: prometheusBinary === undefined ? INSTALL_HINT : false,
  timeout: 60_000,
}, async () => {
  let mesh: MeshBundle | undefined;
  let worker: WorkerProcess | undefined;
  let controlPlane: ControlPlane | undefined;
  let prometheus: PrometheusProcess | undefined;
  try {
    mesh = await setupMesh({ maxAttempts: 2 });
    const { queue } = mesh;
    const metricsPort = await freePort();
    const instance = `127.0.0.1:${metricsPort}`;
    worker = await WorkerProcess.start(mesh.server.url, {
      JETMESH_QUEUES: queue,
      JETMESH_CONCURRENCY: "8",
      JETMESH_METRICS_PORT: String(metricsPort),
      JETMESH_METRICS_HOST: "127.0.0.1",
      // A small young generation, like a memory-capped container's, so the few megabytes the
      // jobs below allocate run the garbage collector and its histogram has samples.
      NODE_OPTIONS: [process.env.NODE_OPTIONS, "--max-semi-space-size=1"].filter(Boolean).join(" "),
    });
    controlPlane = await startControlPlane(mesh.server.url, { httpPort: 0, httpHost: "127.0.0.1" });
    // The job names match deploy/prometheus/prometheus.yml.
    prometheus = await PrometheusProcess.start(prometheusBinary!, {
      "jetmesh-workers": [instance],
      "jetmesh-control-plane": [`127.0.0.1:${controlPlane.httpPort}`],
    });
    const scraping = prometheus;
    await waitFor(
      async () =>
        (await scraping.value(`jetmesh_worker_capacity{queue="${queue}"}`)) === 8 &&
        (await scraping.value(`jetmesh_fleet_capacity{queue="${queue}"}`)) === 8,
      "the first scrapes of the worker and the control plane",
      15_000,
    );

    // Two waves, each scraped before the next, so every rate() sees its counters grow.
    const events = collectEvents(mesh.nc, queue);
    const wave = [
      ...Array.from({ length: 8 }, (_, i) => ({
        queue,
        name: "record",
        payload: { i, pad: "x".repeat(200_000) },
      })),
      ...Array.from({ length: 3 }, () => ({ queue, name: "slow", payload: { ms: 300 } })),
      { queue, name: "flaky", payload: { failUntil: 2 } },
      { queue, name: "always.fail", payload: { errorClass: "CardDeclinedError" } },
      { queue, name: "always.fail", payload: { errorClass: "GatewayTimeoutError" } },
    ];
    const perWave = { completed: 12, dead: 2 };
    for (let round = 1; round <= 2; round++) {
      await mesh.client.enqueueMany(wave);
      const completed = perWave.completed * round;
      const dead = perWave.dead * round;
      await waitFor(
        () =>
          events.filter((e) => e.type === "completed").length === completed &&
          events.filter((e) => e.type === "dead").length === dead,
        `wave ${round} of jobs to finish`,
        20_000,
      );
      await waitFor(
        async () =>
          (await scraping.value(`sum(jetmesh_jobs_total{queue="${queue}",outcome="completed"})`)) ===
            completed &&
          (await scraping.value(`sum(jetmesh_jobs_total{queue="${queue}",outcome="dead"})`)) === dead,
        `prometheus to scrape wave ${round}`,
        10_000,
      );
    }

    // Windows long enough to hold both waves, as Grafana would choose for the last few minutes.
    const builtIns = {
      __rate_interval: "1m",
      __interval: "1m",
      __interval_ms: "60000",
      __rate_interval_ms: "60000",
      __range: "5m",
      __range_s: "300",
      __range_ms: "300000",
    };
    const empty: string[] = [];
    let evaluated = 0;
    for (const loaded of loadDashboards()) {
      const values = await resolveVariables(prometheus, loaded, builtIns);
      if (values.queue !== undefined) assert.deepEqual(values.queue, [queue], `${loaded.file}: $queue`);
      if (values.instance !== undefined) assert.deepEqual(values.instance, [instance]);
      if (values.name !== undefined) {
        assert.deepEqual(values.name, ["always.fail", "flaky", "record", "slow"], `${loaded.file}: $name`);
      }
      for (const query of dashboardQueries(loaded)) {
        const expr = interpolate(query.expr, loaded.dashboard, values, builtIns);
        evaluated++;
        if (!hasData(await prometheus.query(expr))) empty.push(`${query.file} ${query.where}:\n    ${expr}`);
      }
    }
    assert.ok(evaluated > 50, `only ${evaluated} queries evaluated`);
    assert.deepEqual(empty, [], `queries without data:\n${empty.join("\n")}`);
  } finally {
    await prometheus?.stop();
    await controlPlane?.stop();
    await worker?.kill("SIGTERM");
    await mesh?.close();
  }
});

test("promtool accepts deploy/prometheus/prometheus.yml", {
  skip: promtoolBinary === undefined ? INSTALL_HINT : false,
  timeout: 20_000,
}, () => {
  const check = spawnSync(promtoolBinary!, ["check", "config", "--syntax-only", PROMETHEUS_CONFIG], {
    encoding: "utf8",
  });
  assert.equal(check.status, 0, `${check.stdout}\n${check.stderr}`);
});
