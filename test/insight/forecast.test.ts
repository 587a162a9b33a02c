// Acceptance 6: the forecast counts delayed jobs by minute (and by queue) correctly, and adds the
// runs of recurring schedules. The control plane runs no scheduler here, so nothing moves while
// the test reads the forecast.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ControlPlane, DueForecast } from "../../control-plane/index.ts";
import { call, parseJson, runCli, startControlPlane } from "../control-plane/support.ts";
import { type MeshBundle, setupMesh, uniqueName } from "../support/harness.ts";

let mesh: MeshBundle;
let cp: ControlPlane;
let other: string;

before(async () => {
  mesh = await setupMesh();
  other = uniqueName("other");
  await mesh.client.queues.declare(other);
  cp = await startControlPlane(mesh.server.url, { scheduler: false });
});

after(async () => {
  await cp.stop();
  await mesh.close();
});

test("delayed jobs and schedule runs are counted in the minute they come due, per queue", async () => {
  // Minutes two and more ahead, so none comes due while the test runs.
  const base = (Math.floor(Date.now() / 60_000) + 2) * 60_000;
  const plan = [
    { queue: mesh.queue, minute: 0, count: 3 },
    { queue: mesh.queue, minute: 1, count: 1 },
    { queue: other, minute: 1, count: 2 },
    { queue: other, minute: 4, count: 5 },
  ];
  for (const { queue, minute, count } of plan)
    for (let i = 0; i < count; i++)
      // Spread over the minute's seconds: the store files each second under its own subject.
      await mesh.client.enqueue(queue, "record", {}, { runAt: base + minute * 60_000 + i * 7000 + 500 });
  await call(cp, "schedules.create", {
    id: "every-20-min",
    queue: other,
    name: "record",
    rule: { everyMs: 20 * 60_000 },
    startAt: base + 3 * 60_000,
  });

  const forecast = await call<DueForecast>(cp, "forecast.due", {});
  assert.equal(forecast.minutes.length, 60);
  const at = (offset: number) => forecast.minutes.find((m) => m.at === base + offset * 60_000);
  assert.deepEqual(at(0)?.queues, { [mesh.queue]: { delayed: 3, scheduled: 0 } });
  assert.deepEqual(at(1)?.queues, {
    [mesh.queue]: { delayed: 1, scheduled: 0 },
    [other]: { delayed: 2, scheduled: 0 },
  });
  assert.equal(at(1)?.delayed, 3);
  assert.deepEqual(at(3)?.queues, { [other]: { delayed: 0, scheduled: 1 } });
  assert.deepEqual(at(4)?.queues, { [other]: { delayed: 5, scheduled: 0 } });
  assert.deepEqual(at(23)?.queues, { [other]: { delayed: 0, scheduled: 1 } });
  assert.equal(forecast.delayed, 11);
  // The schedule runs at +3, +23 and +43 minutes from base; base is at most 2 minutes ahead.
  assert.equal(forecast.scheduled, 3);
  const busy = forecast.minutes.filter((m) => m.delayed + m.scheduled > 0).map((m) => (m.at - base) / 60_000);
  assert.deepEqual(busy, [0, 1, 3, 4, 23, 43]);

  const one = parseJson<DueForecast>(
    await runCli(["forecast", other, "--minutes", "10", "--json", "--server", mesh.server.url]),
  );
  assert.equal(one.minutes.length, 10);
  assert.equal(one.delayed, 7);
  assert.equal(one.scheduled, 1);
  const human = await runCli(["forecast", "--server", mesh.server.url]);
  assert.match(
    human.stdout,
    /11 delayed job\(s\) and 3 schedule run\(s\) come due in the next 60 minute\(s\)/,
  );
});
