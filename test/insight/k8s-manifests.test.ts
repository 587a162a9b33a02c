// Acceptance 7 (manifests), without a cluster: deploy/k8s/ parses; every object is of a known
// kind and API version; references resolve (config maps, secrets, selectors, target ports, the
// autoscalers' target); every variable is documented in docs/configuration.md; ports match the
// processes' defaults; and the autoscalers read the documented autoscaling metric.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";

const DIR = "deploy/k8s";
const KNOWN: Record<string, readonly string[]> = {
  v1: ["ConfigMap", "Secret", "Service"],
  "apps/v1": ["Deployment"],
  "autoscaling/v2": ["HorizontalPodAutoscaler"],
  "keda.sh/v1alpha1": ["ScaledObject"],
};

interface Container {
  name: string;
  image: string;
  command: string[];
  env?: { name: string; value: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet: { path: string; port: string | number } };
  livenessProbe?: { httpGet: { path: string; port: string | number } };
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  /** Differs by kind: each check reads its own part. */
  spec?: any;
}

const objects: { file: string; object: K8sObject }[] = readdirSync(DIR)
  .filter((file) => file.endsWith(".yaml"))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), "utf8")).map((doc) => {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      return { file, object: doc.toJS() as K8sObject };
    }),
  );
const ofKind = (kind: string) => objects.filter((o) => o.object.kind === kind).map((o) => o.object);
const named = (kind: string, name: string) => ofKind(kind).find((o) => o.metadata.name === name);
const deployments = ofKind("Deployment");
const containersOf = (deployment: K8sObject): Container[] => deployment.spec.template.spec.containers;
const configDocs = readFileSync("docs/configuration.md", "utf8");

test("every object is of a known kind and API version, named, and unique", () => {
  assert.ok(objects.length >= 7);
  const seen = new Set<string>();
  for (const { file, object } of objects) {
    assert.ok(
      KNOWN[object.apiVersion]?.includes(object.kind),
      `${file}: ${object.apiVersion} ${object.kind}`,
    );
    assert.match(object.metadata?.name ?? "", /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${file}: a DNS-1123 name`);
    const key = `${object.kind}/${object.metadata.name}`;
    assert.ok(!seen.has(key), `${key} is defined once`);
    seen.add(key);
  }
  for (const kind of [
    "ConfigMap",
    "Secret",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "ScaledObject",
  ])
    assert.ok(ofKind(kind).length > 0, `a ${kind}`);
});

test("deployments: selectors match their pods, commands exist, config and secrets resolve", () => {
  for (const deployment of deployments) {
    const name = deployment.metadata.name;
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    for (const [key, value] of Object.entries(deployment.spec.selector.matchLabels as Record<string, string>))
      assert.equal(podLabels[key], value, `${name}: the selector matches its pod template`);
    for (const container of containersOf(deployment)) {
      const entry = container.command.at(-1) ?? "";
      assert.ok(existsSync(entry), `${name}: ${entry} exists`);
      for (const source of container.envFrom ?? []) {
        if (source.configMapRef)
          assert.ok(named("ConfigMap", source.configMapRef.name), `${source.configMapRef.name}`);
        if (source.secretRef) assert.ok(named("Secret", source.secretRef.name), `${source.secretRef.name}`);
      }
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        assert.ok(probe, `${name}: probes`);
        assert.equal(probe.httpGet.path, "/healthz");
        assert.ok(
          container.ports?.some((p) => p.name === probe.httpGet.port),
          `${name}: probe port names a port`,
        );
      }
    }
  }
});

test("every variable the manifests set is documented in docs/configuration.md", () => {
  const names = new Set<string>();
  for (const object of [...ofKind("ConfigMap"), ...ofKind("Secret")])
    for (const key of Object.keys({ ...object.data, ...object.stringData })) names.add(key);
  for (const deployment of deployments)
    for (const container of containersOf(deployment))
      for (const env of container.env ?? []) names.add(env.name);
  assert.ok(names.size >= 8);
  for (const name of names) assert.match(configDocs, new RegExp(`\`${name}\``), `${name} is documented`);
});

test("ports match the processes' defaults, and the service reaches the control plane's", () => {
  const worker = containersOf(named("Deployment", "jetmesh-worker")!)[0]!;
  assert.ok(readFileSync("workers/config.ts", "utf8").includes("DEFAULT_METRICS_PORT = 9464"));
  assert.deepEqual(
    worker.ports?.map((p) => p.containerPort),
    [9464],
  );
  const controlPlane = containersOf(named("Deployment", "jetmesh-control-plane")!)[0]!;
  const httpPort = Number(controlPlane.env?.find((e) => e.name === "JETMESH_CP_HTTP_PORT")?.value);
  assert.ok(
    readFileSync("control-plane/options.ts", "utf8").includes("DEFAULT_CONTROL_PLANE_HTTP_PORT = 9465"),
  );
  assert.equal(httpPort, 9465);
  assert.deepEqual(
    controlPlane.ports?.map((p) => p.containerPort),
    [httpPort],
  );
  for (const service of ofKind("Service")) {
    const target = deployments.find((d) =>
      Object.entries(service.spec.selector as Record<string, string>).every(
        ([key, value]) => d.spec.template.metadata.labels[key] === value,
      ),
    );
    assert.ok(target, `service ${service.metadata.name} selects a deployment's pods`);
    for (const port of service.spec.ports as { targetPort: string; port: number }[]) {
      const container: Container | undefined = containersOf(target).find((c) =>
        c.ports?.some((p) => p.name === port.targetPort),
      );
      assert.ok(
        container,
        `service ${service.metadata.name}: targetPort ${port.targetPort} is a container port`,
      );
      const containerPort: number | undefined = container.ports?.find(
        (p) => p.name === port.targetPort,
      )?.containerPort;
      assert.equal(port.port, containerPort);
    }
  }
  const grace = Number(worker.env?.find((e) => e.name === "JETMESH_SHUTDOWN_GRACE_MS")?.value);
  const kill = named("Deployment", "jetmesh-worker")!.spec.template.spec.terminationGracePeriodSeconds * 1000;
  assert.ok(kill > grace, "the kubelet waits longer than the worker's shutdown grace");
});

test("the autoscalers target the worker deployment and read the documented autoscaling metric", () => {
  const metrics = readFileSync("docs/metrics.md", "utf8");
  assert.match(metrics, /^### `jetmesh_queue_desired_workers`/m);
  const queues = containersOf(named("Deployment", "jetmesh-worker")!)[0]!.env?.find(
    (e) => e.name === "JETMESH_QUEUES",
  )?.value;
  for (const scaler of [...ofKind("HorizontalPodAutoscaler"), ...ofKind("ScaledObject")]) {
    const ref = scaler.spec.scaleTargetRef;
    assert.equal(ref.kind ?? "Deployment", "Deployment");
    assert.ok(named("Deployment", ref.name), `${scaler.kind} targets ${ref.name}`);
    assert.equal(ref.name, "jetmesh-worker");
  }
  const hpa = ofKind("HorizontalPodAutoscaler")[0]!;
  const external = hpa.spec.metrics[0].external;
  assert.equal(external.metric.name, "jetmesh_queue_desired_workers");
  assert.equal(external.metric.selector.matchLabels.queue, queues);
  const keda = ofKind("ScaledObject")[0]!;
  assert.match(
    keda.spec.triggers[0].metadata.query,
    new RegExp(`jetmesh_queue_desired_workers\\{queue="${queues}"\\}`),
  );
});
