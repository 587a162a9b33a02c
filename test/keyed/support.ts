// Set-up shared by the keyed-job tests: worker processes running the keyed handlers, and a wait
// until the queue's partitions are spread over all of them.
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { keyedBucket, ownershipKeys } from "../../runtime/keyed/partitions.ts";
import { Subjects } from "../../runtime/wire/subjects.ts";
import { WorkerProcess, waitFor } from "../support/harness.ts";

export function startKeyedWorker(url: string, queue: string, concurrency: number): Promise<WorkerProcess> {
  return WorkerProcess.start(url, {
    JETMESH_QUEUES: queue,
    JETMESH_HANDLERS: "test/keyed/handlers.ts",
    JETMESH_CONCURRENCY: String(concurrency),
  });
}

/** Owner (worker id) of each partition of the queue, undefined where none holds it. */
export async function partitionOwners(
  nc: NatsConnection,
  queue: string,
  partitions: number,
): Promise<(string | undefined)[]> {
  const kv = await new Kvm(nc).open(keyedBucket(new Subjects()));
  return Promise.all(
    Array.from({ length: partitions }, async (_, partition) => {
      const entry = await kv.get(ownershipKeys.lease(queue, partition));
      return entry === null || entry.operation !== "PUT"
        ? undefined
        : entry.json<{ holder: string }>().holder;
    }),
  );
}

/** Waits until every partition has an owner and `workers` workers hold a fair share each. */
export async function waitForSpread(
  nc: NatsConnection,
  queue: string,
  partitions: number,
  workers: number,
): Promise<Map<string, number>> {
  return waitFor(
    async () => {
      const owners = await partitionOwners(nc, queue, partitions);
      const counts = new Map<string, number>();
      for (const owner of owners) if (owner !== undefined) counts.set(owner, (counts.get(owner) ?? 0) + 1);
      const fair = Math.ceil(partitions / workers);
      const spread =
        owners.every((owner) => owner !== undefined) &&
        counts.size === workers &&
        [...counts.values()].every((count) => count <= fair);
      return spread ? counts : undefined;
    },
    `the ${partitions} partitions to spread over ${workers} workers`,
    60_000,
    200,
  );
}
