// The docker-compose topology as plain processes, behind `npm run dev:cluster`: three clustered
// nats-servers with JetStream on loopback, secured by the shipped users and permissions
// (deploy/nats/accounts.conf), the queue "default" with 3 replicas, the control plane (when
// control-plane/main.ts exists), two worker processes connected to different nodes, and a demo
// producer. It prints where everything is and a summary of lifecycle events every few seconds.
// Ctrl-C or SIGTERM stops the producer, drains the workers and the control plane, then stops the
// servers, and exits 0.
//
// Environment:
//   JETMESH_DEV_RATE          jobs enqueued per second (default 4; fractions allowed)
//   JETMESH_DEV_DURATION_MS   stop by itself after this long (default: run until stopped)
//   JETMESH_DEV_DATA_DIR      storage of the three servers (default .jetmesh/cluster in the project)
//   JETMESH_SHUTDOWN_GRACE_MS, JETMESH_CONCURRENCY, JETMESH_LOG_LEVEL…  passed to the workers
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  type ConnectionSettings,
  connectNats,
  DEFAULT_PREFIX,
  JetmeshClient,
  type JobToEnqueue,
  type LifecycleEvent,
  parseLifecycleEvents,
} from "../../runtime/index.ts";
import { DECLINED_CARD } from "../../workers/handlers/examples.ts";
import { declareQueues } from "../nats/declare-queues.ts";
import {
  DemoProducer,
  describeExit,
  Launcher,
  launch,
  positiveNumber,
  ROOT,
  relay,
  running,
  shown,
  Tally,
  UsageError,
} from "./dev-support.ts";
import { findNatsServerBinary, freePort, NATS_SERVER_INSTALL_HINT, NatsServer } from "./nats-server.ts";

const QUEUE = "default";
const REPLICAS = 3;
const HANDLERS = "workers/handlers/examples.ts";
const CONTROL_PLANE_ENTRY = "control-plane/main.ts";
const ACCOUNTS_FILE = "deploy/nats/accounts.conf";
const SUMMARY_EVERY_MS = 3000;
/** Extra time a child gets to exit after the workers' shutdown grace period, before SIGKILL. */
const EXIT_MARGIN_MS = 10_000;

/** The development users of deploy/nats/accounts.conf, one per role. */
const USERS = {
  producer: { user: "producer", password: "jetmesh-producer-dev" },
  worker: { user: "worker", password: "jetmesh-worker-dev" },
  controlPlane: { user: "control-plane", password: "jetmesh-control-plane-dev" },
  admin: { user: "admin", password: "jetmesh-admin-dev" },
} as const;
const ROUTE_USER = { user: "route", password: "jetmesh-route-dev" };

interface DevSettings {
  rate: number;
  durationMs: number | undefined;
  dataDir: string;
  graceMs: number;
}

function readSettings(env: NodeJS.ProcessEnv): DevSettings {
  if (env.NATS_URL) {
    throw new UsageError(
      "NATS_URL is set: dev:cluster starts its own three servers. Unset it, or use `npm run dev` against an existing server.",
    );
  }
  if (env.JETMESH_PREFIX && env.JETMESH_PREFIX !== DEFAULT_PREFIX) {
    throw new UsageError(
      `JETMESH_PREFIX=${env.JETMESH_PREFIX}: the shipped permissions (${ACCOUNTS_FILE}) name the prefix "${DEFAULT_PREFIX}"; unset it here.`,
    );
  }
  const dataDir = env.JETMESH_DEV_DATA_DIR || join(".jetmesh", "cluster");
  return {
    rate: positiveNumber(env, "JETMESH_DEV_RATE") ?? 4,
    durationMs: positiveNumber(env, "JETMESH_DEV_DURATION_MS"),
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(ROOT, dataDir),
    graceMs: positiveNumber(env, "JETMESH_SHUTDOWN_GRACE_MS") ?? 30_000,
  };
}

function say(line: string): void {
  process.stdout.write(`[cluster] ${line}\n`);
}

