// The audit log: every control action (pause, resume, cancel, drain, dead-letter retry and purge)
// as one message in the `<prefix>_audit` stream, so any replica, CLI or console reads the same
// history after restarts. Subjects are `<prefix>.audit.<action>`, e.g. `jetmesh.audit.queues.pause`.
import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { AuditEntry, AuditList } from "../api/protocol.ts";
import { scanStream } from "../dead-letters/stream-scan.ts";
import type { Mesh } from "../mesh.ts";
import { optionalInteger, optionalString, requireToken } from "../validate.ts";

export function auditStream(prefix: string): string {
  return `${prefix}_audit`;
}

export function auditSubject(prefix: string, action: string): string {
  return `${prefix}.audit.${action}`;
}

export interface AuditLogOptions {
  /** How long entries are kept (the stream's max age). */
  retentionMs: number;
  replicas: number;
  /** Most entries one listing reads. */
  scanLimit: number;
}

export class AuditLog {
  #ready: Promise<void> | undefined;

  constructor(
    private readonly mesh: Mesh,
    private readonly logger: Logger,
    private readonly options: AuditLogOptions,
  ) {}

  /** Appends one entry. A failure to write is logged, never raised: the action itself happened. */
  async record(entry: AuditEntry): Promise<void> {
    try {
      await this.#ensureStream();
      await this.mesh.js.publish(auditSubject(this.mesh.prefix, entry.action), JSON.stringify(entry));
    } catch (error) {
      this.logger.error({ err: error, action: entry.action }, "could not write the audit entry");
    }
  }

  /** Entries oldest first, filtered by queue and time; the newest `limit` when more match. */
  async list(body: Record<string, unknown>): Promise<AuditList> {
    const queue = optionalString(body, "queue") === undefined ? undefined : requireToken(body, "queue");
    const since = optionalInteger(body, "since", 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const limit = optionalInteger(body, "limit", 1, 10_000) ?? 100;
    const stream = auditStream(this.mesh.prefix);
    if (!(await this.mesh.streamExists(stream))) return { total: 0, entries: [], truncated: false };
    const matched: AuditEntry[] = [];
    const scan = await scanStream(
      this.mesh,
      stream,
      {
        filterSubject: auditSubject(this.mesh.prefix, ">"),
        headersOnly: false,
        limit: this.options.scanLimit,
      },
      (message) => {
        if (message.storedAt < since) return;
        let entry: AuditEntry;
        try {
          entry = JSON.parse(new TextDecoder().decode(message.data)) as AuditEntry;
        } catch {
          return; // a message published by hand that is not an entry
        }
        if (queue !== undefined && entry.target.queue !== queue) return;
        matched.push({ ...entry, seq: message.seq });
      },
    );
    return {
      total: matched.length,
      entries: matched.slice(-limit),
      truncated: matched.length > limit || scan.truncated,
    };
  }

  #ensureStream(): Promise<void> {
    this.#ready ??= this.#createStream().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #createStream(): Promise<void> {
    const name = auditStream(this.mesh.prefix);
    if (await this.mesh.streamExists(name)) return;
    await this.mesh.jsm.streams.add({
      name,
      subjects: [auditSubject(this.mesh.prefix, ">")],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      storage: StorageType.File,
      max_age: nanos(this.options.retentionMs),
      num_replicas: this.options.replicas,
    });
  }
}
