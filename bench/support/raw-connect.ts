// The raw baseline's connection: the client's defaults, except `noAsyncTraces`, which jetmesh
// also sets (runtime/jetstream/connection.ts), so the ratio measures the job layer alone.
import { connect, type NatsConnection } from "@nats-io/transport-node";

export function connectRaw(natsUrl: string): Promise<NatsConnection> {
  return connect({ servers: natsUrl, noAsyncTraces: true });
}
