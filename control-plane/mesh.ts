// What every part of the control plane works with: one connection, the JetStream handles, the
// mesh's subjects, and the buckets it reads (opened lazily: a mesh may have no queue yet).
import {
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { attemptsBucket, controlBucket, resultsBucket, Subjects } from "../runtime/index.ts";
import { ApiError } from "./errors.ts";
import { kvStream } from "./names.ts";

export class Mesh {
  readonly subjects: Subjects;
  readonly js: JetStreamClient;
  readonly kvm: Kvm;
  #control: KV | undefined;
  /** Optional buckets by name, once found to exist. */
  readonly #buckets = new Map<string, KV>();

  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    prefix: string | undefined,
  ) {
    this.subjects = new Subjects(prefix);
    this.js = jetstream(nc);
    this.kvm = new Kvm(nc);
  }

  static async open(nc: NatsConnection, prefix?: string): Promise<Mesh> {
    return new Mesh(nc, await jetstreamManager(nc), prefix);
  }

  get prefix(): string {
    return this.subjects.prefix;
  }

  get controlBucket(): string {
    return controlBucket(this.prefix);
  }

  /** The control bucket; created by the first queue declaration, so its absence means "no queue yet". */
  async control(): Promise<KV> {
    if (this.#control !== undefined) return this.#control;
    if (!(await this.streamExists(kvStream(this.controlBucket)))) {
      throw new ApiError(
        "NOT_DECLARED",
        `the control bucket ${this.controlBucket} does not exist`,
        "declare a queue first (client.queues.declare) — it creates the control bucket",
      );
    }
    this.#control = await this.kvm.open(this.controlBucket);
    return this.#control;
  }

  /** The attempts bucket, or undefined when no queue was declared yet. */
  attempts(): Promise<KV | undefined> {
    return this.#existingBucket(attemptsBucket(this.subjects));
  }

  /** The results bucket (job states kept for `result: true`), or undefined when not created yet. */
  results(): Promise<KV | undefined> {
    return this.#existingBucket(resultsBucket(this.subjects));
  }

  async #existingBucket(bucket: string): Promise<KV | undefined> {
    const known = this.#buckets.get(bucket);
    if (known !== undefined) return known;
    if (!(await this.streamExists(kvStream(bucket)))) return undefined;
    const kv = await this.kvm.open(bucket);
    this.#buckets.set(bucket, kv);
    return kv;
  }

  async streamExists(stream: string): Promise<boolean> {
    try {
      await this.jsm.streams.info(stream);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }
}

/** A missing stream or consumer (the runtime's own check is internal to it). */
export function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.status === 404 || error.code === 10059 || error.code === 10014)
  );
}
