// How big and how often: the quick profile is a smoke run (< 1 min), the full one gives the figures.
import type { DrainParams, EnqueueParams, LatencyParams } from "./scenario.ts";

export interface Profile {
  name: "quick" | "full";
  /** Runs of each scenario per system; the report shows their median and spread. */
  repeats: number;
  /** A run that takes longer fails, so a stuck system cannot hang the benchmark. */
  runTimeoutMs: number;
  enqueue: EnqueueParams;
  drain: { messages: number; concurrencies: DrainParams["concurrency"][] };
  latency: LatencyParams;
}

// Concurrencies span the design's comparison points: a single handler, typical worker sizes, and
// the range where BullMQ peaks (50-200).
const CONCURRENCIES = [1, 16, 64, 256];

export const PROFILES: Record<Profile["name"], Profile> = {
  quick: {
    name: "quick",
    repeats: 1,
    runTimeoutMs: 30_000,
    enqueue: { messages: 20_000, window: 1_000 },
    drain: { messages: 5_000, concurrencies: CONCURRENCIES },
    latency: { rate: 2_000, warmupMs: 500, durationMs: 2_000, concurrency: 64 },
  },
  full: {
    name: "full",
    repeats: 3,
    runTimeoutMs: 180_000,
    enqueue: { messages: 100_000, window: 1_000 },
    drain: { messages: 50_000, concurrencies: CONCURRENCIES },
    latency: { rate: 2_000, warmupMs: 1_000, durationMs: 10_000, concurrency: 64 },
  },
};
