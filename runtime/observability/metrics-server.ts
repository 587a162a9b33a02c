// Serves /metrics (Prometheus text format) and /healthz over HTTP for a jetmesh process.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(
  registry: Registry,
  options: { port: number; host?: string; healthy?: () => boolean },
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
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
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
