// The control plane service: wires heartbeat aggregation, queue sampling, the outcomes record
// and the API together, and starts and stops them in order. Any number of replicas may run:
// all shared state is in JetStream, and API requests are spread over them by a queue group.
import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type ConnectionSettings,
  connectionSettingsFromEnv,
  connectNats,
  createLogger,
  type HttpRoute,
  JetmeshClient,
  type MetricsServer,
  startMetricsServer,
  VERSION,
} from "../runtime/index.ts";
import { buildHandlers, type Handlers } from "./api/handlers.ts";
import type { ApiReply, ReplicaInfo } from "./api/protocol.ts";
import { ApiServer } from "./api/server.ts";
import { AuditLog } from "./audit/audit-log.ts";
import { withAudit } from "./audit/audited-handlers.ts";
import type { CommandContext } from "./commands/context.ts";
import { buildConsole } from "./console/console.ts";
import { EndToEndTracker } from "./insight/end-to-end.ts";
import { registerInsightMetrics } from "./insight/insight-metrics.ts";
import { resumeExpiredPauses } from "./insight/pause-expiry.ts";
import { QueueHealth } from "./insight/queue-health.ts";
import { OutcomeRecorder } from "./jobs/outcome-recorder.ts";
import { Mesh } from "./mesh.ts";
import { ControlPlaneMetrics } from "./metrics/control-plane-metrics.ts";
import { JobStats } from "./metrics/job-stats.ts";
import { CONTROL_PLANE_DEFAULTS, type ControlPlaneOptions } from "./options.ts";
import { Scheduler } from "./scheduler/scheduler.ts";
import { readControlRecords } from "./status/control-records.ts";
import { FleetStatusView } from "./status/fleet-status.ts";
import { HeartbeatAggregator } from "./status/heartbeat-aggregator.ts";
import { QueueStats } from "./status/queue-stats.ts";

export interface ControlPlane {
  readonly replicaId: string;
  /** Port the HTTP server (`/metrics`, `/healthz`) listens on; undefined when it has none. */
  readonly httpPort: number | undefined;
  /** Connects (unless given a connection), loads the fleet's state and starts answering. */
  start(): Promise<void>;
  /**
   * Stops answering, finishes requests in flight, closes the connection it opened. `release:
   * false` keeps the scheduler lease, as a crash would (another replica waits it out).
   */
  stop(options?: { release?: boolean }): Promise<void>;
  /** Answers one API request in-process, exactly as over NATS. */
  call(endpoint: string, body?: unknown): Promise<ApiReply<unknown>>;
}

