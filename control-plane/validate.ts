// Checks of request fields at the API boundary: each failure names the field and the rule.
import { invalid } from "./errors.ts";

type Body = Record<string, unknown>;

export function requireString(body: Body, field: string, maxLength = 200): string {
  const value = body[field];
  if (typeof value !== "string" || value.length === 0)
    throw invalid(`${field} is required (a non-empty string)`);
  if (value.length > maxLength) throw invalid(`${field} is longer than ${maxLength} characters`);
  return value;
}

export function optionalString(body: Body, field: string, maxLength = 200): string | undefined {
  if (body[field] === undefined || body[field] === null) return undefined;
  return requireString(body, field, maxLength);
}

export function optionalInteger(body: Body, field: string, min: number, max: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max)
    throw invalid(`${field} must be an integer from ${min} to ${max}`);
  return value;
}

export function optionalBoolean(body: Body, field: string): boolean {
  const value = body[field];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw invalid(`${field} must be true or false`);
  return value;
}

/** Queue names and worker ids are single subject tokens. */
export function requireToken(body: Body, field: string): string {
  const value = requireString(body, field, 200);
  if (!/^[A-Za-z0-9_=-][A-Za-z0-9_=.-]*$/.test(value) || (field === "queue" && value.includes(".")))
    throw invalid(`${field} "${value}" is not a valid name`);
  return value;
}
