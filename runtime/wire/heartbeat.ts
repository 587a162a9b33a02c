// Worker heartbeats, published as JSON on `<prefix>.hb.<workerId>` every interval. The control
// plane derives live fleet status from them: a worker missing three intervals is gone.

export interface RunningJobStatus {
  jobId: string;
  queue: string;
  name: string;
  attempt: number;
  /** ms since epoch. */
  startedAt: number;
  progress?: unknown;
}

export interface QueueStatus {
  queue: string;
  /** Jobs of this queue the worker runs at once. */
  concurrency: number;
  running: number;
  paused: boolean;
}

export interface Heartbeat {
  workerId: string;
  host: string;
  pid: number;
  /** jetmesh version of the worker. */
  version: string;
  startedAt: number;
  /** When this heartbeat was sent (ms since epoch). */
  at: number;
  /** The interval the worker promises: a heartbeat older than 3 intervals means gone. */
  intervalMs: number;
  /**
   * "running"; "draining" after a drain command or SIGTERM; "stopped" in the last heartbeat of a
   * worker that stopped cleanly, so it shows as gone at once instead of after three intervals.
   */
  state: "running" | "draining" | "stopped";
  queues: QueueStatus[];
  jobs: RunningJobStatus[];
  /** Totals since the worker started. */
  counters: { completed: number; failed: number; retried: number; dead: number; cancelled: number };
  memory: { rssBytes: number; heapUsedBytes: number };
}
