// The wire format is a public contract: a producer that speaks the NATS client protocol by hand
// over a TCP socket, with no NATS library at all, enqueues jobs that a jetmesh worker runs.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Socket } from "node:net";
import { after, before, test } from "node:test";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { NatsServer } from "../../deploy/local/nats-server.ts";
import { createLogger, defineJob, Header, JetmeshClient, Worker } from "../../runtime/index.ts";

/** What the handler saw, one entry per run. */
interface Run {
  id: string;
  queue: string;
  name: string;
  attempt: number;
  payload: unknown;
}

/** Polls until `check` returns a truthy value; fails after `timeoutMs`. */
async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface PubAck {
  stream: string;
  seq: number;
  duplicate?: boolean;
  error?: { code: number; description: string };
}

/**
 * A NATS client written against the protocol text only: INFO, CONNECT, PING/PONG, SUB, HPUB and
 * MSG/HMSG. Requests are HPUBs with a reply subject on an inbox this connection subscribes to,
 * which is where JetStream sends its PubAck.
 */
class RawNatsClient {
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  #info: Record<string, unknown> | undefined;
  readonly #waiters: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = [];
  readonly #replies = new Map<string, (payload: Buffer) => void>();
  readonly #inbox = `_INBOX.raw_${randomBytes(6).toString("hex")}`;
  #errors: string[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
  }

  static async connect(port: number): Promise<RawNatsClient> {
    const socket = new Socket();
    const client = new RawNatsClient(socket);
    const info = client.#next((line) => line.startsWith("INFO "));
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(port, "127.0.0.1", () => {
        socket.off("error", reject);
        resolve();
      });
    });
    client.#info = JSON.parse((await info).slice("INFO ".length)) as Record<string, unknown>;
    assert.equal(client.#info.headers, true, "the server supports headers");
    const pong = client.#next((line) => line === "PONG");
    socket.write(
      `CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1,"name":"raw-producer"}\r\n` +
        `SUB ${client.#inbox}.* 1\r\nPING\r\n`,
    );
    await pong;
    assert.deepEqual(client.#errors, [], "the server accepted CONNECT and SUB");
    return client;
  }

  get maxPayload(): number {
    return Number(this.#info?.max_payload);
  }

  /**
   * Publishes a message with a header block given line by line, and resolves with the reply
   * (for a subject a stream captures: JetStream's PubAck).
   */
  async request(
    subject: string,
    headerLines: readonly string[],
    payload: Uint8Array | string,
    timeoutMs = 10_000,
  ): Promise<PubAck> {
    const reply = `${this.#inbox}.${randomBytes(4).toString("hex")}`;
    const header = Buffer.from(
      `NATS/1.0\r\n${headerLines.map((line) => `${line}\r\n`).join("")}\r\n`,
      "utf8",
    );
    const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
    const answer = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#replies.delete(reply);
        reject(
          new Error(
            `no reply to ${subject} within ${timeoutMs} ms (server errors: ${this.#errors.join("; ")})`,
          ),
        );
      }, timeoutMs);
      this.#replies.set(reply, (data) => {
        clearTimeout(timer);
        resolve(data);
      });
    });
    this.#socket.write(
      Buffer.concat([
        Buffer.from(`HPUB ${subject} ${reply} ${header.length} ${header.length + body.length}\r\n`),
        header,
        body,
        Buffer.from("\r\n"),
      ]),
    );
    return JSON.parse((await answer).toString("utf8")) as PubAck;
  }

  close(): void {
    this.#socket.destroy();
  }

  #next(match: (line: string) => boolean): Promise<string> {
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Consumes complete protocol messages from the buffer. */
  #parse(): void {
    for (;;) {
      const end = this.#buffer.indexOf("\r\n");
      if (end < 0) return;
      const line = this.#buffer.subarray(0, end).toString("utf8");
      const [op = ""] = line.split(" ", 1);
      if (op === "MSG" || op === "HMSG") {
        // MSG <subject> <sid> [reply-to] <#bytes>; HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>
        const tokens = line.split(" ").filter(Boolean);
        const total = Number(tokens.at(-1));
        const headerBytes = op === "HMSG" ? Number(tokens.at(-2)) : 0;
        if (this.#buffer.length < end + 2 + total + 2) return; // wait for the rest
        const payload = this.#buffer.subarray(end + 2 + headerBytes, end + 2 + total);
        this.#buffer = this.#buffer.subarray(end + 2 + total + 2);
        this.#replies.get(tokens[1] ?? "")?.(Buffer.from(payload));
        this.#replies.delete(tokens[1] ?? "");
        continue;
      }
      this.#buffer = this.#buffer.subarray(end + 2);
      if (op === "PING") this.#socket.write("PONG\r\n");
      else if (op === "-ERR") this.#errors.push(line);
      const waiter = this.#waiters.findIndex((w) => w.match(line));
      if (waiter >= 0) this.#waiters.splice(waiter, 1)[0]?.resolve(line);
    }
  }
}

