// Helpers for the scheduling tests: the jobs a queue holds, read without consuming them.
import type { JetStreamManager } from "@nats-io/jetstream";

export interface QueuedJob {
  jobId: string;
  subject: string;
  dueAt: number | undefined;
  scheduleId: string | undefined;
}

/** Every job stored in a queue stream, in stream order (nothing consumes them in these tests). */
export async function queuedJobs(jsm: JetStreamManager, stream: string): Promise<QueuedJob[]> {
  const { state } = await jsm.streams.info(stream);
  const jobs: QueuedJob[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg === null) continue;
    const due = msg.header.get("Jetmesh-Due-At");
    jobs.push({
      jobId: msg.header.get("Jetmesh-Job-Id"),
      subject: msg.subject,
      dueAt: due === "" ? undefined : Number(due),
      scheduleId: msg.header.get("Jetmesh-Schedule-Id") || undefined,
    });
  }
  return jobs;
}
