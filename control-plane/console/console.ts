// The web console: its HTTP routes under /console, plugged into the control plane's HTTP
// server as one more request handler. Pages and assets are static; the page polls small JSON
// views (read: anyone who reaches the port) and posts admin actions (a session opened with the
// token, same-origin only), which go to the control-plane API exactly as the CLI's do.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { ConsoleAuth, crossSiteRefusal } from "./auth.ts";
import { History } from "./history.ts";
import { BodyError, readJsonBody, sendError, sendJson } from "./http.ts";
import { type ConsoleOptions, consoleSettings } from "./options.ts";
import { StaticFiles } from "./static-files.ts";
import { type ApiCall, ConsoleViews, ViewError } from "./views.ts";

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

export interface ConsoleDeps {
  /** Answers a control-plane API request (the service's in-process `call`). */
  call: ApiCall;
  logger: Logger;
  options?: ConsoleOptions;
}

export interface WebConsole {
  /** Answers requests under /console; returns false for any other path. */
  readonly handler: RequestHandler;
}

/** Endpoints an admin may call through the console; anything else is refused. */
export const ADMIN_ENDPOINTS = new Set([
  "queues.pause",
  "queues.resume",
  "jobs.cancel",
  "workers.drain",
  "dlq.retry",
  "dlq.purge",
  "schedules.pause",
  "schedules.resume",
  "schedules.run-now",
]);

const BASE = "/console";

export async function buildConsole(deps: ConsoleDeps): Promise<WebConsole> {
  const settings = consoleSettings(deps.options);
  const auth = new ConsoleAuth(settings.token, settings.readOnly, settings.sessionTtlMs);
  const views = new ConsoleViews(deps.call, new History(), settings);
  const files = new StaticFiles();
  const logger = deps.logger.child({ component: "console" });

  const reads: Record<string, (params: URLSearchParams) => Promise<unknown>> = {
    overview: (params) => views.overview(params),
    queue: (params) => views.queue(params),
    workers: (params) => views.workers(params),
    job: (params) => views.job(params),
    "dead-letters": (params) => views.deadLetters(params),
    "dead-letter": (params) => views.deadLetter(params),
    failures: () => views.failures(),
    schedules: (params) => views.schedules(params),
  };

  function session(request: IncomingMessage) {
    return {
      mode: auth.mode,
      admin: auth.hasSession(request),
      refreshMs: settings.refreshMs,
      traceUrlTemplate: settings.traceUrlTemplate ?? null,
    };
  }

  async function post(request: IncomingMessage, response: ServerResponse, route: string): Promise<void> {
    const refusal = crossSiteRefusal(request);
    if (refusal !== undefined) return sendError(response, 403, "CROSS_SITE", `refused: ${refusal}`);
    const body = await readJsonBody(request);
    if (route === "session") {
      if (auth.mode === "read-only")
        return sendError(
          response,
          403,
          "READ_ONLY",
          "this console is read-only: no admin token is configured",
        );
      if (typeof body.token !== "string" || !auth.tokenMatches(body.token)) {
        logger.warn({ remote: request.socket.remoteAddress }, "console login with a wrong token");
        return sendError(response, 401, "WRONG_TOKEN", "the token is not the console's admin token");
      }
      const id = auth.openSession();
      logger.info({ remote: request.socket.remoteAddress }, "console admin session opened");
      return sendJson(
        response,
        200,
        { ok: true, data: { ...session(request), admin: true } },
        {
          "Set-Cookie": auth.sessionCookie(id, request),
        },
      );
    }
    if (route === "logout") {
      auth.closeSession(request);
      return sendJson(
        response,
        200,
        { ok: true, data: { ...session(request), admin: false } },
        {
          "Set-Cookie": auth.clearedCookie(request),
        },
      );
    }
    const endpoint = route.startsWith("actions/") ? route.slice("actions/".length) : undefined;
    if (endpoint === undefined || !ADMIN_ENDPOINTS.has(endpoint))
      return sendError(response, 404, "NOT_FOUND", `no console action ${route}`);
    if (auth.mode === "read-only")
      return sendError(response, 403, "READ_ONLY", "this console is read-only: admin actions are off");
    if (!auth.hasSession(request))
      return sendError(response, 401, "UNAUTHENTICATED", "admin actions need the admin token: unlock first");
    const reply = await deps.call(endpoint, { ...body, by: "console" });
    views.invalidate();
    logger.info({ endpoint, ok: reply.ok }, "console admin action");
    sendJson(response, reply.ok ? 200 : 400, reply);
  }

  async function get(
    request: IncomingMessage,
    response: ServerResponse,
    route: string,
    params: URLSearchParams,
  ) {
    if (route === "session") return sendJson(response, 200, { ok: true, data: session(request) });
    const read = Object.hasOwn(reads, route) ? reads[route] : undefined;
    if (read === undefined) return sendError(response, 404, "NOT_FOUND", `no console view ${route}`);
    sendJson(response, 200, { ok: true, data: await read(params) });
  }

  const handler: RequestHandler = (request, response) => {
    const url = new URL(request.url ?? "/", "http://console.invalid");
    const path = url.pathname;
    if (path !== BASE && !path.startsWith(`${BASE}/`)) return false;
    const method = request.method ?? "GET";
    if (path === BASE) {
      response.writeHead(302, { Location: `${BASE}/` });
      response.end();
      return true;
    }
    const rest = path.slice(BASE.length + 1);
    if (!rest.startsWith("api/")) {
      if (
        (method === "GET" || method === "HEAD") &&
        files.serve(rest === "" ? "index.html" : rest, response, method === "HEAD")
      )
        return true;
      sendError(response, 404, "NOT_FOUND", `no console page ${path}`);
      return true;
    }
    const route = rest.slice("api/".length);
    const answer =
      method === "GET"
        ? get(request, response, route, url.searchParams)
        : method === "POST"
          ? post(request, response, route)
          : Promise.resolve(sendError(response, 405, "METHOD_NOT_ALLOWED", `${method} is not allowed`));
    answer.catch((error: unknown) => {
      if (response.headersSent) return void response.end();
      if (error instanceof ViewError)
        return sendJson(response, error.status, { ok: false, error: error.body });
      if (error instanceof BodyError) return sendError(response, 400, "INVALID_REQUEST", error.message);
      logger.error({ err: error, path }, "console request failed");
      sendError(response, 500, "INTERNAL", (error as Error).message ?? String(error));
    });
    return true;
  };

  return { handler };
}
