// The fingerprint of a failure: error class + normalised message + top stack frame. Two failures
// with the same cause share it although their messages carry different ids, numbers, quoted
// values or addresses, and although a redeploy moved the code by a few lines.
import { createHash } from "node:crypto";

export interface Fingerprint {
  /** Short stable id of the three parts (12 hex characters). */
  id: string;
  errorClass: string;
  message: string;
  topFrame: string;
}

const REPLACEMENTS: readonly [RegExp, string][] = [
  // Quoted values first: what they hold (an id, a number) is variable as a whole.
  [/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, "<str>"],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<uuid>"],
  [/\b0x[0-9a-f]+\b/gi, "<hex>"],
  // Hex runs of 8+ with at least one digit (hashes, object ids), not plain words.
  [/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, "<hex>"],
  [/\b\d+(?:\.\d+)*\b/g, "<n>"],
];

export function normaliseMessage(message: string): string {
  let normalised = message;
  for (const [pattern, replacement] of REPLACEMENTS) normalised = normalised.replace(pattern, replacement);
  return normalised.replace(/\s+/g, " ").trim().slice(0, 500);
}

/** The first `at …` line of a stack, without line and column (they move with every edit). */
export function topFrame(stack: string | undefined): string {
  const line = stack
    ?.split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("at "));
  if (line === undefined) return "";
  return line.replace(/:\d+(?::\d+)?(\)?)$/, "$1").slice(0, 300);
}

export function fingerprint(errorClass: string, message: string, stack: string | undefined): Fingerprint {
  const parts = { errorClass, message: normaliseMessage(message), topFrame: topFrame(stack) };
  const id = createHash("sha256")
    .update(`${parts.errorClass}\n${parts.message}\n${parts.topFrame}`)
    .digest("hex")
    .slice(0, 12);
  return { id, ...parts };
}
