// The worker reads header blocks as they arrive on the wire, by the JavaScript client's rules:
// what the client refuses is refused (and dead-lettered by the worker), the rest reads the same.
import assert from "node:assert/strict";
import { test } from "node:test";
import { connect, headers, type Msg } from "@nats-io/transport-node";
import { Delivery } from "../../runtime/jetstream/delivery.ts";
import { parseHeaderBlock } from "../../runtime/wire/job-message.ts";
import { startServer } from "../support/harness.ts";

const block = (text: string) => new TextEncoder().encode(text);

test("names are lower-cased, values trimmed, the first of a repeated name wins", () => {
  const values = parseHeaderBlock(
    block(
      "NATS/1.0\r\nJetmesh-Job-Id:  job-1 \r\nContent-Type:application/json\r\nX-Tag: a\r\nx-tag: b\r\n\r\n",
    ),
  );
  assert.deepEqual(
    [...values],
    [
      ["jetmesh-job-id", "job-1"],
      ["content-type", "application/json"],
      ["x-tag", "a"],
    ],
  );
});

test("a status on the version line is not a header; lines without a colon are skipped", () => {
  const values = parseHeaderBlock(block("NATS/1.0 100 Idle Heartbeat\r\nno colon here\r\nA: b:c\r\n\r\n"));
  assert.deepEqual([...values], [["a", "b:c"]]);
});

test("UTF-8 values read as text; an empty block has no headers", () => {
  assert.equal(parseHeaderBlock(block("NATS/1.0\r\nX-Name: Zoë\r\n\r\n")).get("x-name"), "Zoë");
  assert.equal(parseHeaderBlock(new Uint8Array(0)).size, 0);
  assert.equal(parseHeaderBlock(block("NATS/1.0\r\n\r\n")).size, 0);
});

test("what the client cannot parse is refused: a bad name character, a lone LF or CR in a value", () => {
  assert.throws(() => parseHeaderBlock(block("NATS/1.0\r\nBad Key: v\r\n\r\n")), /not a valid character/);
  assert.throws(() => parseHeaderBlock(block("NATS/1.0\r\nKé: v\r\n\r\n")), /not a valid character/);
  assert.throws(() => parseHeaderBlock(block("NATS/1.0\r\nA: one\ntwo\r\n\r\n")), /cannot contain/);
  assert.throws(() => parseHeaderBlock(block("NATS/1.0\r\nA: one\rtwo\r\n\r\n")), /cannot contain/);
});

test("a delivered message is read from its raw header block, not through the client's MsgHdrs", async () => {
  // The fast path reads nats-core's internals; if an upgrade moved them, the worker falls back to
  // MsgHdrs (correct, slower) and this test says so.
  const server = await startServer();
  const nc = await connect({ servers: server.url });
  try {
    const received = new Promise<Msg>((resolve) => {
      nc.subscribe("header.block", { max: 1, callback: (_error, msg) => resolve(msg) });
    });
    const h = headers();
    h.append("Jetmesh-Job-Id", "job-7");
    h.append("Content-Type", "application/json");
    nc.publish("header.block", "{}", { headers: h, reply: "reply.inbox" });
    const msg = await received;
    Object.defineProperty(msg, "headers", {
      get() {
        throw new Error("read through MsgHdrs");
      },
    });
    const values = new Delivery(msg).headerValues();
    assert.equal(values.get("jetmesh-job-id"), "job-7");
    assert.equal(values.get("content-type"), "application/json");
  } finally {
    await nc.close();
    await server.stop();
  }
});
