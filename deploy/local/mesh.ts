// The local mesh behind `npm run dev`: a nats-server with JetStream (unless NATS_URL points at
// one), the "default" queue, one worker process running the example handlers, and a demo producer
// that enqueues a mix of example jobs. It prints where everything is and a summary of the
// lifecycle events every few seconds. Ctrl-C or SIGTERM stops the producer, drains the worker,
// then stops nats-server, and exits 0.
//
// Environment:
//   NATS_URL                  use this server instead of starting one (nothing is started or stopped)
//   JETMESH_DEV_RATE          jobs enqueued per second (default 4; fractions allowed)
//   JETMESH_DEV_DURATION_MS   stop by itself after this long (default: run until stopped)
//   JETMESH_DEV_DATA_DIR      nats-server storage (default .jetmesh/nats in the project)
//   JETMESH_PREFIX, JETMESH_CONCURRENCY, JETMESH_SHUTDOWN_GRACE_MS, JETMESH_LOG_LEVEL…  passed to the worker
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import {
  connectionSettingsFromEnv,
  DEFAULT_PREFIX,
  JetmeshClient,
  type JobToEnqueue,
  type LifecycleEvent,
  parseLifecycleEvents,
} from "../../runtime/index.ts";
import {
  DECLINED_CARD,
  type EmailPayload,
  type FlakyPayload,
  type PaymentPayload,
  type ReportPayload,
} from "../../workers/handlers/examples.ts";
import {
  DemoProducer,
  describeExit,
  Launcher,
  launch,
  positiveNumber,
  ROOT,
  relay,
  shown,
  Tally,
} from "./dev-support.ts";
import {
  findNatsServerBinary,
  NATS_SERVER_INSTALL_HINT,
  NatsServer,
  waitForJetStream,
} from "./nats-server.ts";

const QUEUE = "default";
const HANDLERS = "workers/handlers/examples.ts";
const SUMMARY_EVERY_MS = 3000;
/** Extra time the worker gets to exit after its own shutdown grace period, before SIGKILL. */
const WORKER_EXIT_MARGIN_MS = 10_000;

interface DevSettings {
  natsUrl: string | undefined;
  rate: number;
  durationMs: number | undefined;
  dataDir: string;
  prefix: string;
  workerGraceMs: number;
}

function readSettings(env: NodeJS.ProcessEnv): DevSettings {
  const dataDir = env.JETMESH_DEV_DATA_DIR || join(".jetmesh", "nats");
  return {
    natsUrl: env.NATS_URL || undefined,
    rate: positiveNumber(env, "JETMESH_DEV_RATE") ?? 4,
    durationMs: positiveNumber(env, "JETMESH_DEV_DURATION_MS"),
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(ROOT, dataDir),
    prefix: env.JETMESH_PREFIX || DEFAULT_PREFIX,
    workerGraceMs: positiveNumber(env, "JETMESH_SHUTDOWN_GRACE_MS") ?? 30_000,
  };
}

function say(line: string): void {
  process.stdout.write(`[mesh] ${line}\n`);
}

/** email, payment, email, report, email, flaky, payment (every third payment is declined), … */
function nextDemoJob(n: number): JobToEnqueue {
  switch (n % 7) {
    case 1:
    case 3:
    case 5: {
      const email: EmailPayload = { to: `user${n}@example.com`, subject: `Welcome #${n}` };
      return { queue: QUEUE, name: "email.send", payload: email };
    }
    case 2:
    case 0: {
      const payment: PaymentPayload = {
        orderId: `order-${n}`,
        amountCents: 100 * (n % 50) + 99,
        card: n % 3 === 0 ? DECLINED_CARD : "4242424242424242",
      };
      return { queue: QUEUE, name: "payment.charge", payload: payment };
    }
    case 4: {
      const report: ReportPayload = { reportId: `report-${n}`, steps: 5 };
      return { queue: QUEUE, name: "report.generate", payload: report };
    }
    default: {
      const task: FlakyPayload = { failAttempts: 1 };
      return { queue: QUEUE, name: "flaky.task", payload: task };
    }
  }
}

class Mesh extends Launcher {
  readonly tally = new Tally();
  #server: NatsServer | undefined;
  #client: JetmeshClient | undefined;
  #worker: ChildProcess | undefined;
  #workerClosed: Promise<void> = Promise.resolve();
  #producer: DemoProducer | undefined;
  #summaryTimer: NodeJS.Timeout | undefined;
  constructor(readonly settings: DevSettings) {
    super(say);
  }

