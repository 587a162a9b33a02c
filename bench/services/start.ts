// Starts the servers the selected systems need, each on a free loopback port, and stops them all
// again — on success, on error, on Ctrl-C, and (by pid) if the process exits without stopping them.
import { NatsServer } from "../../deploy/local/nats-server.ts";
import type { ServiceName, Services } from "../scenario.ts";
import { REDIS_SERVER_INSTALL_HINT, RedisServer, redisServerVersion } from "./redis-server.ts";

export interface RunningServices {
  services: Services;
  /** Why each service that was needed but not started is missing. */
  missing: Map<ServiceName, string>;
  stop(): Promise<void>;
}

/** Pids of servers started and not yet stopped: the exit hook kills whatever is left. */
const live = new Set<number>();
process.on("exit", () => {
  for (const pid of live) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

/** Registers a started server with the exit hook; the returned function stops and unregisters it. */
function tracked(server: { pid: number | undefined; stop(): Promise<void> }): () => Promise<void> {
  const pid = server.pid;
  if (pid !== undefined) live.add(pid);
  return async () => {
    await server.stop();
    if (pid !== undefined) live.delete(pid);
  };
}

/** JetStream is the broker of every system but BullMQ, so nats-server always runs; Redis on demand. */
export async function startServices(needs: Set<ServiceName>): Promise<RunningServices> {
  const nats = await NatsServer.start();
  const stops = [tracked(nats)];
  const stop = async () => {
    await Promise.all(stops.map((stopOne) => stopOne()));
  };
  const services: Services = { natsUrl: nats.url };
  const missing = new Map<ServiceName, string>();
  try {
    if (needs.has("redis")) {
      if (redisServerVersion() === undefined) {
        missing.set("redis", REDIS_SERVER_INSTALL_HINT);
      } else {
        const redis = await RedisServer.start();
        stops.push(tracked(redis));
        services.redis = { host: redis.host, port: redis.port };
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { services, missing, stop };
}
