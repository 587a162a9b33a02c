// What every admin action needs: the mesh, the live fleet, the queue catalog and the defaults
// of this control plane. Commands are plain functions of (context, request) → result.
import type { Logger } from "pino";
import type { Mesh } from "../mesh.ts";
import type { HeartbeatAggregator } from "../status/heartbeat-aggregator.ts";
import type { QueueStats } from "../status/queue-stats.ts";

export interface CommandContext {
  mesh: Mesh;
  heartbeats: HeartbeatAggregator;
  stats: QueueStats;
  logger: Logger;
  /** How long to collect worker acknowledgements of a broadcast. */
  commandTimeoutMs: number;
  /** Most messages one scan of a stream reads (job lookup, dead-letter filters). */
  scanLimit: number;
}
