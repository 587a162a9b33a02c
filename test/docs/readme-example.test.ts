// The README's example is run as written against a real server, so the first code a newcomer
// copies cannot drift from the library.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { NatsServer } from "../support/harness.ts";

test("the README's producer-and-worker example runs and completes its jobs", async () => {
  const readme = await readFile("README.md", "utf8");
  const example = /## A producer and a worker[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, "README.md has the example under '## A producer and a worker'");
  const runtime = pathToFileURL(resolve("runtime/index.ts")).href;
  const dir = await mkdtemp(join(tmpdir(), "jetmesh-readme-"));
  const file = join(dir, "example.mts");
  await writeFile(file, example.replace('"./runtime/index.ts"', JSON.stringify(runtime)));
  const server = await NatsServer.start();
  try {
    const child = spawn(process.execPath, ["--import", "tsx", file], {
      env: { ...process.env, NATS_URL: server.url, JETMESH_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const [code] = await once(child, "exit");
    clearTimeout(timer);
    assert.equal(code, 0, output);
    assert.equal(output.match(/^completed /gm)?.length, 2, output);
    assert.match(output, /^first job was [0-9a-f-]{36}$/m);
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
