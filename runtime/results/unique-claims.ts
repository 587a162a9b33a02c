// Uniqueness keys: at most one job per queue and key while it waits or runs, and within its
// window. A KV entry per key is claimed with compare-and-set BEFORE the job is published, so two
// producers racing for one key cannot both publish (docs/results-and-uniqueness.md).
import { createHash } from "node:crypto";
import { JetStreamApiError } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import { JetmeshError } from "../errors.ts";
import { UNIQUE_MAX_AGE_MS } from "./buckets.ts";

export interface UniqueOptions {
  /** Any text naming the work, e.g. "invoice-42"; only its hash travels and is stored. */
  key: string;
  /** Keep refusing duplicates this long after the enqueue, even once the job is done. @default 0 */
  windowMs?: number;
}

/**
 * One key's entry. `pending`: claimed, the job being published; `enqueued`: the job is stored;
 * `done`: it ended (completed, dead-lettered or cancelled).
 */
interface UniqueEntry {
  jobId: string;
  state: "pending" | "enqueued" | "done";
  /** When the claim was made, ms since epoch. */
  claimedAt: number;
  /** Duplicates are refused until this time whatever the state (claimedAt + windowMs). */
  until: number;
  /** The stored job's sequence, once known. */
  sequence?: number;
  doneAt?: number;
}

/**
 * How long a `pending` claim holds its key without being confirmed. Longer than any publish may
 * take (its timeout is seconds), so only a producer that died between claim and confirmation
 * leaves a claim this old.
 */
export const PENDING_CLAIM_MS = 30_000;

const CLAIM_ATTEMPTS = 10;

/** The hash of a uniqueness key: it travels in the Jetmesh-Unique-Key header. */
export function uniqueKeyHash(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 32);
}

function entryKey(queue: string, hash: string): string {
  return `${queue}.${hash}`;
}

export function assertUniqueOptions(unique: UniqueOptions): void {
  if (typeof unique.key !== "string" || unique.key.length === 0) {
    throw new JetmeshError("INVALID_OPTIONS", "enqueue option unique.key must be a non-empty string");
  }
  const windowMs = unique.windowMs ?? 0;
  if (!Number.isSafeInteger(windowMs) || windowMs < 0 || windowMs > UNIQUE_MAX_AGE_MS) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `enqueue option unique.windowMs must be whole ms from 0 to ${UNIQUE_MAX_AGE_MS} (7 days), got ${unique.windowMs}`,
    );
  }
}

/** What a claim found: the key is ours (publish the job), or another job holds it. */
export type Claim =
  | { kind: "claimed"; entryKey: string; revision: number; entry: UniqueEntry }
  | { kind: "held"; jobId: string; sequence: number | undefined };

/** Whether an existing entry still refuses a new job with its key. */
function holdsKey(entry: UniqueEntry, now: number): boolean {
  // A claim this old was never confirmed: its producer died before or during the publish (or just
  // after it). Its job most likely never existed, so not even its window holds.
  if (entry.state === "pending") return now - entry.claimedAt < PENDING_CLAIM_MS;
  return entry.state === "enqueued" || now < entry.until;
}

function readEntry(entry: KvEntry | null): UniqueEntry | undefined {
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) return undefined;
  try {
    return entry.json<UniqueEntry>();
  } catch {
    return undefined; // an unreadable entry holds nothing: it is replaced
  }
}

/** A write refused because the entry changed since it was read: another producer won the race. */
function lostRace(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 10071 || error.code === 10164);
}

export class UniqueClaims {
  constructor(private readonly kv: KV) {}

  /** Claims the key for `jobId`, or reports the job that holds it. */
  async claim(queue: string, unique: UniqueOptions, jobId: string): Promise<Claim> {
    const key = entryKey(queue, uniqueKeyHash(unique.key));
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const current = await this.kv.get(key);
      const existing = readEntry(current);
      const now = Date.now();
      // Our own unconfirmed claim: an enqueue retried with its job id after an unclear failure.
      // Publishing again is safe (the queue's duplicate window drops a second copy).
      if (current !== null && existing?.jobId === jobId && existing.state === "pending")
        return { kind: "claimed", entryKey: key, revision: current.revision, entry: existing };
      if (existing !== undefined && holdsKey(existing, now))
        return { kind: "held", jobId: existing.jobId, sequence: existing.sequence };
      const entry: UniqueEntry = {
        jobId,
        state: "pending",
        claimedAt: now,
        until: now + (unique.windowMs ?? 0),
      };
      try {
        const revision =
          current === null || current.operation !== "PUT"
            ? await this.kv.create(key, JSON.stringify(entry))
            : await this.kv.update(key, JSON.stringify(entry), current.revision);
        return { kind: "claimed", entryKey: key, revision, entry };
      } catch (error) {
        if (!lostRace(error)) throw error;
      }
    }
    throw new JetmeshError(
      "ENQUEUE_FAILED",
      `uniqueness key of queue "${queue}" stayed contended over ${CLAIM_ATTEMPTS} tries; try again`,
    );
  }

  /**
   * The job is stored: the claim holds until the job ends. Best effort and never an error: the job
   * exists, and failing its enqueue now would invite a retry that stores a second one. If the entry
   * changed meanwhile, a worker already marked the job done; if the write is lost, the claim stays
   * `pending` (the crash gap in docs/results-and-uniqueness.md).
   */
  async confirm(claim: Extract<Claim, { kind: "claimed" }>, sequence: number): Promise<void> {
    const entry: UniqueEntry = { ...claim.entry, state: "enqueued", sequence };
    await this.kv.update(claim.entryKey, JSON.stringify(entry), claim.revision).catch(() => {});
  }

  /**
   * The publish was refused: free the key at once, unless something else took it meanwhile. Only
   * for a refusal; after an unclear failure (a timeout) the job may be stored, and the claim is
   * left to hold for PENDING_CLAIM_MS.
   */
  async release(claim: Extract<Claim, { kind: "claimed" }>): Promise<void> {
    await this.kv.delete(claim.entryKey, { previousSeq: claim.revision }).catch(() => {
      // Not ours any more, or unreachable: a pending claim stops holding after PENDING_CLAIM_MS.
    });
  }

  /**
   * Frees a key whatever holds it: for a job that ended without a worker marking it (its queue was
   * purged, or its worker died between the acknowledgement and the mark).
   */
  async forget(queue: string, key: string): Promise<void> {
    await this.kv.delete(entryKey(queue, uniqueKeyHash(key)));
  }

  /**
   * The job ended: its key is free once the window has passed. Only the entry of this job is
   * touched: a newer job may hold the key already.
   */
  async markDone(queue: string, hash: string, jobId: string): Promise<void> {
    const key = entryKey(queue, hash);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const current = await this.kv.get(key);
      const existing = readEntry(current);
      if (current === null || existing === undefined || existing.jobId !== jobId || existing.state === "done")
        return;
      const done: UniqueEntry = { ...existing, state: "done", doneAt: Date.now() };
      try {
        await this.kv.update(key, JSON.stringify(done), current.revision);
        return;
      } catch (error) {
        if (!lostRace(error)) throw error;
      }
    }
  }
}