export function buildControlPlane(options: ControlPlaneOptions = {}): ControlPlane {
  const settings = { ...CONTROL_PLANE_DEFAULTS, ...definedOnly(options) };
  const replicaId = options.replicaId ?? `${hostname()}-${process.pid}`;
  const logger = (options.logger ?? createLogger({ service: "jetmesh-control-plane" })).child({ replicaId });
  let nc: NatsConnection | undefined;
  let ownsConnection = false;
  let api: ApiServer | undefined;
  let heartbeats: HeartbeatAggregator | undefined;
  let outcomes: OutcomeRecorder | undefined;
  let jobStats: JobStats | undefined;
  let endToEnd: EndToEndTracker | undefined;
  let client: JetmeshClient | undefined;
  let scheduler: Scheduler | undefined;
  let http: MetricsServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> = Promise.resolve();
  const startedAt = Date.now();

  async function start(): Promise<void> {
    const given = options.connection;
    ownsConnection = given === undefined || !("publish" in given);
    nc = ownsConnection
      ? await connectNats({
          name: `jetmesh-control-plane ${replicaId}`,
          ...((given as ConnectionSettings | undefined) ?? connectionSettingsFromEnv()),
        })
      : (given as NatsConnection);
    try {
      const mesh = await Mesh.open(nc, options.prefix);
      heartbeats = new HeartbeatAggregator(mesh, logger, {
        retentionMs: settings.heartbeatRetentionMs,
        replicas: settings.replicas,
      });
      await heartbeats.start();
      outcomes = new OutcomeRecorder(mesh, logger, {
        ttlMs: settings.outcomesTtlMs,
        maxBytes: settings.outcomesMaxBytes,
        replicas: settings.replicas,
        maxInFlight: settings.outcomesMaxInFlight,
      });
      if (settings.recordOutcomes) await outcomes.start();
      const stats = new QueueStats(mesh, { rateWindowMs: settings.rateWindowMs });
      const ctx: CommandContext = {
        mesh,
        heartbeats,
        stats,
        logger,
        commandTimeoutMs: settings.commandTimeoutMs,
        scanLimit: settings.scanLimit,
      };
      client = await JetmeshClient.connect({ connection: nc, prefix: mesh.prefix });
      const replica: ReplicaInfo = {
        replicaId,
        version: VERSION,
        prefix: mesh.prefix,
        startedAt,
        host: hostname(),
        pid: process.pid,
      };
      if (settings.scheduler) {
        scheduler = new Scheduler(mesh, client, logger, {
          replicaId,
          tickMs: settings.schedulerTickMs,
          leaseMs: settings.schedulerLeaseMs,
          replicas: settings.replicas,
        });
        await scheduler.start();
      }
      const fleet = new FleetStatusView(mesh, heartbeats, stats, replicaId);
      jobStats = new JobStats(mesh, stats, replicaId);
      jobStats.start();
      endToEnd = new EndToEndTracker(mesh);
      endToEnd.start();
      const health = new QueueHealth(
        { stats, fleet, heartbeats, jobStats, replicaId },
        {
          stallWindowMs: settings.stallWindowMs,
          outlierWindowMs: settings.outlierWindowMs,
          outlierMinSamples: settings.outlierMinSamples,
          drainTargetMs: settings.autoscaleDrainMs,
        },
      );
      const audit = new AuditLog(mesh, logger, {
        retentionMs: settings.auditRetentionMs,
        replicas: settings.replicas,
        scanLimit: settings.scanLimit,
      });
      const handlers = withAudit(
        buildHandlers({ ctx, fleet, outcomes, client, replica, jobStats, scheduler, audit, health }),
        audit,
        replicaId,
      );
      api = new ApiServer(mesh, handlers, logger);
      api.start();
      if (options.httpPort !== undefined) {
        const routes = [...(options.httpRoutes ?? [])];
        if (options.console?.enabled !== false) {
          const served = api;
          const webConsole = await buildConsole({
            call: (endpoint, body) => served.call(endpoint, body),
            logger,
            options: options.console ?? {},
          });
          // After the routes given in the options: an explicit route wins over the console.
          routes.push(webConsole.handler);
        }
        const metrics = new ControlPlaneMetrics({ stats, heartbeats });
        registerInsightMetrics(metrics.registry, { health, stats });
        metrics.registry.registerMetric(endToEnd.histogram);
        await startHttp(options.httpPort, metrics, routes);
      }
      const tick = () => {
        ticking = ticking
          .then(() => maintain(ctx, stats, handlers, health))
          .catch((error: unknown) => {
            logger.warn({ err: error }, "periodic sampling failed");
          });
      };
      tick();
      timer = setInterval(tick, settings.sampleIntervalMs);
      timer.unref();
      logger.info({ prefix: mesh.prefix, workers: heartbeats.size }, "control plane started");
    } catch (error) {
      await api?.stop();
      jobStats?.stop();
      endToEnd?.stop();
      outcomes?.stop();
      heartbeats?.stop();
      await client?.close();
      if (ownsConnection) await nc.close().catch(() => {});
      throw error;
    }
  }

  async function startHttp(port: number, metrics: ControlPlaneMetrics, routes: HttpRoute[]): Promise<void> {
    try {
      http = await startMetricsServer(metrics.registry, {
        port,
        host: options.httpHost,
        healthy: () => nc !== undefined && !nc.isClosed(),
        routes,
      });
    } catch (error) {
      throw new Error(
        `cannot serve /metrics on port ${port}: ${(error as Error).message}; set JETMESH_CP_HTTP_PORT to a free port, or to 0 to turn the HTTP server off`,
      );
    }
    logger.info(
      { port: http.port, console: options.console?.enabled !== false },
      "serving /metrics and /healthz",
    );
  }

  /** Samples queues for rates, resumes expired pauses, and clears drain records of workers that are gone. */
  async function maintain(
    ctx: CommandContext,
    stats: QueueStats,
    handlers: Handlers,
    health: QueueHealth,
  ): Promise<void> {
    await stats.sample();
    await health.refresh();
    await resumeExpiredPauses(ctx.mesh, handlers["queues.resume"], logger);
    const drains = await readControlRecords(ctx.mesh, "drain.>");
    if (drains.length === 0) return;
    const workers = new Map(ctx.heartbeats.workers().map((w) => [w.workerId, w]));
    const kv = await ctx.mesh.control();
    for (const record of drains) {
      const worker = workers.get(record.key.slice("drain.".length));
      const stale =
        worker === undefined
          ? Date.now() - record.writtenAt > settings.heartbeatRetentionMs
          : worker.liveness === "gone";
      if (stale) {
        await kv.delete(record.key);
        logger.info({ key: record.key }, "cleared the drain record of a gone worker");
      }
    }
  }

  async function stop({ release = true }: { release?: boolean } = {}): Promise<void> {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    await scheduler?.stop({ release });
    await http?.close();
    await api?.stop();
    await ticking;
    jobStats?.stop();
    endToEnd?.stop();
    outcomes?.stop();
    heartbeats?.stop();
    await client?.close();
    if (ownsConnection && nc !== undefined && !nc.isClosed()) await nc.drain().catch(() => {});
    logger.info("control plane stopped");
  }

  async function call(endpoint: string, body: unknown = {}): Promise<ApiReply<unknown>> {
    if (api === undefined) throw new Error("the control plane is not started");
    return api.call(endpoint, body);
  }

  return {
    replicaId,
    get httpPort() {
      return http?.port;
    },
    start,
    stop,
    call,
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
