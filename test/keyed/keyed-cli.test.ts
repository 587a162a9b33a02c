// `jetmesh enqueue --key`: through the control plane's API the job lands in its key's partition
// with the key in its header; a queue without key partitions and a delayed keyed job are refused
// with an error that says what to do.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ControlPlane } from "../../control-plane/index.ts";
import { Header, Subjects } from "../../runtime/index.ts";
import { keyedSubject, partitionOf } from "../../runtime/keyed/partitions.ts";
import { parseJson, runCli, startControlPlane } from "../control-plane/support.ts";
import { type MeshBundle, setupMesh, uniqueName, waitFor } from "../support/harness.ts";

const PARTITIONS = 8;

let mesh: MeshBundle;
let cp: ControlPlane;
let jetmesh: (...args: string[]) => ReturnType<typeof runCli>;

before(async () => {
  mesh = await setupMesh({ keyPartitions: PARTITIONS });
  cp = await startControlPlane(mesh.server.url);
  await waitFor(async () => (await cp.call("workers.list")).ok, "the control plane");
  jetmesh = (...args: string[]) => runCli(["-s", mesh.server.url, ...args]);
});

after(async () => {
  await cp.stop();
  await mesh.close();
});

test("enqueue --key stores the job in its key's partition, with its key", async () => {
  const run = await jetmesh(
    "enqueue",
    mesh.queue,
    "ledger.post",
    "--key",
    "account-42",
    "--data",
    '{"amount":5}',
    "--json",
  );
  assert.equal(run.code, 0, run.stderr);
  const { sequence } = parseJson<{ sequence: number }>(run);
  const stored = await mesh.jsm.streams.getMessage(mesh.stream, { seq: sequence });
  assert.ok(stored !== null);
  assert.equal(
    stored.subject,
    keyedSubject(new Subjects(), mesh.queue, partitionOf("account-42", PARTITIONS), "ledger.post"),
  );
  assert.equal(stored.header.get(Header.Key), "account-42");
});

test("enqueue --key to a queue without key partitions, or with --delay, is refused", async () => {
  const plain = uniqueName();
  await mesh.client.queues.declare(plain);
  const [unkeyed, delayed] = await Promise.all([
    jetmesh("enqueue", plain, "ledger.post", "--key", "account-42"),
    jetmesh("enqueue", mesh.queue, "ledger.post", "--key", "account-42", "--delay", "10m"),
  ]);
  assert.notEqual(unkeyed.code, 0);
  assert.match(unkeyed.stderr, /takes no keyed jobs: declare it with keyPartitions/);
  assert.notEqual(delayed.code, 0);
  assert.match(delayed.stderr, /a keyed job cannot be delayed/);
});
