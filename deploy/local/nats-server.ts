// Starts and stops real nats-server processes on loopback: used by the local mesh, the test
// suite and the benchmarks, so all three exercise the same broker the way production does.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

export const NATS_SERVER_INSTALL_HINT = [
  "nats-server was not found on PATH. Install it with one of:",
  "  Debian/Ubuntu:  sudo apt-get install -y nats-server",
  "  macOS:          brew install nats-server",
  "  container:      docker run -p 4222:4222 nats:2 -js",
  "or point jetmesh at a running server with NATS_URL=nats://host:4222",
].join("\n");

/** Finds the nats-server binary, or returns undefined when it is not installed. */
export function findNatsServerBinary(): string | undefined {
  for (const candidate of ["nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]) {
    const probe = spawnSync(candidate, ["--version"], { encoding: "utf8" });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/** Asks the kernel for a free loopback port (released before nats-server binds it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("could not allocate a port");
  return address.port;
}

export interface NatsServerOptions {
  /** Client port; a free one when omitted. */
  port?: number;
  /** JetStream storage folder; a fresh temporary folder when omitted (removed by stop()). */
  storeDir?: string;
  /** Server name, unique within a cluster. */
  serverName?: string;
  /** Extra configuration text appended to the generated config (accounts, tls, cluster…). */
  extraConfig?: string;
  /** Enable JetStream. @default true */
  jetstream?: boolean;
}

/** One nats-server child process with its own port and storage folder. */
export class NatsServer {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #configPath: string;
  readonly #ownsStore: boolean;
  #log = "";

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    readonly workDir: string,
    ownsStore: boolean,
  ) {
    this.#configPath = join(workDir, "nats.conf");
    this.#ownsStore = ownsStore;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The server's own log output so far (useful in failed-test diagnostics). */
  get log(): string {
    return this.#log;
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const binary = findNatsServerBinary();
    if (binary === undefined) throw new Error(NATS_SERVER_INSTALL_HINT);
    const workDir = await mkdtemp(join(tmpdir(), "jetmesh-nats-"));
    const port = options.port ?? (await freePort());
    const storeDir = options.storeDir ?? join(workDir, "store");
    const server = new NatsServer(port, storeDir, workDir, options.storeDir === undefined);
    const lines = [
      `listen: "127.0.0.1:${port}"`,
      options.serverName === undefined ? "" : `server_name: "${options.serverName}"`,
      options.jetstream === false ? "" : `jetstream { store_dir: "${storeDir}" }`,
      options.extraConfig ?? "",
    ];
    await writeFile(server.#configPath, `${lines.filter(Boolean).join("\n")}\n`);
    await server.#spawn(binary);
    return server;
  }

  async #spawn(binary = findNatsServerBinary() ?? "nats-server"): Promise<void> {
    const child = spawn(binary, ["-c", this.#configPath], { stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    const collect = (chunk: Buffer) => {
      this.#log = (this.#log + chunk.toString()).slice(-64 * 1024);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    this.#exited = once(child, "exit").then(() => undefined);
    await waitForPort(this.port, child, () => this.#log);
  }

  /** Kills the process abruptly (default SIGKILL) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await this.#exited;
  }

  /** Suspends (SIGSTOP) or resumes (SIGCONT) the process, to simulate a partition. */
  signal(signal: "SIGSTOP" | "SIGCONT"): void {
    this.#child?.kill(signal);
  }

  /** Starts the same server again: same port, same storage. */
  async restart(): Promise<void> {
    await this.kill("SIGTERM");
    await this.#spawn();
  }

  /** Stops the server gracefully and removes folders it created. */
  async stop(): Promise<void> {
    await this.kill("SIGTERM");
    if (this.#ownsStore) await rm(this.workDir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`nats-server exited with code ${child.exitCode}:\n${log()}`);
    }
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nats-server did not listen on port ${port} within 15 s:\n${log()}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

/** A cluster of nats-servers with JetStream, formed on loopback. */
export class NatsCluster {
  private constructor(readonly servers: NatsServer[]) {}

  get urls(): string[] {
    return this.servers.map((server) => server.url);
  }

  static async start(size = 3, options: { extraConfig?: string } = {}): Promise<NatsCluster> {
    const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    const routes = clusterPorts.map((port) => `"nats-route://127.0.0.1:${port}"`).join(", ");
    const servers = await Promise.all(
      clusterPorts.map((clusterPort, index) =>
        NatsServer.start({
          serverName: `n${index + 1}`,
          extraConfig: [
            `cluster { name: "jetmesh-test", listen: "127.0.0.1:${clusterPort}", routes: [${routes}] }`,
            options.extraConfig ?? "",
          ].join("\n"),
        }),
      ),
    );
    const cluster = new NatsCluster(servers);
    await waitForJetStream(cluster.urls);
    return cluster;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Waits until JetStream answers API requests (a cluster needs a meta leader first). */
export async function waitForJetStream(servers: string | string[], timeoutMs = 30_000): Promise<void> {
  const nc = await connect({ servers, maxReconnectAttempts: -1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.getAccountInfo();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  } finally {
    await nc.close();
  }
}
