// A private redis-server for the BullMQ baseline: its own loopback port, no persistence, stopped
// by pid. The machine's own Redis (6379) is never touched.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../deploy/local/nats-server.ts";

export const REDIS_SERVER_INSTALL_HINT =
  "redis-server was not found on PATH; install it (Debian/Ubuntu: apt-get install -y redis-server) to run the BullMQ baseline";

const HOST = "127.0.0.1";
const STARTUP_TIMEOUT_MS = 10_000;
const SHUTDOWN_TIMEOUT_MS = 5_000;

/** The redis-server binary's version (e.g. "7.0.15"), or undefined when it is not installed. */
export function redisServerVersion(): string | undefined {
  const probe = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (probe.status !== 0) return undefined;
  return /v=(\S+)/.exec(probe.stdout)?.[1] ?? probe.stdout.trim();
}

export class RedisServer {
  readonly host = HOST;
  #log = "";

  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly workDir: string,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(): Promise<RedisServer> {
    const port = await freePort();
    // A working folder of its own, so nothing lands in the repository even if Redis writes a file.
    const workDir = await mkdtemp(join(tmpdir(), "jetmesh-bench-redis-"));
    const args = ["--port", `${port}`, "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", workDir];
    const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    const server = new RedisServer(port, child, workDir);
    const collect = (chunk: Buffer) => {
      server.#log = (server.#log + chunk.toString()).slice(-16 * 1024);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("error", (error) => collect(Buffer.from(`${error}\n`)));
    try {
      await server.#waitUntilListening();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  async #waitUntilListening(): Promise<void> {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.#exited()) throw new Error(`redis-server exited at startup:\n${this.#log}`);
      if (await canConnect(this.host, this.port)) return;
      await sleep(50);
    }
    throw new Error(
      `redis-server did not listen on port ${this.port} within ${STARTUP_TIMEOUT_MS} ms:\n${this.#log}`,
    );
  }

  #exited(): boolean {
    // No pid means the process could not be spawned at all.
    return this.child.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Stops the server (SIGTERM, then SIGKILL if it lingers) and removes its working folder. */
  async stop(): Promise<void> {
    if (!this.#exited()) {
      const exit = once(this.child, "exit");
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), SHUTDOWN_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
    }
    await rm(this.workDir, { recursive: true, force: true });
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, host);
  });
}
