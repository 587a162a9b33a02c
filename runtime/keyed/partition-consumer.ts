// The consumer a partition's owner reads through. Each holding of the partition's lease gets a
// consumer of its own, created after every earlier one is deleted: delivery starts again at the
// partition's oldest unacknowledged job (so a key's order survives a change of owner), and a
// previous owner's late acknowledgements reach a consumer that no longer exists (so they cannot
// complete a job its successor is running).
import { AckPolicy, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { isNotFound, type QueueSettings, SPARE_DELIVERIES } from "../jetstream/queues.ts";
import type { Subjects } from "../wire/subjects.ts";
import { partitionConsumerPrefix, partitionFilter } from "./partitions.ts";

/** Creates the consumer of this holding of the partition; returns its name. */
export async function recreatePartitionConsumer(
  jsm: JetStreamManager,
  subjects: Subjects,
  settings: QueueSettings,
  partition: number,
  generation: number,
): Promise<string> {
  const prefix = partitionConsumerPrefix(partition);
  const filter = partitionFilter(subjects, settings.queue, partition);
  for await (const info of jsm.consumers.list(settings.stream)) {
    if (!info.name.startsWith(prefix) && info.config.filter_subject !== filter) continue;
    await jsm.consumers.delete(settings.stream, info.name).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }
  const name = `${prefix}${generation}`;
  await jsm.consumers.add(settings.stream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(settings.ackWaitMs),
    max_deliver: settings.maxAttempts + SPARE_DELIVERIES,
    // The jobs of the partition its owner holds at once, running or waiting behind their key.
    max_ack_pending: settings.concurrency,
    filter_subject: filter,
  });
  return name;
}