const queue = `raw_${randomBytes(3).toString("hex")}`;
const stream = `jetmesh_q_${queue}`;
const subject = `jetmesh.q.${queue}.greet.person`;
const runs: Run[] = [];
let server: NatsServer;
let client: JetmeshClient;
let worker: Worker | undefined;
let jsm: JetStreamManager;
let raw: RawNatsClient | undefined;

before(async () => {
  server = await NatsServer.start();
  client = await JetmeshClient.connect({ connection: { servers: server.url } });
  await client.queues.declare(queue);
  jsm = await jetstreamManager(client.nc);
  worker = await Worker.start({
    connection: { servers: server.url },
    queues: [queue],
    // One lane: a job published after the malformed one can only run once that one is dealt with.
    concurrency: 1,
    logger: createLogger({}, { JETMESH_LOG_LEVEL: process.env.JETMESH_LOG_LEVEL ?? "silent" }),
    jobs: [
      defineJob<unknown>({
        name: "greet.person",
        run: (payload, ctx) => {
          runs.push({ id: ctx.id, queue: ctx.queue, name: ctx.name, attempt: ctx.attempt, payload });
        },
      }),
    ],
  });
  raw = await RawNatsClient.connect(server.port);
});

after(async () => {
  raw?.close();
  try {
    await worker?.close(5_000);
    await client?.close();
  } finally {
    await server?.stop();
  }
});

async function queuedJobs(): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

test("a job published over a raw socket is stored, run once with its payload and id, and acknowledged", async () => {
  assert.ok(raw);
  assert.equal(raw.maxPayload, 1024 * 1024, "the default max_payload");
  const ack = await raw.request(
    subject,
    ["Content-Type: application/json", "Nats-Msg-Id: raw-1"],
    '{"name":"Ada","langs":["en","fr"]}',
  );
  assert.equal(ack.error, undefined);
  assert.equal(ack.stream, stream, "the PubAck names the queue's stream");
  assert.ok(Number.isSafeInteger(ack.seq) && ack.seq >= 1);
  assert.notEqual(ack.duplicate, true);

  await waitFor(() => runs.some((run) => run.id === "raw-1"), 20_000, "the handler to run raw-1");
  await waitFor(async () => (await queuedJobs()) === 0, 20_000, "the job to be acknowledged");
  assert.deepEqual(
    runs.filter((run) => run.id === "raw-1"),
    [{ id: "raw-1", queue, name: "greet.person", attempt: 1, payload: { name: "Ada", langs: ["en", "fr"] } }],
  );

  // The same Nats-Msg-Id inside the duplicate window is recognised and not stored again.
  const again = await raw.request(subject, ["Content-Type: application/json", "Nats-Msg-Id: raw-1"], "{}");
  assert.equal(again.stream, stream);
  assert.equal(again.duplicate, true);
  assert.equal(await queuedJobs(), 0);
  assert.equal(runs.filter((run) => run.id === "raw-1").length, 1, "the duplicate did not run");
});

test("a header block the JavaScript client cannot parse is dead-lettered as decode-failed; the next job runs", async () => {
  assert.ok(raw);
  const payload = '{"name":"Grace"}';
  const bad = await raw.request(
    subject,
    ["Bad Key: v", "Content-Type: application/json", "Nats-Msg-Id: raw-bad"],
    payload,
  );
  assert.equal(bad.stream, stream, "the server stores the malformed header block");
  const good = await raw.request(
    subject,
    ["Content-Type: application/json", "Nats-Msg-Id: raw-2"],
    '{"name":"Lin"}',
  );
  assert.equal(good.stream, stream);

  await waitFor(() => runs.some((run) => run.id === "raw-2"), 20_000, "the handler to run raw-2");
  const letter = await waitFor(
    async () => {
      try {
        return await jsm.streams.getMessage("jetmesh_dlq", {
          last_by_subj: `jetmesh.dlq.${queue}.greet.person`,
        });
      } catch {
        return undefined;
      }
    },
    20_000,
    "the dead letter",
  );
  const h = letter.header;
  assert.equal(h.get(Header.DeadReason), "decode-failed");
  assert.equal(h.get(Header.ErrorClass), "DecodeError");
  assert.match(h.get(Header.ErrorMessage), /malformed headers/);
  // The unreadable block hides its Nats-Msg-Id, so the id falls back to <queue>-<stream sequence>.
  assert.equal(h.get(Header.JobId), `${queue}-${bad.seq}`);
  assert.equal(h.get(Header.OriginalSubject), subject);
  assert.equal(h.get(Header.OriginalSequence), String(bad.seq));
  assert.equal(new TextDecoder().decode(letter.data), payload, "the dead letter keeps the payload");

  await waitFor(async () => (await queuedJobs()) === 0, 20_000, "the queue to empty");
  assert.deepEqual(
    runs.filter((run) => run.id !== "raw-1").map((run) => [run.id, run.payload]),
    [["raw-2", { name: "Lin" }]],
    "the malformed job never ran; the one behind it ran once",
  );
});