/** Mostly emails; now and then a payment (some declined), a report and a flaky task. */
function nextDemoJob(n: number): JobToEnqueue {
  switch (n % 6) {
    case 1:
      return {
        queue: QUEUE,
        name: "payment.charge",
        payload: { orderId: `order-${n}`, amountCents: 1999, card: n % 4 === 1 ? DECLINED_CARD : "4242" },
      };
    case 3:
      return { queue: QUEUE, name: "report.generate", payload: { reportId: `report-${n}`, steps: 3 } };
    case 5:
      return { queue: QUEUE, name: "flaky.task", payload: { failAttempts: 1 } };
    default:
      return {
        queue: QUEUE,
        name: "email.send",
        payload: { to: `user${n}@example.com`, subject: `Hello #${n}` },
      };
  }
}

/** A child process of the cluster (worker or control plane) with its label and exit promise. */
interface Child {
  label: string;
  process: ChildProcess;
  closed: Promise<void>;
}

class Cluster extends Launcher {
  readonly tally = new Tally();
  readonly #servers: NatsServer[] = [];
  readonly #monitorPorts: number[] = [];
  readonly #children: Child[] = [];
  #admin: JetmeshClient | undefined;
  #producerClient: JetmeshClient | undefined;
  #producer: DemoProducer | undefined;
  #summaryTimer: NodeJS.Timeout | undefined;
  constructor(readonly settings: DevSettings) {
    super(say);
  }

  get urls(): string[] {
    return this.#servers.map((server) => server.url);
  }

