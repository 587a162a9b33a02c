// The control plane's HTTP server: /metrics in Prometheus text format with process metrics,
// /healthz, extra routes served on the same port, the port settings read from the environment,
// and no server at all unless one is asked for.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { controlPlaneOptionsFromEnv, DEFAULT_CONTROL_PLANE_HTTP_PORT } from "../../control-plane/index.ts";
import { startControlPlane } from "../control-plane/support.ts";
import { type MeshBundle, setupMesh } from "../support/harness.ts";

let mesh: MeshBundle;

before(async () => {
  mesh = await setupMesh();
});

after(async () => {
  await mesh?.close();
});

test("serves /metrics, /healthz and extra routes on the port it reports", async () => {
  const service = await startControlPlane(mesh.server.url, {
    httpPort: 0,
    httpHost: "127.0.0.1",
    httpRoutes: [
      (request, response) => {
        if (request.url !== "/console") return false;
        response.writeHead(200, { "Content-Type": "text/plain" });
        response.end("console\n");
        return true;
      },
    ],
  });
  try {
    const port = service.httpPort;
    assert.ok(port !== undefined && port > 0, `port ${port}`);
    const base = `http://127.0.0.1:${port}`;
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get("content-type") ?? "", /text\/plain/);
    assert.match(await metrics.text(), /^process_cpu_user_seconds_total \d/m);
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), "ok\n");
    const page = await fetch(`${base}/console`);
    assert.equal(await page.text(), "console\n");
    assert.equal((await fetch(`${base}/elsewhere`)).status, 404);
  } finally {
    await service.stop();
  }
  await assert.rejects(fetch(`http://127.0.0.1:${service.httpPort}/healthz`));
});

test("a port in use fails the start with what to do", async () => {
  const first = await startControlPlane(mesh.server.url, { httpPort: 0, httpHost: "127.0.0.1" });
  try {
    await assert.rejects(
      startControlPlane(mesh.server.url, { httpPort: first.httpPort, httpHost: "127.0.0.1" }),
      /cannot serve \/metrics on port \d+: .*EADDRINUSE.*set JETMESH_CP_HTTP_PORT to a free port, or to 0/,
    );
  } finally {
    await first.stop();
  }
});

test("an in-process control plane has no HTTP server unless given a port", async () => {
  const service = await startControlPlane(mesh.server.url);
  try {
    assert.equal(service.httpPort, undefined);
  } finally {
    await service.stop();
  }
});

test("the process serves on 9465 by default, JETMESH_CP_HTTP_PORT=0 turns it off, bad ports are refused", () => {
  assert.equal(DEFAULT_CONTROL_PLANE_HTTP_PORT, 9465);
  assert.equal(controlPlaneOptionsFromEnv({}).httpPort, 9465);
  assert.equal(controlPlaneOptionsFromEnv({ JETMESH_CP_HTTP_PORT: "0" }).httpPort, undefined);
  const custom = controlPlaneOptionsFromEnv({
    JETMESH_CP_HTTP_PORT: "19465",
    JETMESH_CP_HTTP_HOST: "127.0.0.1",
  });
  assert.equal(custom.httpPort, 19465);
  assert.equal(custom.httpHost, "127.0.0.1");
  assert.throws(
    () => controlPlaneOptionsFromEnv({ JETMESH_CP_HTTP_PORT: "70000" }),
    /JETMESH_CP_HTTP_PORT must be a port number from 0 \(off\) to 65535, got "70000"/,
  );
});
