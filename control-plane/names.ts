// JetStream names the control plane adds to the mesh. They belong with the rest of the wire
// contract in runtime/; they live here until the runtime exports them (see docs/control-plane.md).

/** Stream that keeps the last heartbeat of every worker, so any replica knows the fleet at once. */
export function heartbeatStream(prefix: string): string {
  return `${prefix}_heartbeats`;
}

/** KV bucket of recent job outcomes (completed, retrying, dead, cancelled), keyed by job key. */
export function outcomesBucket(prefix: string): string {
  return `${prefix}_outcomes`;
}

/** The stream behind a KV bucket, and the subject of one key in it. */
export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

export function kvSubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${key}`;
}
