// Calls the control plane's API over NATS and turns every failure into an ApiError that says
// what to do: no replica answering, no reply in time, or the error the replica reported.
import type { NatsConnection } from "@nats-io/transport-node";
import { DEFAULT_PREFIX, Subjects } from "../../runtime/index.ts";
import { ApiError } from "../errors.ts";
import type { ApiReply, Endpoint, ReplyOf, RequestOf } from "./protocol.ts";

export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

export class ControlPlaneClient {
  readonly subjects: Subjects;

  constructor(
    readonly nc: NatsConnection,
    prefix: string = DEFAULT_PREFIX,
    readonly timeoutMs: number = DEFAULT_REQUEST_TIMEOUT_MS,
  ) {
    this.subjects = new Subjects(prefix);
  }

  async request<E extends Endpoint>(
    endpoint: E,
    body: RequestOf<E> = {} as RequestOf<E>,
    timeoutMs = this.timeoutMs,
  ): Promise<ReplyOf<E>> {
    const subject = this.subjects.api(endpoint);
    let reply: ApiReply<ReplyOf<E>>;
    try {
      const msg = await this.nc.request(subject, JSON.stringify(body), { timeout: timeoutMs });
      reply = msg.json<ApiReply<ReplyOf<E>>>();
    } catch (error) {
      throw explain(error, subject, timeoutMs);
    }
    if (!reply.ok) throw ApiError.fromBody(reply.error);
    return reply.data;
  }
}

function explain(error: unknown, subject: string, timeoutMs: number): ApiError {
  if (isNoResponders(error))
    return new ApiError(
      "NO_CONTROL_PLANE",
      `no control plane answers on ${subject}`,
      "start one with `jetmesh control-plane` (or `npm run control-plane`), and check that --prefix matches the mesh",
      { cause: error },
    );
  const name = (error as Error)?.name;
  if (name === "TimeoutError" || (error as { cause?: Error })?.cause?.name === "TimeoutError")
    return new ApiError(
      "TIMEOUT",
      `the control plane did not answer ${subject} within ${timeoutMs} ms`,
      "raise --timeout, or look at the control plane's logs",
      { cause: error },
    );
  return new ApiError("INTERNAL", (error as Error)?.message ?? String(error), undefined, { cause: error });
}

export function isNoResponders(error: unknown): boolean {
  const e = error as { name?: string; message?: string; cause?: { name?: string } };
  return (
    e?.name === "NoResponders" || e?.cause?.name === "NoResponders" || /no responders/i.test(e?.message ?? "")
  );
}
