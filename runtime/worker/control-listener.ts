// Answers control commands broadcast on `<prefix>.ctl.>`: applies them at once (the bucket's
// watch would get there too, a moment later) and tells the issuer what they changed here.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { jobKey } from "../client/job-id.ts";
import { type CommandAck, type ControlCommand, ControlKey } from "../wire/control.ts";
import type { Subjects } from "../wire/subjects.ts";
import type { ControlState } from "./control-state.ts";

export interface ControlTarget {
  readonly workerId: string;
  serves(queue: string): boolean;
  /** Aborts the job if it runs here; returns whether it did. */
  cancelRunning(jobKey: string): boolean;
}

export class ControlListener {
  #subscription: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly state: ControlState,
    private readonly target: ControlTarget,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.#subscription = this.nc.subscribe(this.subjects.control(">"), {
      callback: (_error, msg) => {
        let command: ControlCommand;
        try {
          command = msg.json<ControlCommand>();
        } catch {
          this.logger.warn({ subject: msg.subject }, "ignored an unreadable control command");
          return;
        }
        const result = this.#apply(command);
        if (result !== undefined && msg.reply) {
          const ack: CommandAck = { commandId: command.id, workerId: this.target.workerId, result };
          msg.respond(JSON.stringify(ack));
        }
      },
    });
  }

  /** What the command changed on this worker; undefined when it is addressed to another worker. */
  #apply(command: ControlCommand): string | undefined {
    const { workerId } = this.target;
    switch (command.type) {
      case "pause":
      case "resume": {
        if (command.workerId !== undefined && command.workerId !== workerId) return undefined;
        if (!this.target.serves(command.queue)) return "not serving this queue";
        const key =
          command.workerId === undefined
            ? ControlKey.pausedQueue(command.queue)
            : ControlKey.pausedOnWorker(command.queue, workerId);
        this.state.applyHint(key, command.type === "pause");
        return command.type === "pause" ? "paused" : "resumed";
      }
      case "cancel": {
        const key = jobKey(command.jobId);
        this.state.applyHint(ControlKey.cancelledJob(key), true);
        return this.target.cancelRunning(key) ? "aborted the running job" : "not running here";
      }
      case "drain":
        if (command.workerId !== workerId) return undefined;
        this.state.applyHint(ControlKey.drain(workerId), true);
        return "draining";
      default:
        return undefined;
    }
  }

  stop(): void {
    this.#subscription?.unsubscribe();
  }
}
