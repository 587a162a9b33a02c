// Liveness from heartbeat age: the one rule every view of the fleet uses.
import type { Liveness } from "../api/protocol.ts";

/** A worker is alive up to 1.5 heartbeat intervals of silence, late up to 3, gone after. */
export function livenessOf(silentForMs: number, intervalMs: number): Liveness {
  if (silentForMs <= intervalMs * 1.5) return "alive";
  if (silentForMs <= intervalMs * 3) return "late";
  return "gone";
}
