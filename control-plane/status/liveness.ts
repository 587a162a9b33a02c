// Liveness from heartbeat age: the one rule every view of the fleet uses.
import type { Heartbeat } from "../../runtime/index.ts";
import type { Liveness } from "../api/protocol.ts";

/**
 * A worker is alive up to 1.5 heartbeat intervals of silence, late up to 3, gone after; a worker
 * whose last heartbeat said it stopped is gone at once.
 */
export function livenessOf(silentForMs: number, intervalMs: number, state?: Heartbeat["state"]): Liveness {
  if (state === "stopped") return "gone";
  if (silentForMs <= intervalMs * 1.5) return "alive";
  if (silentForMs <= intervalMs * 3) return "late";
  return "gone";
}
