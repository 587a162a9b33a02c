// The limits bucket: set, remove and list rate limits (the control plane), and follow them as they
// change (every worker). A change is a KV write, so it reaches every worker through its watch
// within moments, and a worker started later reads it before its first pull.
import type { KV } from "@nats-io/kv";
import { KvWatchInclude } from "@nats-io/kv";
import type { CommandOrigin } from "../wire/control.ts";
import { checkRate, type LimitTarget, limitKey, type RateLimit, targetOfKey } from "./rate.ts";

/** A limit as stored: the rate, who set it and why. */
export interface LimitRecord extends RateLimit, LimitTarget, CommandOrigin {}

export class LimitStore {
  constructor(
    private readonly limits: KV,
    /** The permit counters; a removed limit's counter goes too, so a new one starts afresh. */
    private readonly permits: KV,
  ) {}

  async set(target: LimitTarget, rate: RateLimit, origin: CommandOrigin): Promise<LimitRecord> {
    const key = limitKey(target);
    const record: LimitRecord = { ...withoutEmptyName(target), ...checkRate(rate), ...origin };
    await this.limits.put(key, JSON.stringify(record));
    return record;
  }

  /** Removes a limit; resolves to whether there was one. */
  async remove(target: LimitTarget): Promise<boolean> {
    const key = limitKey(target);
    const existing = await this.limits.get(key);
    if (existing === null || existing.operation !== "PUT") return false;
    await this.limits.delete(key);
    await this.permits.delete(key);
    return true;
  }

  async list(): Promise<LimitRecord[]> {
    const records: LimitRecord[] = [];
    for await (const key of await this.limits.keys()) {
      const entry = await this.limits.get(key);
      const record = entry?.operation === "PUT" ? readRecord(key, entry.string()) : undefined;
      if (record !== undefined) records.push(record);
    }
    return records.sort((a, b) => limitKey(a).localeCompare(limitKey(b)));
  }

  /**
   * Calls `onChange(key, record | undefined)` for every limit there is, then for every change;
   * resolves once the current limits were delivered, and returns the way to stop following.
   */
  async follow(
    onChange: (key: string, record: LimitRecord | undefined) => void,
    onEnd: (error: unknown) => void,
  ): Promise<() => void> {
    // Key → revision applied, so the initial read never undoes a newer change the watch brought.
    const revisions = new Map<string, number>();
    const apply = (key: string, revision: number, value: string | undefined) => {
      if ((revisions.get(key) ?? 0) >= revision) return;
      revisions.set(key, revision);
      onChange(key, value === undefined ? undefined : readRecord(key, value));
    };
    const watch = await this.limits.watch({ include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const entry of watch)
        apply(entry.key, entry.revision, entry.operation === "PUT" ? entry.string() : undefined);
    })().catch(onEnd);
    for await (const key of await this.limits.keys()) {
      const entry = await this.limits.get(key);
      if (entry?.operation === "PUT") apply(key, entry.revision, entry.string());
    }
    return () => watch.stop();
  }
}

function withoutEmptyName(target: LimitTarget): LimitTarget {
  return target.name === undefined ? { queue: target.queue } : { queue: target.queue, name: target.name };
}

/**
 * A record that does not parse, or a key that names no valid target (both only from writes that
 * bypass the control plane), is no limit rather than an error that would stop the watch.
 */
function readRecord(key: string, text: string): LimitRecord | undefined {
  try {
    const target = targetOfKey(key);
    limitKey(target);
    const stored = JSON.parse(text) as LimitRecord;
    return { ...stored, ...checkRate(stored), ...withoutEmptyName(target) };
  } catch {
    return undefined;
  }
}
