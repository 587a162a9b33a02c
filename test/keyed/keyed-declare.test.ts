// Declaring keyed queues: the keyed subject range joins the queue's stream (also of a queue
// declared before), the partition count is fixed once set, and bad counts and keys are refused.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type MeshBundle, setupMesh, uniqueName } from "../support/harness.ts";

let mesh: MeshBundle;

before(async () => {
  mesh = await setupMesh();
});

after(async () => {
  await mesh.close();
});

const subjectsOf = async (queue: string) =>
  (await mesh.jsm.streams.info(`jetmesh_q_${queue}`)).config.subjects;

test("an existing queue gains key partitions; later declarations keep them; another count is refused", async () => {
  const queue = uniqueName();
  await mesh.client.queues.declare(queue);
  assert.deepEqual(await subjectsOf(queue), [`jetmesh.q.${queue}.>`]);
  await assert.rejects(mesh.client.enqueue(queue, "step", {}, { key: "a" }), /takes no keyed jobs/);

  await mesh.client.queues.declare(queue, { keyPartitions: 4 });
  assert.deepEqual(await subjectsOf(queue), [`jetmesh.q.${queue}.>`, `jetmesh.keyed.${queue}.>`]);
  const { sequence } = await mesh.client.enqueue(queue, "step", {}, { key: "a" });
  assert.ok(sequence > 0);

  await mesh.client.queues.declare(queue, { concurrency: 50 });
  assert.deepEqual(await subjectsOf(queue), [`jetmesh.q.${queue}.>`, `jetmesh.keyed.${queue}.>`]);
  await assert.rejects(
    mesh.client.queues.declare(queue, { keyPartitions: 8 }),
    /has 4 key partitions; they cannot change to 8/,
  );
});

test("bad partition counts and keys are refused with what to do", async () => {
  await assert.rejects(
    mesh.client.queues.declare(uniqueName(), { keyPartitions: 2000 }),
    /keyPartitions must be an integer from 0 \(no keyed jobs\) to 1024/,
  );
  const queue = uniqueName();
  await mesh.client.queues.declare(queue, { keyPartitions: 2 });
  for (const key of ["", "line\nbreak", "x".repeat(1025)]) {
    await assert.rejects(
      mesh.client.enqueue(queue, "step", {}, { key }),
      /enqueue option key must be 1-1024 characters/,
    );
  }
  await assert.rejects(
    mesh.client.enqueue(queue, "step", {}, { key: "a", delay: 1000 }),
    /cannot be delayed/,
  );
});
