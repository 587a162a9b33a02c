// Validation of the names that become subject tokens and stream names, so a bad name fails
// when it is declared instead of producing a subject the server reads differently.
import { JetmeshError } from "../errors.ts";

const TOKEN = /^[A-Za-z0-9_-]+$/;
const JOB_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Queue names and the subject prefix are single subject tokens that also appear in stream names. */
export function assertToken(kind: "queue" | "prefix", value: string): void {
  if (!TOKEN.test(value) || value.length > 64) {
    throw new JetmeshError(
      "INVALID_NAME",
      `invalid ${kind} name "${value}": use 1-64 characters from A-Z a-z 0-9 _ -`,
    );
  }
}

/** Job names may contain dots (`email.send`); each dot-separated part is a subject token. */
export function assertJobName(name: string): void {
  if (!JOB_NAME.test(name) || name.length > 200) {
    throw new JetmeshError(
      "INVALID_NAME",
      `invalid job name "${name}": use dot-separated parts of A-Z a-z 0-9 _ - (at most 200 characters)`,
    );
  }
}
