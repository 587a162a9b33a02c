# syntax=docker/dockerfile:1
# The jetmesh image: the worker process by default, the control plane with another command
# (node --import tsx control-plane/main.ts); docker-compose.yml runs both from it.
#
#   docker build -t jetmesh .
#   docker run --rm -e NATS_URL=nats://nats:4222 -e JETMESH_HANDLERS=workers/handlers/examples.ts jetmesh
#
# Your handlers: build on this image, copy them in and name them in JETMESH_HANDLERS. They import
# the library as "../runtime/index.ts" (paths relative to /app).
#   FROM jetmesh
#   COPY --chown=node:node handlers/ ./handlers/
#   ENV JETMESH_HANDLERS=handlers/index.ts
#
# The image runs TypeScript as shipped through tsx, a runtime dependency: there is no build step.

ARG NODE_VERSION=20

# Production dependencies only (tsx among them). No install scripts run: the native parts
# (esbuild, msgpackr's optional extension) come as prebuilt platform packages.
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY runtime ./runtime
COPY workers ./workers
COPY control-plane ./control-plane
# The one-shot queue declaration of docker-compose.yml.
COPY deploy/nats/declare-queues.ts ./deploy/nats/declare-queues.ts
# The code stays owned by root and read-only for the process; the node user (uid 1000) runs it.
USER node
# Worker /metrics and /healthz (JETMESH_METRICS_PORT), control plane /metrics.
EXPOSE 9464 9465
# The worker and the control plane drain on SIGTERM (running jobs finish or are handed back, no
# attempt charged) and exit 0; give the container a stop timeout longer than
# JETMESH_SHUTDOWN_GRACE_MS (30 s by default), e.g. `stop_grace_period: 45s` in compose.
STOPSIGNAL SIGTERM
# /healthz of the worker's metrics server; with JETMESH_METRICS_PORT=0 there is nothing to probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const port = process.env.JETMESH_METRICS_PORT || '9464'; if (port === '0') process.exit(0); fetch('http://127.0.0.1:' + port + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));"]
CMD ["node", "--import", "tsx", "workers/main.ts"]
