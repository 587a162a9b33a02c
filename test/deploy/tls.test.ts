// TLS on loopback with throw-away certificates: nats-server runs the shipped deploy/nats/tls.conf
// (mutual TLS) together with the shipped users; a worker process given NATS_TLS_CA, NATS_TLS_CERT
// and NATS_TLS_KEY runs a job, while plaintext clients, clients without a certificate and clients
// from another CA are refused.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { findNatsServerBinary, NatsServer } from "../../deploy/local/nats-server.ts";
import {
  type ConnectionSettings,
  JetmeshClient,
  type LifecycleEvent,
  parseLifecycleEvents,
} from "../../runtime/index.ts";
import { uniqueName, WorkerProcess, waitFor } from "../support/harness.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function opensslMissing(): string | false {
  const probe = spawnSync("openssl", ["version"], { encoding: "utf8" });
  return probe.status === 0
    ? false
    : "openssl is not installed: it generates the test's certificates (apt-get install openssl)";
}

const skip = findNatsServerBinary() === undefined ? "nats-server is not installed" : opensslMissing();

function openssl(dir: string, args: string[]): void {
  const result = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed:\n${result.stderr}`);
}

/** A CA, and certificates it signs, as files in `dir`: `<name>-cert.pem` and `<name>-key.pem`. */
async function makeCa(dir: string, name: string): Promise<void> {
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}-key.pem`,
    "-out",
    `${name}.pem`,
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

async function makeCertificate(
  dir: string,
  ca: string,
  name: string,
  usage: "serverAuth" | "clientAuth",
): Promise<void> {
  const extensions = [
    usage === "serverAuth" ? "subjectAltName=IP:127.0.0.1,DNS:localhost" : `subjectAltName=DNS:${name}`,
    `extendedKeyUsage=${usage}`,
    "keyUsage=critical,digitalSignature",
  ].join("\n");
  await writeFile(join(dir, `${name}.ext`), `${extensions}\n`);
  openssl(dir, [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}-key.pem`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  ]);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}-key.pem`,
    "-CAcreateserial",
    "-out",
    `${name}-cert.pem`,
    "-days",
    "1",
    "-extfile",
    `${name}.ext`,
  ]);
}

/** What a plaintext client gets: the server's INFO line, then (after a plain CONNECT) its reaction. */
function plaintextConversation(port: number): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let text = "";
    let sent = false;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedByServer: false });
    }, 5000);
    socket.on("data", (chunk) => {
      text += chunk.toString();
      if (!sent && text.includes("\r\n")) {
        sent = true;
        socket.write('CONNECT {"verbose":false,"user":"worker","pass":"jetmesh-worker-dev"}\r\nPING\r\n');
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closedByServer: true });
    });
    socket.on("error", (error) => {
      if (text === "") {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.connect(port, "127.0.0.1");
  });
}

let dir: string;
let server: NatsServer;
const workers: WorkerProcess[] = [];

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), "jetmesh-tls-"));
  await makeCa(dir, "ca");
  await makeCertificate(dir, "ca", "server", "serverAuth");
  await makeCertificate(dir, "ca", "worker", "clientAuth");
  await makeCa(dir, "rogue-ca");
  await makeCertificate(dir, "rogue-ca", "rogue", "clientAuth");
  // The shipped TLS and accounts files, with the certificate folder moved to the test's.
  const tls = (await readFile(`${ROOT}deploy/nats/tls.conf`, "utf8")).replaceAll("/etc/nats/certs", dir);
  assert.ok(tls.includes(join(dir, "server-cert.pem")), "tls.conf names /etc/nats/certs/server-cert.pem");
  const accounts = await readFile(`${ROOT}deploy/nats/accounts.conf`, "utf8");
  server = await NatsServer.start({ extraConfig: `${tls}\n${accounts}` });
});

