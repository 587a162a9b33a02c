// docker-compose.yml and the Dockerfile checked against the repository, since no Docker engine
// runs here: the services exist, their commands and mounted files exist (and are in the image),
// ports line up, every JETMESH_* / NATS_* variable is one the code reads, the credentials are the
// shipped users, Prometheus scrapes what compose runs, and the NATS node configs are valid.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { findNatsServerBinary } from "../../deploy/local/nats-server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  volumes?: string[];
  ports?: string[];
  expose?: (string | number)[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  stop_grace_period?: string;
  container_name?: string;
  deploy?: { replicas?: number };
}

// Merge keys (<<: *anchor) are resolved as compose resolves them.
const compose = parse(read("docker-compose.yml"), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;

/** Dockerfile instructions of the final stage and of all stages, with line continuations joined. */
const dockerfile = read("Dockerfile")
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"))
  .map((line) => {
    const [instruction = "", ...rest] = line.split(/\s+/);
    return { instruction: instruction.toUpperCase(), args: rest.join(" ") };
  });
const finalStage = dockerfile.slice(dockerfile.findLastIndex((step) => step.instruction === "FROM"));
const dockerignore = read(".dockerignore")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));

/** Repository paths the image holds: the sources of COPY steps from the build context. */
const imageSources = finalStage
  .filter((step) => step.instruction === "COPY" && !step.args.includes("--from="))
  .flatMap((step) => {
    const parts = step.args.split(/\s+/).filter((part) => !part.startsWith("--"));
    return parts.slice(0, -1);
  });

function inImage(path: string): boolean {
  const normal = posix.normalize(path);
  const copied = imageSources.some((source) => normal === source || normal.startsWith(`${source}/`));
  // The context is an allow list ("*" then "!path"): the file must be let through too.
  const allowed = dockerignore.some((pattern) => {
    if (!pattern.startsWith("!")) return false;
    const kept = pattern.slice(1).replace(/\/$/, "");
    return normal === kept || normal.startsWith(`${kept}/`);
  });
  return copied && allowed;
}

function commandOf(service: Service): string[] {
  if (Array.isArray(service.command)) return service.command;
  if (typeof service.command === "string") return service.command.split(/\s+/);
  // The image's CMD (exec form).
  const cmd = finalStage.findLast((step) => step.instruction === "CMD");
  assert.ok(cmd, "the Dockerfile has a CMD");
  return JSON.parse(cmd.args) as string[];
}

/** The script a `node --import tsx <script>` command runs. */
function scriptOf(command: string[]): string | undefined {
  return command[0] === "node" ? command.find((part) => part.endsWith(".ts")) : undefined;
}

function environment(service: Service): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value)]),
  );
}

function exposed(service: Service): number[] {
  const container = (service.ports ?? []).map((mapping) => Number(String(mapping).split(":").at(-1)));
  return [...new Set([...(service.expose ?? []).map(Number), ...container])];
}

interface Mount {
  source: string;
  target: string;
  bind: boolean;
}

function mounts(service: Service): Mount[] {
  return (service.volumes ?? []).map((volume) => {
    const [source = "", target = ""] = volume.split(":");
    return { source, target, bind: source.startsWith("./") || source.startsWith("/") };
  });
}

/** The repository file behind a path inside a container, through the service's bind mounts. */
function repoPathOf(service: Service, containerPath: string): string | undefined {
  for (const mount of mounts(service)) {
    if (!mount.bind) continue;
    if (containerPath === mount.target) return posix.normalize(mount.source);
    if (containerPath.startsWith(`${mount.target}/`)) {
      return posix.join(mount.source, containerPath.slice(mount.target.length + 1));
    }
  }
  return undefined;
}

function sourceFiles(dir: string): string[] {
  const base = join(ROOT, dir);
  if (!existsSync(base)) return [];
  return (readdirSync(base, { recursive: true }) as string[])
    .filter((path) => path.endsWith(".ts"))
    .map((path) => join(base, path));
}

/** What each jetmesh service runs: the code whose environment reads count as its configuration. */
function codeOf(service: Service): string[] {
  const script = scriptOf(commandOf(service));
  assert.ok(script, "a jetmesh service runs a TypeScript entry point");
  const top = script.split("/")[0] ?? "";
  const own = top === "deploy" ? [join(ROOT, script)] : sourceFiles(top);
  return [...own, ...sourceFiles("runtime")];
}

