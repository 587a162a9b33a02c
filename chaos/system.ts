// The system under test: one nats-server, or a 3-node cluster, that the fault schedule may kill,
// restart, stop and resume. The ledger lives elsewhere and is never touched.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import {
  findNatsServerBinary,
  NatsCluster,
  NatsServer,
  waitForJetStream,
} from "../deploy/local/nats-server.ts";

export class SystemUnderTest {
  /** Nodes currently stopped with SIGSTOP (resumed before any restart or shutdown). */
  readonly #paused = new Set<number>();

  private constructor(
    readonly nodes: NatsServer[],
    readonly cluster: boolean,
    readonly serverVersion: string,
  ) {}

  static async start(cluster: boolean): Promise<SystemUnderTest> {
    const nodes = cluster ? (await NatsCluster.start(3)).servers : [await NatsServer.start()];
    return new SystemUnderTest(nodes, cluster, natsServerVersion());
  }

  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** The node index of a server name ("n2" → 1 in a cluster; the single server is 0). */
  indexOf(serverName: string | undefined): number | undefined {
    const match = /^n(\d+)$/.exec(serverName ?? "");
    return match === null ? undefined : Number(match[1]) - 1;
  }

  node(index: number): NatsServer {
    const node = this.nodes[index];
    if (node === undefined) throw new Error(`no node ${index}`);
    return node;
  }

  async kill(index: number): Promise<void> {
    this.resume(index);
    await this.node(index).kill("SIGKILL");
  }

  async restart(index: number): Promise<void> {
    this.resume(index);
    await this.node(index).restart();
  }

  pause(index: number): void {
    this.node(index).signal("SIGSTOP");
    this.#paused.add(index);
  }

  resume(index: number): void {
    if (this.#paused.delete(index)) this.node(index).signal("SIGCONT");
  }

  /** Waits until JetStream answers again (after restarts a cluster first elects a meta leader). */
  async healthy(timeoutMs = 60_000): Promise<void> {
    await waitForJetStream(this.urls, timeoutMs);
  }

  async stop(): Promise<void> {
    for (const index of [...this.#paused]) this.resume(index);
    await Promise.all(this.nodes.map((node) => node.stop()));
  }

  /** Synchronous last resort: resume and kill every node, remove its storage. */
  killAll(): void {
    for (const index of [...this.#paused]) this.resume(index);
    killServers(this.nodes);
  }
}

function natsServerVersion(): string {
  const binary = findNatsServerBinary() ?? "nats-server";
  const out = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout ?? "";
  return /v?(\d+\.\d+\.\d+\S*)/.exec(out)?.[1] ?? "unknown";
}

/** Kills servers synchronously (the signal is sent before kill() first awaits) and removes their folders. */
export function killServers(servers: readonly NatsServer[]): void {
  for (const server of servers) {
    void server.kill("SIGKILL");
    rmSync(server.workDir, { recursive: true, force: true });
  }
}