after(async () => {
  await Promise.all(workers.map((worker) => worker.kill()));
  await server?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("TLS between jetmesh processes and nats-server", { skip, timeout: 60_000 }, () => {
  const tlsAs = (user: string, password: string): ConnectionSettings => ({
    servers: server.url,
    user,
    password,
    tlsCaFile: join(dir, "ca.pem"),
    tlsCertFile: join(dir, "worker-cert.pem"),
    tlsKeyFile: join(dir, "worker-key.pem"),
  });

  test("a worker with NATS_TLS_CA, NATS_TLS_CERT and NATS_TLS_KEY runs a job", async () => {
    const admin = await JetmeshClient.connect({
      connection: tlsAs("control-plane", "jetmesh-control-plane-dev"),
    });
    try {
      const queue = uniqueName("tls");
      await admin.queues.declare(queue);
      const events: LifecycleEvent[] = [];
      admin.nc.subscribe(`jetmesh.evt.${queue}.*`, {
        callback: (_error, msg) => {
          events.push(...parseLifecycleEvents(msg.data));
        },
      });
      await admin.nc.flush();
      const worker = await WorkerProcess.start(server.url, {
        NATS_USER: "worker",
        NATS_PASSWORD: "jetmesh-worker-dev",
        NATS_TLS_CA: join(dir, "ca.pem"),
        NATS_TLS_CERT: join(dir, "worker-cert.pem"),
        NATS_TLS_KEY: join(dir, "worker-key.pem"),
        JETMESH_QUEUES: queue,
        JETMESH_HANDLERS: "workers/handlers/examples.ts",
      });
      workers.push(worker);
      const { jobId } = await admin.enqueue(queue, "email.send", { to: "tls@example.com", subject: "hi" });
      await waitFor(
        () => events.some((event) => event.jobId === jobId && event.type === "completed"),
        "the job to complete over TLS",
        15_000,
      );
      await worker.kill("SIGTERM");
      assert.equal((await worker.exited).code, 0);
    } finally {
      await admin.close();
    }
  });

  test("a plaintext client is refused", async () => {
    const { text, closedByServer } = await plaintextConversation(server.port);
    assert.match(text, /"tls_required":\s*true/, "the server announces that TLS is required");
    assert.ok(closedByServer, "the server closes a connection that speaks plaintext after INFO");
    assert.doesNotMatch(text, /PONG|\+OK/, "no plaintext session was established");
    await waitFor(
      () => /TLS handshake error/.test(server.log),
      "the server to log the failed handshake",
      5000,
    );
  });

  test("a client without a certificate is refused (verify: true)", async () => {
    await assert.rejects(
      connect({
        servers: server.url,
        user: "worker",
        pass: "jetmesh-worker-dev",
        tls: { caFile: join(dir, "ca.pem") },
        reconnect: false,
      }),
    );
    await waitFor(
      () => /TLS handshake error: tls: client didn't provide a certificate/.test(server.log),
      "the server to log the missing certificate",
      5000,
    );
  });

  test("a client whose certificate comes from another CA is refused", async () => {
    await assert.rejects(
      connect({
        servers: server.url,
        user: "worker",
        pass: "jetmesh-worker-dev",
        tls: {
          caFile: join(dir, "ca.pem"),
          certFile: join(dir, "rogue-cert.pem"),
          keyFile: join(dir, "rogue-key.pem"),
        },
        reconnect: false,
      }),
    );
    await waitFor(
      () => /TLS handshake error: .*(unknown authority|verify)/.test(server.log),
      "the server to log the untrusted certificate",
      5000,
    );
  });

  test("a client that does not trust the server's CA refuses the server", async () => {
    await assert.rejects(
      connect({
        servers: server.url,
        user: "worker",
        pass: "jetmesh-worker-dev",
        tls: {
          caFile: join(dir, "rogue-ca.pem"),
          certFile: join(dir, "worker-cert.pem"),
          keyFile: join(dir, "worker-key.pem"),
        },
        reconnect: false,
      }),
      /certificate/i,
    );
  });
});
