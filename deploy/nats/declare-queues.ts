// Declares the mesh's queues on a (possibly still forming) cluster: the one-shot `queues` service
// of docker-compose.yml runs it before any worker starts, and `npm run dev:cluster` calls
// declareQueues. Workers never create queues, so something must; this is that step.
//
//   node --import tsx deploy/nats/declare-queues.ts [--replicas 3] [--wait-ms 120000]
//
// Environment: JETMESH_QUEUES (comma list, default "default"), JETMESH_PREFIX, and the NATS_*
// connection variables (docs/configuration.md). Use credentials allowed to create streams (the
// control-plane or admin user of deploy/nats/accounts.conf).
//
// A declaration sets every queue option (docs/configuration.md, "Queues"): options not given here
// go back to their defaults on every run. Queues that need other settings are declared by your
// own deploy step with all of them.
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  connectionSettingsFromEnv,
  DEFAULT_PREFIX,
  JetmeshClient,
  type QueueOptions,
  type QueueSettings,
} from "../../runtime/index.ts";

export interface DeclareOptions {
  /** Keep retrying (no JetStream yet, cluster still electing a leader…) for this long. @default 120000 */
  waitMs?: number;
  /** Told about every failed try. */
  onRetry?: (message: string) => void;
}

/** Declares each queue, retrying while the cluster is not ready; resolves with their settings. */
export async function declareQueues(
  client: JetmeshClient,
  queues: readonly string[],
  queueOptions: QueueOptions,
  options: DeclareOptions = {},
): Promise<QueueSettings[]> {
  const deadline = Date.now() + (options.waitMs ?? 120_000);
  const declared: QueueSettings[] = [];
  for (const queue of queues) {
    for (;;) {
      try {
        declared.push(await client.queues.declare(queue, queueOptions));
        break;
      } catch (error) {
        const message = `declaring queue "${queue}" failed: ${(error as Error).message}`;
        if (Date.now() > deadline) throw new Error(message, { cause: error });
        options.onRetry?.(`${message}; retrying`);
        await sleep(1000);
      }
    }
  }
  return declared;
}

/** Opens a client, retrying while no server answers yet (a container starting alongside NATS). */
async function connectWithRetry(prefix: string, waitMs: number): Promise<JetmeshClient> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await JetmeshClient.connect({ connection: connectionSettingsFromEnv(), prefix });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      process.stderr.write(`${(error as Error).message}; retrying\n`);
      await sleep(1000);
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      replicas: { type: "string", default: "3" },
      "wait-ms": { type: "string", default: "120000" },
    },
  });
  const replicas = Number(values.replicas);
  const waitMs = Number(values["wait-ms"]);
  if (![1, 3, 5].includes(replicas))
    throw new Error(`--replicas must be 1, 3 or 5, got "${values.replicas}"`);
  if (!Number.isSafeInteger(waitMs) || waitMs < 0) {
    throw new Error(`--wait-ms must be a whole number of milliseconds, got "${values["wait-ms"]}"`);
  }
  const queues = (process.env.JETMESH_QUEUES || "default")
    .split(",")
    .map((queue) => queue.trim())
    .filter(Boolean);
  const prefix = process.env.JETMESH_PREFIX || DEFAULT_PREFIX;
  const client = await connectWithRetry(prefix, waitMs);
  try {
    const declared = await declareQueues(
      client,
      queues,
      { replicas },
      { waitMs, onRetry: (message) => process.stderr.write(`${message}\n`) },
    );
    for (const queue of declared) {
      process.stdout.write(
        `declared queue ${queue.queue}: stream ${queue.stream}, ${replicas} replica(s), consumer ${queue.consumer}\n`,
      );
    }
  } finally {
    await client.close();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  });
}