const jetmeshServices = Object.entries(services).filter(([, service]) => service.build !== undefined);
const natsNodes = ["nats-1", "nats-2", "nats-3"];

/** Users and passwords declared in the shipped accounts file. */
const shippedUsers = new Map(
  [...read("deploy/nats/accounts.conf").matchAll(/\{\s*user:\s*"([^"]+)",\s*password:\s*"([^"]+)"/g)].map(
    ([, user, password]) => [user, password],
  ),
);

describe("Dockerfile", () => {
  test("multi-stage: production dependencies, then a small node:20-slim runtime", () => {
    const stages = dockerfile.filter((step) => step.instruction === "FROM");
    assert.ok(stages.length >= 2, "at least two stages");
    assert.match(finalStage[0]?.args ?? "", /^node:\$\{NODE_VERSION\}-slim|^node:20[.\d]*-slim/);
    assert.match(read("Dockerfile"), /ARG NODE_VERSION=20\b/);
    const install = dockerfile.find((step) => step.instruction === "RUN" && step.args.includes("npm ci"));
    assert.ok(install?.args.includes("--omit=dev"), "npm ci --omit=dev");
    const pkg = JSON.parse(read("package.json")) as { dependencies: Record<string, string> };
    assert.ok(pkg.dependencies.tsx, "tsx is a runtime dependency: the image runs TypeScript through it");
    assert.ok(
      finalStage.some((step) => step.instruction === "COPY" && step.args.startsWith("--from=deps")),
      "the runtime stage takes node_modules from the dependency stage",
    );
  });

  test("non-root, SIGTERM, health check on /healthz, worker by default", () => {
    const user = finalStage.findLast((step) => step.instruction === "USER");
    assert.ok(user && !["root", "0"].includes(user.args), "runs as a non-root user");
    assert.equal(finalStage.find((step) => step.instruction === "STOPSIGNAL")?.args, "SIGTERM");
    const health = finalStage.find((step) => step.instruction === "HEALTHCHECK");
    assert.ok(health, "a HEALTHCHECK");
    assert.ok(health.args.includes("/healthz") && health.args.includes("JETMESH_METRICS_PORT"));
    assert.ok(read("workers/config.ts").includes("DEFAULT_METRICS_PORT = 9464"), "probe's default port");
    assert.match(health.args, /'9464'/);
    assert.deepEqual(commandOf({}), ["node", "--import", "tsx", "workers/main.ts"]);
    const exposedPorts = finalStage.find((step) => step.instruction === "EXPOSE")?.args.split(/\s+/) ?? [];
    assert.ok(exposedPorts.includes("9464"));
  });

  test("everything it copies exists and passes the .dockerignore allow list", () => {
    assert.equal(dockerignore[0], "*", ".dockerignore starts by excluding everything");
    for (const source of imageSources) {
      assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: exists`);
      assert.ok(inImage(source), `COPY ${source}: allowed by .dockerignore`);
    }
    for (const secretish of [".git", "node_modules", ".jetmesh", "test", "scratch"]) {
      assert.equal(inImage(secretish), false, `${secretish} stays out of the image`);
    }
  });
});

describe("docker-compose.yml", () => {
  test("has the NATS cluster, the queue declaration, control plane, workers, Prometheus and Grafana", () => {
    for (const name of [...natsNodes, "queues", "control-plane", "worker", "prometheus", "grafana"]) {
      assert.ok(services[name], `service ${name}`);
    }
    for (const [name, service] of jetmeshServices) {
      assert.equal(service.image, "jetmesh:local", `${name} uses the one jetmesh image`);
    }
  });

  test("jetmesh services run entry points that exist and are in the image", () => {
    const expected: Record<string, string> = {
      worker: "workers/main.ts",
      "control-plane": "control-plane/main.ts",
      queues: "deploy/nats/declare-queues.ts",
    };
    for (const [name, service] of jetmeshServices) {
      const command = commandOf(service);
      assert.deepEqual(command.slice(0, 3), ["node", "--import", "tsx"], `${name}: node --import tsx`);
      const script = scriptOf(command);
      assert.ok(script, `${name} runs a script`);
      if (expected[name] !== undefined)
        assert.equal(script, expected[name], `${name} runs ${expected[name]}`);
      assert.ok(existsSync(join(ROOT, script)), `${name}: ${script} exists`);
      assert.ok(inImage(script), `${name}: ${script} is copied into the image`);
      for (const module of (environment(service).JETMESH_HANDLERS ?? "").split(",").filter(Boolean)) {
        assert.ok(existsSync(join(ROOT, module)), `${name}: handler module ${module} exists`);
        assert.ok(inImage(module), `${name}: handler module ${module} is in the image`);
      }
    }
  });

  test("every JETMESH_* and NATS_* variable is a configuration key the service's code reads", () => {
    for (const [name, service] of jetmeshServices) {
      const code = codeOf(service).map((file) => readFileSync(file, "utf8"));
      for (const key of Object.keys(environment(service))) {
        if (!/^(JETMESH|NATS)_/.test(key)) continue;
        assert.ok(
          code.some((text) => new RegExp(`\\b${key}\\b`).test(text)),
          `${name}: ${key} is read by ${scriptOf(commandOf(service))} or runtime/`,
        );
      }
    }
    // The keys the brief names for workers are real.
    const workerCode = read("workers/config.ts") + read("runtime/jetstream/connection.ts");
    for (const key of Object.keys(environment(services.worker!)).filter(
      (key) => key !== "JETMESH_LOG_LEVEL",
    )) {
      assert.ok(
        workerCode.includes(key),
        `worker: ${key} in workers/config.ts or runtime/jetstream/connection.ts`,
      );
    }
  });

  test("credentials are the shipped NATS users, each role with its own", () => {
    const roles: Record<string, string[]> = {
      worker: ["worker"],
      "control-plane": ["control-plane"],
      queues: ["control-plane", "admin"],
    };
    for (const [name, service] of jetmeshServices) {
      const env = environment(service);
      assert.ok(env.NATS_USER, `${name} authenticates`);
      assert.ok(roles[name]?.includes(env.NATS_USER), `${name} connects as ${roles[name]?.join(" or ")}`);
      assert.equal(
        env.NATS_PASSWORD,
        shippedUsers.get(env.NATS_USER),
        `${name}: password of ${env.NATS_USER}`,
      );
    }
  });

  test("every NATS_URL lists the three nodes on their client port", () => {
    for (const [name, service] of jetmeshServices) {
      const urls = (environment(service).NATS_URL ?? "").split(",").map((url) => new URL(url.trim()));
      assert.deepEqual(
        urls.map((url) => url.hostname),
        natsNodes,
        `${name}: NATS_URL names every node`,
      );
      for (const url of urls) {
        assert.ok(
          exposed(services[url.hostname]!).includes(Number(url.port)),
          `${name}: ${url.host} is open`,
        );
      }
    }
  });

  test("the control plane's health check probes its own /healthz on the port it exposes", () => {
    const service = services["control-plane"]!;
    assert.notEqual(service.healthcheck?.disable, true, "the health check is on");
    const probe = (service.healthcheck?.test ?? []).join(" ");
    assert.match(probe, /\/healthz/);
    assert.match(probe, /JETMESH_CP_HTTP_PORT/);
    const port = Number(environment(service).JETMESH_CP_HTTP_PORT ?? 9465);
    assert.match(probe, new RegExp(`'${port}'`));
    assert.ok(exposed(service).includes(port), `port ${port} is exposed`);
    assert.ok(read("control-plane/options.ts").includes("DEFAULT_CONTROL_PLANE_HTTP_PORT = 9465"));
  });

  test("Prometheus loads the alert rules, and compose mounts them beside its configuration", () => {
    const config = parse(read("deploy/prometheus/prometheus.yml")) as { rule_files?: string[] };
    assert.deepEqual(config.rule_files, ["rules.yml"]);
    assert.ok(
      (services.prometheus!.volumes ?? []).includes(
        "./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml:ro",
      ),
    );
  });

  test("the queues are declared before workers and the control plane start, and cover the workers' queues", () => {
    const declared = (environment(services.queues!).JETMESH_QUEUES ?? "").split(",");
    for (const name of ["worker", "control-plane"]) {
      const dependsOn = services[name]!.depends_on as Record<string, { condition?: string }>;
      assert.equal(dependsOn.queues?.condition, "service_completed_successfully", `${name} waits for queues`);
    }
    for (const queue of (environment(services.worker!).JETMESH_QUEUES ?? "").split(",")) {
      assert.ok(declared.includes(queue), `worker queue ${queue} is declared`);
    }
    assert.ok(commandOf(services.queues!).join(" ").includes("--replicas 3"), "queues are replicated ×3");
    const dependsOn = services.queues!.depends_on as Record<string, { condition?: string }>;
    for (const node of natsNodes) assert.equal(dependsOn[node]?.condition, "service_healthy");
  });

  test("the worker service scales: no fixed name or host port, metrics port exposed, drain fits the stop timeout", () => {
    const worker = services.worker!;
    assert.equal(worker.container_name, undefined);
    assert.equal(worker.ports, undefined, "no host port (it would collide with --scale)");
    const env = environment(worker);
    assert.ok(exposed(worker).includes(Number(env.JETMESH_METRICS_PORT)), "metrics port exposed");
    const stopMs = Number.parseInt(worker.stop_grace_period ?? "10", 10) * 1000;
    assert.ok(stopMs > Number(env.JETMESH_SHUTDOWN_GRACE_MS), "stop_grace_period exceeds the drain grace");
  });

  test("NATS nodes: config files exist and name their node, storage is persistent, routes reach every node", () => {
    const common = read("deploy/nats/node-common.conf");
    const storeDir = common.match(/store_dir:\s*"([^"]+)"/)?.[1];
    assert.ok(storeDir, "node-common.conf sets store_dir");
    for (const node of natsNodes) {
      const service = services[node]!;
      const command = commandOf(service);
      const config = command[command.indexOf("--config") + 1] ?? "";
      const file = repoPathOf(service, config);
      assert.equal(file, `deploy/nats/${node}.conf`, `${node} runs its own config file`);
      const text = read(file);
      assert.match(text, new RegExp(`server_name:\\s*"${node}"`));
      assert.match(text, /include \.\/node-common\.conf/);
      const data = mounts(service).find((mount) => !mount.bind && storeDir.startsWith(mount.target));
      assert.ok(data, `${node}: a named volume holds ${storeDir}`);
      assert.ok(compose.volumes && data.source in compose.volumes, `volume ${data.source} is declared`);
      assert.ok(common.includes(`nats-route://route:jetmesh-route-dev@${node}:6222`), `routes reach ${node}`);
      assert.ok(exposed(service).includes(6222) && exposed(service).includes(4222));
      assert.deepEqual(service.healthcheck?.test?.slice(-1), ["http://127.0.0.1:8222/healthz"]);
    }
    assert.match(common, /include \.\/accounts\.conf/);
    assert.match(common, /max_payload:/);
    assert.match(common, /sync_interval: always/);
  });

  test("the NATS node configs are valid for the installed nats-server", (t) => {
    const binary = findNatsServerBinary();
    if (binary === undefined) {
      t.skip("nats-server is not installed");
      return;
    }
    const version = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout.trim();
    const [major = 0, minor = 0] = (version.match(/v(\d+)\.(\d+)/) ?? []).slice(1).map(Number);
    const dir = mkdtempSync(join(tmpdir(), "jetmesh-conf-"));
    try {
      for (const file of readdirSync(join(ROOT, "deploy/nats")).filter((name) => name.endsWith(".conf"))) {
        let text = read(`deploy/nats/${file}`);
        // sync_interval arrived in 2.10; on older servers the file is valid without that one line.
        if (major === 2 && minor < 10) text = text.replace(/^\s*sync_interval:.*$/m, "");
        writeFileSync(join(dir, file), text);
      }
      for (const node of natsNodes) {
        const result = spawnSync(binary, ["-t", "-c", join(dir, `${node}.conf`)], {
          encoding: "utf8",
        }) as { status: number | null; stdout: string; stderr: string };
        assert.equal(result.status, 0, `${node}.conf with ${version}: ${result.stderr}${result.stdout}`);
      }
      t.diagnostic(`checked with ${version}${minor < 10 ? " (without the 2.10+ sync_interval line)" : ""}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("bind-mounted files and folders exist, and paths handed to containers resolve through them", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const mount of mounts(service)) {
        if (!mount.bind) {
          assert.ok(compose.volumes && mount.source in compose.volumes, `${name}: volume ${mount.source}`);
          continue;
        }
        const path = join(ROOT, mount.source);
        assert.ok(existsSync(path), `${name}: ${mount.source} exists`);
        const isFile = /\.(ya?ml|conf|json)$/.test(mount.target);
        assert.equal(
          statSync(path).isFile(),
          isFile,
          `${name}: ${mount.source} is a ${isFile ? "file" : "folder"}`,
        );
      }
      // Any absolute path in a command or variable that lies under a bind mount must exist.
      const strings = [...commandOf(service), ...Object.values(environment(service))].flatMap((value) =>
        value.split(/[=,\s]/),
      );
      for (const value of strings.filter((value) => value.startsWith("/"))) {
        const repoPath = repoPathOf(service, value);
        if (repoPath !== undefined)
          assert.ok(existsSync(join(ROOT, repoPath)), `${name}: ${value} → ${repoPath}`);
      }
    }
    const grafana = mounts(services.grafana!);
    assert.ok(
      grafana.some(
        (m) => m.source === "./deploy/grafana/provisioning" && m.target === "/etc/grafana/provisioning",
      ),
    );
    assert.ok(grafana.some((m) => m.source === "./deploy/grafana/dashboards"));
    assert.ok(
      mounts(services.prometheus!).some(
        (m) =>
          m.source === "./deploy/prometheus/prometheus.yml" && m.target === "/etc/prometheus/prometheus.yml",
      ),
    );
  });

  test("Prometheus scrapes every worker and the control plane at the ports they serve", () => {
    const config = parse(read("deploy/prometheus/prometheus.yml")) as {
      scrape_configs: {
        job_name: string;
        static_configs?: { targets: string[] }[];
        dns_sd_configs?: { names: string[]; port: number }[];
      }[];
    };
    const targets: { job: string; host: string; port: number }[] = [];
    for (const job of config.scrape_configs) {
      for (const group of job.static_configs ?? []) {
        for (const target of group.targets) {
          const [host = "", port = ""] = target.split(":");
          targets.push({ job: job.job_name, host, port: Number(port) });
        }
      }
      for (const sd of job.dns_sd_configs ?? []) {
        for (const host of sd.names) targets.push({ job: job.job_name, host, port: sd.port });
      }
    }
    for (const { job, host, port } of targets) {
      // Prometheus scraping itself.
      const service = host === "localhost" || host === "127.0.0.1" ? services.prometheus : services[host];
      assert.ok(service, `${job}: ${host} is a compose service`);
      assert.ok(exposed(service).includes(port), `${job}: ${host} exposes port ${port}`);
    }
    const worker = targets.find((target) => target.host === "worker");
    assert.equal(
      worker?.port,
      Number(environment(services.worker!).JETMESH_METRICS_PORT),
      "worker metrics port",
    );
    assert.ok(
      targets.some((target) => target.host === "control-plane"),
      "the control plane is scraped",
    );
  });

  test("Grafana's provisioning points at the mounted dashboards and at the Prometheus service", () => {
    const grafana = services.grafana!;
    const dashboards = mounts(grafana).find((mount) => mount.source === "./deploy/grafana/dashboards");
    const providers = readdirSync(join(ROOT, "deploy/grafana/provisioning/dashboards")).map((file) =>
      parse(read(`deploy/grafana/provisioning/dashboards/${file}`)),
    ) as { providers?: { options?: { path?: string } }[] }[];
    assert.ok(
      providers.some((file) =>
        file.providers?.some((provider) => provider.options?.path === dashboards?.target),
      ),
      `a dashboard provider reads ${dashboards?.target}`,
    );
    const sources = readdirSync(join(ROOT, "deploy/grafana/provisioning/datasources")).map((file) =>
      parse(read(`deploy/grafana/provisioning/datasources/${file}`)),
    ) as { datasources?: { type?: string; url?: string }[] }[];
    const prometheus = sources
      .flatMap((file) => file.datasources ?? [])
      .find((ds) => ds.type === "prometheus");
    assert.ok(prometheus?.url, "a Prometheus data source");
    const url = new URL(prometheus.url);
    assert.ok(services[url.hostname], `data source host ${url.hostname} is a service`);
    assert.ok(exposed(services[url.hostname]!).includes(Number(url.port)));
  });

  test("published host ports do not collide", () => {
    const published = Object.values(services).flatMap((service) =>
      (service.ports ?? []).map((mapping) => String(mapping).split(":").slice(0, -1).join(":")),
    );
    assert.equal(new Set(published).size, published.length, `host ports: ${published.join(", ")}`);
  });
});