  protected async start(): Promise<void> {
    const { settings } = this;
    let url = settings.natsUrl;
    if (url === undefined) {
      if (findNatsServerBinary() === undefined) {
        process.stderr.write(`${NATS_SERVER_INSTALL_HINT}\n`);
        throw new Error("nats-server is not installed");
      }
      await mkdir(settings.dataDir, { recursive: true });
      this.#server = await NatsServer.start({ storeDir: settings.dataDir });
      url = this.#server.url;
      await waitForJetStream(url, 15_000);
    }
    if (this.stopping) return;

    // Credentials and TLS settings (NATS_CREDS, NATS_TLS_CA…) apply to an external server.
    const connection = {
      ...connectionSettingsFromEnv(process.env),
      servers: url.split(",").map((s) => s.trim()),
    };
    const client = await JetmeshClient.connect({ connection, prefix: settings.prefix });
    this.#client = client;
    const queue = await client.queues.declare(QUEUE);
    client.nc.subscribe(client.subjects.eventFilter(), {
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
    await client.nc.flush();
    if (this.stopping) return;

    this.#spawnWorker(url);
    this.#banner(url, queue.stream);

    this.#producer = new DemoProducer(client, settings.rate, this.tally, nextDemoJob, say);
    this.#producer.start();
    this.#summaryTimer = setInterval(() => say(`summary ${this.tally.line()}`), SUMMARY_EVERY_MS);
    if (settings.durationMs !== undefined) {
      setTimeout(() => this.stop(`ran for ${settings.durationMs} ms`), settings.durationMs).unref();
    }
  }

  #onEvent(event: LifecycleEvent): void {
    this.tally.record(event);
    if (event.type === "retrying") {
      say(
        `${event.name} ${event.jobId} attempt ${event.attempt} failed, retrying in ${event.retryInMs} ms: ${event.error?.message}`,
      );
    } else if (event.type === "dead") {
      say(`${event.name} ${event.jobId} dead-lettered (${event.reason}): ${event.error?.message}`);
    }
  }

  #spawnWorker(url: string): void {
    // Its own process group, so that only this process signals it: once, after the producer.
    const worker = spawn(process.execPath, ["--import", "tsx", "workers/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL: url,
        JETMESH_QUEUES: QUEUE,
        JETMESH_HANDLERS: HANDLERS,
        JETMESH_PREFIX: this.settings.prefix,
        JETMESH_LOG_PRETTY: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    this.#worker = worker;
    relay(worker.stdout, "[worker] ");
    relay(worker.stderr, "[worker] ");
    this.#workerClosed = new Promise((resolve) => worker.once("close", () => resolve()));
    worker.once("error", (error) => {
      say(`worker could not start: ${error.message}`);
      this.stop("the worker could not start", true);
    });
    worker.once("exit", () => {
      if (!this.stopping) {
        say(`worker exited unexpectedly (${describeExit(worker)})`);
        this.stop("the worker exited", true);
      }
    });
  }

  #banner(url: string, stream: string): void {
    const { settings } = this;
    const server =
      this.#server === undefined
        ? "external server from NATS_URL, not started or stopped here"
        : `nats-server pid ${this.#server.pid}, data in ${shown(settings.dataDir)}`;
    const lines = [
      `jetmesh local mesh (mesh pid ${process.pid})`,
      `  NATS      ${url}  (${server})`,
      `  queue     ${QUEUE}  (stream ${stream}; declared)`,
      `  worker    worker pid ${this.#worker?.pid}  (handlers ${HANDLERS}, pretty logs prefixed [worker])`,
      `  producer  ${settings.rate} jobs/s of email.send, payment.charge, report.generate, flaky.task`,
      `  events    ${this.#client?.subjects.eventFilter()}  (summary every ${SUMMARY_EVERY_MS / 1000} s)`,
      settings.durationMs === undefined
        ? "  stop      Ctrl-C (stops the producer, drains the worker, then nats-server)"
        : `  stop      by itself after ${settings.durationMs} ms, or Ctrl-C`,
    ];
    for (const line of lines) say(line);
  }

  protected async shutdown(): Promise<void> {
    if (this.#producer !== undefined) {
      await this.#producer.stop();
      say("producer stopped");
    }
    await this.#stopWorker();
    clearInterval(this.#summaryTimer);
    if (this.#client !== undefined) {
      await this.#client
        .close()
        .catch((error: unknown) => say(`closing the client: ${(error as Error).message}`));
      say(`final summary ${this.tally.line()}`);
    }
    if (this.#server !== undefined) {
      await this.#server.stop();
      // The server's generated config lives in a temporary folder that stop() keeps when the
      // storage folder is ours.
      await rm(this.#server.workDir, { recursive: true, force: true });
      say(`nats-server stopped (data kept in ${shown(this.settings.dataDir)})`);
    }
  }

  async #stopWorker(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined || worker.pid === undefined) return;
    if (worker.exitCode === null && worker.signalCode === null) {
      say(`draining the worker (SIGTERM to pid ${worker.pid})`);
      worker.kill("SIGTERM");
      const limitMs = this.settings.workerGraceMs + WORKER_EXIT_MARGIN_MS;
      const timer = setTimeout(() => {
        say(`the worker did not exit within ${limitMs} ms: killing it`);
        worker.kill("SIGKILL");
      }, limitMs);
      await this.#workerClosed;
      clearTimeout(timer);
    } else {
      await this.#workerClosed;
    }
    say(`worker stopped (${describeExit(worker)})`);
  }

  /** Last resort when this process exits without a shutdown: leave nothing it started behind. */
  killChildren(): void {
    const worker = this.#worker;
    if (worker !== undefined && worker.exitCode === null && worker.signalCode === null) {
      worker.kill("SIGKILL");
    }
    if (this.#server !== undefined) {
      // kill() sends the signal before its first await; nothing waits for the exit here.
      void this.#server.kill("SIGTERM");
      rmSync(this.#server.workDir, { recursive: true, force: true });
    }
  }
}

launch(import.meta.url, "mesh", { readSettings, create: (settings) => new Mesh(settings), say });
