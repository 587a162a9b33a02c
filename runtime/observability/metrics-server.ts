// Serves /metrics (Prometheus text format) and /healthz over HTTP for a jetmesh process.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/**
 * An extra request handler served on the same port: it answers the request and returns true, or
 * returns false to leave it to the next route and the built-in /metrics and /healthz.
 */
export type HttpRoute = (request: IncomingMessage, response: ServerResponse) => boolean;

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(
  registry: Registry,
  options: { port: number; host?: string; healthy?: () => boolean; routes?: readonly HttpRoute[] },
): Promise<MetricsServer> {
  const routes = options.routes ?? [];
  const server: Server = createServer((request, response) => {
    if (routes.some((route) => route(request, response))) return;
    if (request.url === "/metrics") {
      registry.metrics().then(
        (text) => {
          response.writeHead(200, { "Content-Type": registry.contentType });
          response.end(text);
        },
        (error: unknown) => {
          response.writeHead(500);
          response.end(String(error));
        },
      );
      return;
    }
    if (request.url === "/healthz") {
      const healthy = options.healthy?.() ?? true;
      response.writeHead(healthy ? 200 : 503, { "Content-Type": "text/plain" });
      response.end(healthy ? "ok\n" : "unhealthy\n");
      return;
    }
    response.writeHead(404);
    response.end("not found: try /metrics or /healthz\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections of a browser or a scraper would otherwise hold close() open.
        server.closeIdleConnections();
      }),
  };
}
