// The worker process's configuration: defaults, validation that names the offending variable, and
// loading handler modules with errors that say what to fix.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_PREFIX, WORKER_DEFAULTS } from "../../runtime/index.ts";
import {
  ConfigError,
  DEFAULT_METRICS_PORT,
  EXAMPLE_HANDLER_MODULES,
  loadJobs,
  readWorkerConfig,
} from "../../workers/config.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURES = "test/fixtures/config";
/** The one required variable, so each case below tests only what it names. */
const HANDLERS = { JETMESH_HANDLERS: "app/jobs.ts" };

describe("readWorkerConfig", () => {
  test("handler modules are required, with an error that says how to name them", () => {
    assert.throws(
      () => readWorkerConfig({}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(
          error.message,
          /JETMESH_HANDLERS is not set.*JETMESH_HANDLERS=workers\/handlers\/examples.ts/,
        );
        return true;
      },
    );
  });

  test("an environment naming only the handlers gives the documented defaults", () => {
    const config = readWorkerConfig({ JETMESH_HANDLERS: EXAMPLE_HANDLER_MODULES.join(",") });
    assert.deepEqual(config, {
      connection: {},
      prefix: DEFAULT_PREFIX,
      queues: ["default"],
      handlerModules: EXAMPLE_HANDLER_MODULES,
      concurrency: WORKER_DEFAULTS.concurrency,
      prefetch: "auto",
      priority: undefined,
      maxPayloadBytes: WORKER_DEFAULTS.maxPayloadBytes,
      shutdownGraceMs: WORKER_DEFAULTS.shutdownGraceMs,
      events: true,
      workerId: undefined,
      heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
      metricsPort: DEFAULT_METRICS_PORT,
      metricsHost: "0.0.0.0",
    });
  });

  test("reads every variable, trimming comma lists", () => {
    const config = readWorkerConfig({
      NATS_URL: "nats://a:4222, nats://b:4222",
      JETMESH_PREFIX: "staging",
      JETMESH_QUEUES: " emails, reports ,,",
      JETMESH_HANDLERS: "app/jobs.ts,app/more.ts",
      JETMESH_CONCURRENCY: "25",
      JETMESH_PREFETCH: "2",
      JETMESH_MAX_PAYLOAD_BYTES: "2048",
      JETMESH_SHUTDOWN_GRACE_MS: "5000",
      JETMESH_EVENTS: "0",
      JETMESH_WORKER_ID: "worker-7",
    });
    assert.deepEqual(config.connection.servers, ["nats://a:4222", "nats://b:4222"]);
    assert.equal(config.prefix, "staging");
    assert.deepEqual(config.queues, ["emails", "reports"]);
    assert.deepEqual(config.handlerModules, ["app/jobs.ts", "app/more.ts"]);
    assert.equal(config.concurrency, 25);
    assert.equal(config.prefetch, 2);
    assert.equal(config.maxPayloadBytes, 2048);
    assert.equal(config.shutdownGraceMs, 5000);
    assert.equal(config.events, false);
    assert.equal(config.workerId, "worker-7");
  });

  test("empty values fall back to the defaults", () => {
    const config = readWorkerConfig({
      ...HANDLERS,
      JETMESH_QUEUES: " , ",
      JETMESH_CONCURRENCY: "",
      JETMESH_PREFIX: "",
    });
    assert.deepEqual(config.queues, ["default"]);
    assert.equal(config.concurrency, WORKER_DEFAULTS.concurrency);
    assert.equal(config.prefetch, "auto", "prefetch adapts to the jobs unless set");
    assert.equal(config.prefix, DEFAULT_PREFIX);
  });

  test('JETMESH_PREFETCH takes "auto" or a whole number; 0 turns prefetch off', () => {
    assert.equal(readWorkerConfig({ ...HANDLERS, JETMESH_PREFETCH: "auto" }).prefetch, "auto");
    assert.equal(readWorkerConfig({ ...HANDLERS, JETMESH_PREFETCH: "0" }).prefetch, 0);
    assert.throws(
      () => readWorkerConfig({ ...HANDLERS, JETMESH_PREFETCH: "-1" }),
      /JETMESH_PREFETCH must be "auto" or a whole number, 0 or more, got "-1"/,
    );
  });

  for (const bad of ["ten", "0", "-3", "2.5", "1e100"]) {
    test(`JETMESH_CONCURRENCY="${bad}" is a ConfigError naming the variable and the value`, () => {
      assert.throws(
        () => readWorkerConfig({ ...HANDLERS, JETMESH_CONCURRENCY: bad }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message.includes("JETMESH_CONCURRENCY") &&
          error.message.includes(`"${bad}"`),
      );
    });
  }

  test("the other numeric variables are validated the same way", () => {
    for (const key of [
      "JETMESH_MAX_PAYLOAD_BYTES",
      "JETMESH_SHUTDOWN_GRACE_MS",
      "JETMESH_METRICS_PORT",
      "JETMESH_PREFETCH",
    ]) {
      assert.throws(
        () => readWorkerConfig({ ...HANDLERS, [key]: "soon" }),
        (error: unknown) => {
          return error instanceof ConfigError && error.message.includes(key);
        },
      );
    }
  });
});

describe("loadJobs", () => {
  test("loads the default handler module: the example jobs", async () => {
    const jobs = await loadJobs(EXAMPLE_HANDLER_MODULES, ROOT);
    assert.deepEqual(
      jobs.map((job) => job.name),
      ["email.send", "report.generate", "flaky.task", "payment.charge"],
    );
  });

  test("resolves paths against the given directory and accepts a default export", async () => {
    const jobs = await loadJobs([`${FIXTURES}/one-job.ts`, `${FIXTURES}/default-export.ts`], ROOT);
    assert.deepEqual(
      jobs.map((job) => job.name),
      ["fixture.one", "fixture.default"],
    );
  });

  test("accepts absolute paths", async () => {
    const jobs = await loadJobs(
      [fileURLToPath(new URL(`../../${FIXTURES}/one-job.ts`, import.meta.url))],
      "/",
    );
    assert.deepEqual(
      jobs.map((job) => job.name),
      ["fixture.one"],
    );
  });

  test("a module without `jobs` is a ConfigError that names the module and the expected export", async () => {
    await assert.rejects(loadJobs([`${FIXTURES}/no-jobs.ts`], ROOT), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
      assert.match(error.message, /no-jobs\.ts/);
      assert.match(error.message, /must export "jobs"/);
      return true;
    });
  });

  test("a missing module is a ConfigError that points at JETMESH_HANDLERS", async () => {
    await assert.rejects(loadJobs([`${FIXTURES}/does-not-exist.ts`], ROOT), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
      assert.match(error.message, /does-not-exist\.ts/);
      assert.match(error.message, /JETMESH_HANDLERS/);
      return true;
    });
  });

  test("a module that throws while loading is a ConfigError carrying its message", async () => {
    await assert.rejects(loadJobs([`${FIXTURES}/broken.ts`], ROOT), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
      assert.match(error.message, /broken\.ts/);
      assert.match(error.message, /failed on purpose/);
      return true;
    });
  });
});
