// Options shared by the commands that change the fleet: who issues them, why, and how long to
// wait for workers to acknowledge.
import { hostname, userInfo } from "node:os";
import type { Argv } from "yargs";

export interface IssuerArgs {
  reason?: string;
  by: string;
  ackTimeout?: number;
}

/** Who runs the CLI: `user@host`. */
export function operator(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `cli@${hostname()}`;
  }
}

export function issuerOptions<T>(y: Argv<T>): Argv<T & IssuerArgs> {
  return y
    .option("reason", { type: "string", describe: "why (kept with the command's record)" })
    .option("by", {
      type: "string",
      default: operator(),
      defaultDescription: "user@host",
      describe: "who issues it",
    })
    .option("ack-timeout", {
      type: "number",
      describe: "how long to collect worker acknowledgements (ms) [default: the control plane's, 1000]",
    }) as unknown as Argv<T & IssuerArgs>;
}

export function issuerFields(args: IssuerArgs): { by: string; reason?: string; timeoutMs?: number } {
  const fields: { by: string; reason?: string; timeoutMs?: number } = { by: args.by };
  if (args.reason !== undefined) fields.reason = args.reason;
  if (args.ackTimeout !== undefined) fields.timeoutMs = args.ackTimeout;
  return fields;
}
