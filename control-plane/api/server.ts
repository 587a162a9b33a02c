// Serves the API: one subscription on `<prefix>.api.>` in a queue group shared by all replicas,
// so each request is answered once. Every reply is `{ ok: true, data }` or
// `{ ok: false, error: { code, message, hint } }`; no request is left unanswered.
import type { Msg, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { ApiError } from "../errors.ts";
import type { Mesh } from "../mesh.ts";
import type { Handlers } from "./handlers.ts";
import { API_QUEUE_GROUP, type ApiReply, ENDPOINTS, type Endpoint } from "./protocol.ts";

export class ApiServer {
  #subscription: Subscription | undefined;
  readonly #pending = new Set<Promise<void>>();

  constructor(
    private readonly mesh: Mesh,
    private readonly handlers: Handlers,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.#subscription = this.mesh.nc.subscribe(this.mesh.subjects.api(">"), {
      queue: API_QUEUE_GROUP,
      callback: (_error, msg) => {
        const done = this.#serve(msg).finally(() => this.#pending.delete(done));
        this.#pending.add(done);
      },
    });
  }

  /** Stops taking requests and waits for the ones being answered. */
  async stop(): Promise<void> {
    if (this.#subscription !== undefined) await this.#subscription.drain().catch(() => {});
    this.#subscription = undefined;
    await Promise.allSettled([...this.#pending]);
  }

  /** Answers one request as the API would, without NATS (tests, in-process callers). */
  async call(endpoint: string, body: unknown = {}): Promise<ApiReply<unknown>> {
    try {
      if (!ENDPOINTS.includes(endpoint as Endpoint))
        throw new ApiError(
          "UNKNOWN_ENDPOINT",
          `unknown endpoint "${endpoint}"`,
          `endpoints: ${ENDPOINTS.join(", ")}`,
        );
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw new ApiError("INVALID_REQUEST", "the request body must be a JSON object");
      const data = await this.handlers[endpoint as Endpoint](body as Record<string, unknown>);
      return { ok: true, data };
    } catch (error) {
      if (error instanceof ApiError) return { ok: false, error: error.toBody() };
      this.logger.error({ err: error, endpoint }, "API request failed");
      return {
        ok: false,
        error: { code: "INTERNAL", message: (error as Error).message ?? String(error) },
      };
    }
  }

  async #serve(msg: Msg): Promise<void> {
    const endpoint = msg.subject.slice(this.mesh.subjects.api("").length);
    let body: unknown = {};
    let reply: ApiReply<unknown>;
    try {
      body = msg.data.length === 0 ? {} : msg.json();
      reply = await this.call(endpoint, body);
    } catch {
      reply = { ok: false, error: { code: "INVALID_REQUEST", message: "the request body is not JSON" } };
    }
    if (!msg.reply) return;
    let encoded = JSON.stringify(reply);
    const maxPayload = this.mesh.nc.info?.max_payload ?? 1024 * 1024;
    if (Buffer.byteLength(encoded) > maxPayload) {
      encoded = JSON.stringify({
        ok: false,
        error: {
          code: "RESPONSE_TOO_LARGE",
          message: `the reply to ${endpoint} is larger than the server's max_payload (${maxPayload} bytes)`,
          hint: "narrow the request (a queue, a filter) or lower --limit",
        },
      } satisfies ApiReply<unknown>);
    }
    try {
      msg.respond(encoded);
    } catch (error) {
      this.logger.warn({ err: error, endpoint }, "could not send an API reply");
    }
  }
}
