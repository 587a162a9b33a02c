// Child process of results.test.ts: enqueues a job nobody runs, lets result() time out, closes
// the client and returns. It never calls process.exit, so it exits only if result() left nothing
// (watch, timer) keeping the event loop alive.
import { JetmeshClient, ResultTimeoutError } from "../../runtime/index.ts";

const client = await JetmeshClient.connect({ connection: { servers: process.env.NATS_URL ?? "" } });
const { jobId } = await client.enqueue(process.env.QUEUE ?? "", "double", { n: 1 }, { result: true });
try {
  await client.result(jobId, { timeoutMs: 200 });
  console.log("unexpected result");
} catch (error) {
  console.log(error instanceof ResultTimeoutError ? `ResultTimeoutError ${error.lastState}` : String(error));
}
await client.close();
