// How big and how often: the quick profile is a smoke run (CI, about a minute), the full one gives
// the figures.
import type {
  DelayedParams,
  DrainParams,
  EnqueueParams,
  HeartbeatParams,
  KeyedParams,
  LatencyParams,
  MemoryParams,
  PauseParams,
  PayloadSpec,
} from "./scenario.ts";

/** One payload size of the payload scenarios, with the counts that suit it. */
export interface PayloadSize {
  bytes: number;
  /** Big payloads need a smaller window to keep the bytes in flight bounded. */
  enqueue: EnqueueParams;
  drainMessages: number;
}

export interface Profile {
  name: "quick" | "full";
  /** Runs of each scenario per system; the report shows their median and spread. */
  repeats: number;
  /** A run that takes longer fails, so a stuck system cannot hang the benchmark. */
  runTimeoutMs: number;
  enqueue: EnqueueParams;
  drain: { messages: number; concurrencies: DrainParams["concurrency"][] };
  latency: LatencyParams;
  /** Every size × encoding is an enqueue scenario and a drain scenario. */
  payloads: { sizes: PayloadSize[]; encodings: PayloadSpec["encoding"][]; concurrency: number };
  processes: { messages: number; counts: number[]; concurrency: number };
  memory: MemoryParams;
  delayed: DelayedParams;
  /** Keyed jobs (jetmesh only): drain rates over 1, 100 and 100,000 keys against unkeyed. */
  keyed: KeyedParams;
  /** Control scenarios (jetmesh only): pause propagation and heartbeat aggregation. */
  control: { pause: PauseParams; heartbeats: HeartbeatParams };
}

// Concurrencies span the design's comparison points: a single handler, typical worker sizes, and
// the range where BullMQ peaks (50-200).
const CONCURRENCIES = [1, 16, 64, 256];
const ENCODINGS: PayloadSpec["encoding"][] = ["msgpack", "json"];
const KB = 1024;
/** A typical worker size: the payload, process and memory scenarios run their workers at it. */
const WORKER_CONCURRENCY = 64;
/** The key counts: one key (everything in order), a hundred, and one per job. */
const KEY_COUNTS = [1, 100, 100_000];

export const PROFILES: Record<Profile["name"], Profile> = {
  quick: {
    name: "quick",
    repeats: 1,
    runTimeoutMs: 30_000,
    enqueue: { messages: 20_000, window: 1_000 },
    drain: { messages: 5_000, concurrencies: CONCURRENCIES },
    latency: { rate: 2_000, warmupMs: 500, durationMs: 2_000, concurrency: 64 },
    payloads: {
      sizes: [
        { bytes: 100, enqueue: { messages: 2_000, window: 1_000 }, drainMessages: 2_000 },
        { bytes: 10 * KB, enqueue: { messages: 500, window: 500 }, drainMessages: 500 },
        { bytes: 256 * KB, enqueue: { messages: 50, window: 32 }, drainMessages: 50 },
      ],
      encodings: ENCODINGS,
      concurrency: WORKER_CONCURRENCY,
    },
    // Starting worker processes takes a second or two each: one count is enough for a smoke run.
    processes: { messages: 3_000, counts: [2], concurrency: WORKER_CONCURRENCY },
    memory: { messages: 3_000, concurrency: WORKER_CONCURRENCY, idleMs: 300, checkpoints: [0.25, 0.9] },
    delayed: { pending: 10_000, due: 500, spreadMs: 3_000 },
    // Fewer jobs than keys: the 100,000-key drain gives every job a key of its own.
    keyed: { messages: 3_000, keys: KEY_COUNTS, partitions: 16, concurrency: WORKER_CONCURRENCY },
    // A smaller fleet and a shorter interval: the smoke run checks that both scenarios work.
    control: {
      pause: { workers: 20, pauses: 3 },
      heartbeats: { workers: 200, intervalMs: 1_000, durationMs: 3_000 },
    },
  },
  full: {
    name: "full",
    repeats: 3,
    runTimeoutMs: 180_000,
    enqueue: { messages: 100_000, window: 1_000 },
    drain: { messages: 50_000, concurrencies: CONCURRENCIES },
    latency: { rate: 2_000, warmupMs: 1_000, durationMs: 10_000, concurrency: 64 },
    payloads: {
      sizes: [
        { bytes: 100, enqueue: { messages: 50_000, window: 1_000 }, drainMessages: 50_000 },
        { bytes: 10 * KB, enqueue: { messages: 20_000, window: 500 }, drainMessages: 20_000 },
        { bytes: 256 * KB, enqueue: { messages: 1_000, window: 32 }, drainMessages: 1_000 },
      ],
      encodings: ENCODINGS,
      concurrency: WORKER_CONCURRENCY,
    },
    processes: { messages: 50_000, counts: [1, 2, 4], concurrency: WORKER_CONCURRENCY },
    memory: { messages: 100_000, concurrency: WORKER_CONCURRENCY, idleMs: 2_000, checkpoints: [0.25, 0.9] },
    // A million pending delayed jobs: enqueueing them alone takes about a minute here.
    delayed: { pending: 1_000_000, due: 5_000, spreadMs: 20_000 },
    keyed: { messages: 100_000, keys: KEY_COUNTS, partitions: 16, concurrency: WORKER_CONCURRENCY },
    // The design's fleet sizes, at the worker's default heartbeat interval (5 s).
    control: {
      pause: { workers: 100, pauses: 20 },
      heartbeats: { workers: 1_000, intervalMs: 5_000, durationMs: 30_000 },
    },
  },
};