  #as(role: keyof typeof USERS, servers: string[] = this.urls): ConnectionSettings {
    return { servers, ...USERS[role] };
  }

  protected async start(): Promise<void> {
    if (findNatsServerBinary() === undefined) {
      process.stderr.write(`${NATS_SERVER_INSTALL_HINT}\n`);
      throw new Error("nats-server is not installed");
    }
    await this.#startServers();
    if (this.stopping) return;

    await this.#waitForJetStream();
    if (this.stopping) return;
    this.#admin = await JetmeshClient.connect({ connection: this.#as("controlPlane") });
    const [queue] = await declareQueues(
      this.#admin,
      [QUEUE],
      { replicas: REPLICAS },
      { waitMs: 60_000, onRetry: (message) => say(message) },
    );
    this.#admin.nc.subscribe(this.#admin.subjects.eventFilter(), {
      callback: (error, msg) => {
        if (error !== null) return;
        for (const event of parseLifecycleEvents(msg.data)) {
          try {
            this.#onEvent(event);
          } catch {
            // Not a jetmesh event: ignore it.
          }
        }
      },
    });
    await this.#admin.nc.flush();
    if (this.stopping) return;

    const controlPlaneHttpPort = await freePort();
    const controlPlane = existsSync(join(ROOT, CONTROL_PLANE_ENTRY))
      ? this.#spawnControlPlane(controlPlaneHttpPort)
      : undefined;
    const workers: { pid: number | undefined; node: string; metricsPort: number }[] = [];
    for (const index of [0, 1]) {
      const metricsPort = await freePort();
      const child = this.#spawnWorker(index, metricsPort);
      workers.push({ pid: child.pid, node: `nats-${index + 1}`, metricsPort });
    }
    this.#banner(queue?.stream ?? "", controlPlane, controlPlaneHttpPort, workers);

    this.#producerClient = await JetmeshClient.connect({ connection: this.#as("producer") });
    this.#producer = new DemoProducer(this.#producerClient, this.settings.rate, this.tally, nextDemoJob, say);
    this.#producer.start();
    this.#summaryTimer = setInterval(() => say(`summary ${this.tally.line()}`), SUMMARY_EVERY_MS);
    const { durationMs } = this.settings;
    if (durationMs !== undefined) {
      setTimeout(() => this.stop(`ran for ${durationMs} ms`), durationMs).unref();
    }
  }

  /** Three nodes with stable names and storage, routes between them, and the shipped users. */
  async #startServers(): Promise<void> {
    const accounts = await readFile(join(ROOT, ACCOUNTS_FILE), "utf8");
    const clientPorts = [await freePort(), await freePort(), await freePort()];
    const routePorts = [await freePort(), await freePort(), await freePort()];
    this.#monitorPorts.push(await freePort(), await freePort(), await freePort());
    const credentials = `${ROUTE_USER.user}:${ROUTE_USER.password}`;
    const routes = routePorts.map((port) => `"nats-route://${credentials}@127.0.0.1:${port}"`).join(", ");
    const started = await Promise.allSettled(
      clientPorts.map(async (port, index) => {
        const storeDir = join(this.settings.dataDir, `nats-${index + 1}`);
        await mkdir(storeDir, { recursive: true });
        return NatsServer.start({
          serverName: `nats-${index + 1}`,
          port,
          storeDir,
          extraConfig: [
            `http: "127.0.0.1:${this.#monitorPorts[index]}"`,
            "max_payload: 1MB",
            `cluster {`,
            `  name: "jetmesh-dev"`,
            `  listen: "127.0.0.1:${routePorts[index]}"`,
            `  authorization { user: "${ROUTE_USER.user}", password: "${ROUTE_USER.password}" }`,
            `  routes: [${routes}]`,
            `}`,
            accounts,
          ].join("\n"),
        });
      }),
    );
    // Keep every server that did start, so that the shutdown stops it even when another failed.
    for (const result of started) if (result.status === "fulfilled") this.#servers.push(result.value);
    const failure = started.find((result) => result.status === "rejected");
    if (failure !== undefined) throw failure.reason;
  }

  /** A cluster answers JetStream requests only once it has elected a meta leader. */
  async #waitForJetStream(): Promise<void> {
    const nc = await connectNats(this.#as("controlPlane"));
    const deadline = Date.now() + 30_000;
    try {
      for (;;) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          await jsm.getAccountInfo();
          return;
        } catch (error) {
          if (Date.now() > deadline)
            throw new Error(`JetStream did not become ready: ${(error as Error).message}`);
          if (this.stopping) return;
          await sleep(250);
        }
      }
    } finally {
      await nc.close();
    }
  }

  #onEvent(event: LifecycleEvent): void {
    this.tally.record(event);
    if (event.type === "dead") {
      say(`${event.name} ${event.jobId} dead-lettered (${event.reason}): ${event.error?.message}`);
    }
  }

  /** Children run in their own process group so that only this process signals them: once, in order. */
  #spawnChild(label: string, script: string, env: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: ROOT,
      env: { ...process.env, JETMESH_LOG_PRETTY: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const prefix = `[${label}] `;
    relay(child.stdout, prefix);
    relay(child.stderr, prefix);
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    child.once("error", (error) => {
      say(`${label} could not start: ${error.message}`);
      this.stop(`${label} could not start`, true);
    });
    child.once("exit", () => {
      if (!this.stopping) {
        say(`${label} exited unexpectedly (${describeExit(child)})`);
        this.stop(`${label} exited`, true);
      }
    });
    this.#children.push({ label, process: child, closed });
    return child;
  }

  #spawnWorker(index: number, metricsPort: number): ChildProcess {
    const server = this.#servers[index];
    if (server === undefined) throw new Error(`no server ${index + 1}`);
    // One node's URL: the worker learns the other nodes from it and fails over to them.
    return this.#spawnChild(`worker ${index + 1}`, "workers/main.ts", {
      NATS_URL: server.url,
      NATS_USER: USERS.worker.user,
      NATS_PASSWORD: USERS.worker.password,
      JETMESH_QUEUES: QUEUE,
      JETMESH_HANDLERS: HANDLERS,
      JETMESH_METRICS_PORT: String(metricsPort),
      JETMESH_METRICS_HOST: "127.0.0.1",
    });
  }

  #spawnControlPlane(httpPort: number): ChildProcess {
    return this.#spawnChild("control-plane", CONTROL_PLANE_ENTRY, {
      NATS_URL: this.urls.join(","),
      NATS_USER: USERS.controlPlane.user,
      NATS_PASSWORD: USERS.controlPlane.password,
      // A free port, so a second local cluster (or a compose stack) on 9465 does not collide.
      JETMESH_CP_HTTP_PORT: String(httpPort),
      JETMESH_CP_HTTP_HOST: "127.0.0.1",
      // Its own streams (heartbeats, outcomes) replicated like the queue, as in docker-compose.yml.
      JETMESH_CP_REPLICAS: String(REPLICAS),
    });
  }

  #banner(
    stream: string,
    controlPlane: ChildProcess | undefined,
    controlPlaneHttpPort: number,
    workers: { pid: number | undefined; node: string; metricsPort: number }[],
  ): void {
    const { settings } = this;
    const lines = [
      `jetmesh local cluster (cluster pid ${process.pid})`,
      `  NATS_URL  ${this.urls.join(",")}`,
      ...this.#servers.map(
        (server, index) =>
          `  nats-${index + 1}    nats-${index + 1} pid ${server.pid}  ${server.url}  monitoring http://127.0.0.1:${this.#monitorPorts[index]}/jsz`,
      ),
      `  storage   ${shown(settings.dataDir)} (kept between runs)`,
      `  users     ${Object.values(USERS)
        .map((user) => `${user.user}/${user.password}`)
        .join("  ")}  (${ACCOUNTS_FILE})`,
      `  queue     ${QUEUE}  (stream ${stream}, ${REPLICAS} replicas; declared)`,
      controlPlane === undefined
        ? `  control   skipped: ${CONTROL_PLANE_ENTRY} does not exist yet`
        : `  control   control plane pid ${controlPlane.pid}  (${CONTROL_PLANE_ENTRY}, logs prefixed [control-plane])  metrics http://127.0.0.1:${controlPlaneHttpPort}/metrics`,
      ...workers.map(
        (worker, index) =>
          `  worker ${index + 1}  worker ${index + 1} pid ${worker.pid}  on ${worker.node}  metrics http://127.0.0.1:${worker.metricsPort}/metrics`,
      ),
      `  producer  ${settings.rate} jobs/s of email.send, payment.charge, report.generate, flaky.task (user producer)`,
      `  try       NATS_URL=${this.urls[0]} NATS_USER=admin NATS_PASSWORD=${USERS.admin.password} (any NATS tool)`,
      settings.durationMs === undefined
        ? "  stop      Ctrl-C (stops the producer, drains the workers, then the servers)"
        : `  stop      by itself after ${settings.durationMs} ms, or Ctrl-C`,
    ];
    for (const line of lines) say(line);
  }

  protected async shutdown(): Promise<void> {
    if (this.#producer !== undefined) {
      await this.#producer.stop();
      say("producer stopped");
    }
    // Workers and the control plane drain in parallel; the servers stay up until they are done.
    await Promise.all(this.#children.map((child) => this.#stopChild(child)));
    clearInterval(this.#summaryTimer);
    for (const client of [this.#producerClient, this.#admin]) {
      await client?.close().catch((error: unknown) => say(`closing a client: ${(error as Error).message}`));
    }
    if (this.#admin !== undefined) say(`final summary ${this.tally.line()}`);
    await Promise.all(
      this.#servers.map(async (server, index) => {
        await server.stop();
        // The generated config lives in a temporary folder; stop() keeps it when the storage is ours.
        await rm(server.workDir, { recursive: true, force: true });
        say(`nats-${index + 1} stopped`);
      }),
    );
    if (this.#servers.length > 0) say(`servers stopped (data kept in ${shown(this.settings.dataDir)})`);
  }

  async #stopChild({ label, process: child, closed }: Child): Promise<void> {
    if (child.pid === undefined) return;
    if (running(child)) {
      say(`draining ${label} (SIGTERM to pid ${child.pid})`);
      child.kill("SIGTERM");
      const limitMs = this.settings.graceMs + EXIT_MARGIN_MS;
      const timer = setTimeout(() => {
        say(`${label} did not exit within ${limitMs} ms: killing it`);
        child.kill("SIGKILL");
      }, limitMs);
      await closed;
      clearTimeout(timer);
    } else {
      await closed;
    }
    say(`${label} stopped (${describeExit(child)})`);
  }

  /** Last resort when this process exits without a shutdown: leave nothing it started behind. */
  killChildren(): void {
    for (const { process: child } of this.#children) if (running(child)) child.kill("SIGKILL");
    for (const server of this.#servers) {
      // kill() sends the signal before its first await; nothing waits for the exit here.
      void server.kill("SIGTERM");
      rmSync(server.workDir, { recursive: true, force: true });
    }
  }
}

launch(import.meta.url, "cluster", { readSettings, create: (settings) => new Cluster(settings), say });
