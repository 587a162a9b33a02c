// Publishing with acknowledgements collected on one inbox: a stored message resolves with its
// PubAck (duplicates flagged), a subject no stream stores rejects at once, and a reply that never
// comes rejects after the timeout.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { headers } from "@nats-io/transport-node";
import { AckedPublisher } from "../../runtime/jetstream/acked-publisher.ts";
import { type MeshBundle, setupMesh } from "../support/harness.ts";

let mesh: MeshBundle;

before(async () => {
  mesh = await setupMesh();
});

after(async () => {
  await mesh.close();
});

function withMsgId(id: string) {
  const h = headers();
  h.append("Nats-Msg-Id", id);
  return h;
}

test("stored messages resolve with their PubAcks, in any number at once; a repeat is a duplicate", async () => {
  const publisher = new AckedPublisher(mesh.nc, 5_000);
  const subject = `jetmesh.q.${mesh.queue}.ack.test`;
  const acks = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      publisher.publish(subject, new Uint8Array([i]), withMsgId(`ack-${i}`)),
    ),
  );
  assert.ok(acks.every((ack) => ack.stream === mesh.stream && !ack.duplicate));
  assert.equal(new Set(acks.map((ack) => ack.seq)).size, 50);
  const again = await publisher.publish(subject, new Uint8Array([0]), withMsgId("ack-0"));
  assert.equal(again.duplicate, true);
  publisher.close();
});

test("no stream on the subject rejects with no responders; no reply rejects on timeout", async () => {
  const publisher = new AckedPublisher(mesh.nc, 300);
  await assert.rejects(
    publisher.publish("nowhere.at.all", new Uint8Array(0), headers()),
    /no stream stores messages published on nowhere\.at\.all/,
  );
  // A core subscriber takes the message and never answers.
  const silent = mesh.nc.subscribe("silent.subject");
  await mesh.nc.flush();
  await assert.rejects(publisher.publish("silent.subject", new Uint8Array(0), headers()), /timeout/);
  silent.unsubscribe();
  publisher.close();
});
