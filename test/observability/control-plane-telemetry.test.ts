// The control plane process starts the OpenTelemetry SDK when the OTEL_* variables ask for an
// exporter, so the jobs it publishes (here through `jobs.enqueue`, as `jetmesh enqueue` does)
// start their trace there; without them no SDK is loaded.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ControlPlaneClient } from "../../control-plane/index.ts";
import { ControlPlaneProcess } from "../scheduling/support.ts";
import { type MeshBundle, setupMesh, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
const processes: ControlPlaneProcess[] = [];

before(async () => {
  mesh = await setupMesh();
});

after(async () => {
  for (const cp of processes) await cp.kill("SIGTERM");
  await mesh.close();
});

test("with OTEL_TRACES_EXPORTER set, a job enqueued through the control plane is traced there", async () => {
  const cp = await ControlPlaneProcess.start(mesh.server.url, "cp-traced", {
    OTEL_TRACES_EXPORTER: "console",
  });
  processes.push(cp);
  assert.ok(
    cp.lines.some((line) => line.includes("OpenTelemetry tracing started")),
    "the SDK started",
  );
  await new ControlPlaneClient(mesh.nc).request("jobs.enqueue", {
    queue: mesh.queue,
    name: "record",
    payload: {},
  });
  // The console exporter prints each finished span, with its resource's service name.
  await waitFor(
    () =>
      cp.lines.some((line) => line.includes(`publish ${mesh.queue}`)) &&
      cp.lines.some((line) => line.includes("jetmesh-control-plane")),
    "the producer span of the enqueue in the process's output",
  );
});

test("without OTEL_* variables no SDK starts", async () => {
  const cp = await ControlPlaneProcess.start(mesh.server.url, "cp-plain", {
    OTEL_TRACES_EXPORTER: "",
    OTEL_EXPORTER_OTLP_ENDPOINT: "",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
  });
  processes.push(cp);
  assert.ok(!cp.lines.some((line) => line.includes("OpenTelemetry tracing started")));
});
