// A send time carried in a job's payload, so latency is measured by the same clock at both ends
// (producer and consumer run in this one process).

export function stampNow(): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, performance.now());
  return bytes;
}

export function readStamp(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0);
}
