// Hides secrets in what the console shows: values under keys that look sensitive are replaced,
// at any depth, before a payload or a header map leaves the control plane.

export const REDACTED = "[redacted]";

export function redact(value: unknown, keys: readonly string[], depth = 0): unknown {
  if (depth > 32 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, keys, depth + 1));
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    result[key] = isSensitive(key, keys) ? REDACTED : redact(item, keys, depth + 1);
  }
  return result;
}

export function isSensitive(key: string, keys: readonly string[]): boolean {
  const lower = key.toLowerCase();
  return keys.some((sensitive) => lower.includes(sensitive));
}
