// Serves a worker's queues from ONE budget of slots, giving each freed slot to the queue the
// priority order picks among those with jobs (docs/priorities.md). It learns which queues have
// jobs without pulling jobs it cannot start: a queue believed empty keeps one waiting pull
// request for a single job; a queue with jobs is asked, with a no-wait pull, only for the slots
// it was given. A job that arrives while every slot is busy is parked (at most one per queue) and
// takes the next slot to free, so a high job waits for at most the one slot already promised.
// Each queue has at most one pull on its way: slots that free meanwhile wait for its answer.
// A rate-limited queue's lane has a start gate (docs/rate-limits.md): it is given no more slots
// than its limit allows, and a job its gate refuses waits, unstarted, without taking a slot.
import type { Delivery } from "../jetstream/delivery.ts";
import { Puller, type PullRequest } from "../jetstream/puller.ts";
import type { FetcherOptions } from "./fetcher.ts";
import type { Lease, LeaseKeeper } from "./lease-keeper.ts";
import { type PriorityOption, type SlotOrder, slotOrder } from "./priority-order.ts";
import type { GatedFetcher, StartGate } from "./start-gate.ts";

/** What the worker needs of a queue's fetcher, whether it has slots of its own or shares them. */
export interface QueueFetcher extends GatedFetcher {
  readonly running: number;
  readonly concurrency: number;
  readonly paused: boolean;
  start(): void;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export interface PriorityFetcherOptions {
  /** The worker's queues, highest priority first (the order strict priority follows). */
  queues: readonly string[];
  priority: PriorityOption;
  /** Slots shared by all the queues. */
  concurrency: number;
}

/** A waiting job whose lease was renewed longer ago than this is renewed once more as it starts. */
const RENEW_ON_START_MS = 1000;

interface Waiting {
  delivery: Delivery;
  lease: Lease;
}

/** Ends a wait under a lease: the runner's lease starts now, so the server's must not be much older. */
function endWait({ delivery, lease }: Waiting, leases: LeaseKeeper): void {
  leases.release(lease);
  if (Date.now() - lease.renewedAt > RENEW_ON_START_MS) delivery.working();
}

export class PriorityFetcher {
  readonly #order: SlotOrder;
  readonly #lanes: QueueLane[] = [];
  #running = 0;

  constructor(private readonly options: PriorityFetcherOptions) {
    this.#order = slotOrder(options.priority, options.queues);
  }

  get concurrency(): number {
    return this.options.concurrency;
  }

  /** The fetcher of one queue; the FetcherOptions' own concurrency and prefetch do not apply. */
  lane(queue: string, options: FetcherOptions): QueueFetcher {
    const index = this.options.queues.indexOf(queue);
    const lane = new QueueLane(this, index, queue, options);
    this.#lanes[index] = lane;
    return lane;
  }

  /** Hands out free slots again, e.g. after a lane's start gate has permits again. */
  wake(): void {
    this.plan();
  }

  /** Slots neither running a job nor promised to a no-wait pull still on its way. */
  #free(): number {
    let free = this.options.concurrency - this.#running;
    for (const lane of this.#lanes) free -= lane.reserved;
    return free;
  }

  /**
   * How many of `free` slots this queue could use now: all of them without a gate; with one, what
   * its limit allows beyond the jobs pulled for it and not started, and no more than would make
   * its refused jobs outnumber the slots: that bounds the jobs waiting under leases.
   */
  #room(lane: QueueLane, free: number): number {
    const gate = lane.gate;
    if (gate === undefined) return free;
    const unheld = this.options.concurrency - lane.held;
    return unheld <= 0 ? 0 : gate.pullable(Math.min(free, unheld), lane.reserved + lane.held);
  }

  /**
   * Gives the free slots to queues in priority order, then makes sure every queue that is not
   * known to have jobs is watched, so a job arriving there is noticed at once.
   */
  plan(): void {
    // Until the worker has started every queue, a slot could go to whichever started first.
    if (this.#lanes.length < this.options.queues.length || this.#lanes.some((lane) => !lane.started)) return;
    const active = this.#lanes.filter((lane) => lane.active);
    const free = this.#free();
    if (free > 0) {
      if (this.#order.strict) this.#planStrict(active, free);
      else this.#planWeighted(active, free);
    }
    for (const lane of active) {
      if (!lane.hasWork && lane.parked === undefined) lane.watch();
    }
  }

  #planStrict(active: QueueLane[], free: number): void {
    let lastServed = -1;
    for (const lane of active) {
      if (lane.held > 0 && free > 0) {
        const admitted = this.#admitHeld(lane, free);
        free -= admitted;
        if (admitted > 0) lastServed = lane.index;
      }
      if (free <= 0) break;
      let room = this.#room(lane, free);
      if (room <= 0) continue;
      if (lane.parked !== undefined) {
        if (this.#startParked(lane)) free--;
        room--;
        lastServed = lane.index;
      }
      if (!lane.hasWork) continue;
      // Its pull is on its way: the slot waits for the answer rather than go to a lower queue.
      if (lane.probing) return;
      if (room > 0) {
        lane.probe(room);
        free -= room;
        lastServed = lane.index;
      }
    }
    // A job parked by a lower queue would wait behind the higher one's backlog under a lease that
    // counts against its queue: return it (no attempt charged) and pull it again in its turn.
    // Jobs a gate refused stay: handed back, each would be delivered again for nothing.
    if (free <= 0) {
      for (const lane of active) {
        if (lane.index > lastServed && lane.parked !== undefined) lane.handBackParked();
      }
    }
  }

  #planWeighted(active: QueueLane[], free: number): void {
    // Jobs a gate refused and now admits were pulled in an earlier turn: they go first.
    for (const lane of active) {
      if (lane.held > 0 && free > 0) free -= this.#admitHeld(lane, free);
    }
    const asked = new Map<QueueLane, number>();
    const rooms = new Map(active.map((lane) => [lane, free > 0 ? this.#room(lane, free) : 0]));
    while (free > 0) {
      const candidates = active
        .filter((lane) => (lane.parked !== undefined || lane.hasWork) && (rooms.get(lane) as number) > 0)
        .map((lane) => lane.index);
      if (candidates.length === 0) break;
      const index = this.#order.pick(candidates);
      const lane = this.#lanes[index] as QueueLane;
      if (lane.parked !== undefined) {
        // Refused by its gate, it waits without the slot.
        if (this.#startParked(lane)) free--;
      } else if (lane.probing) {
        // As in strict order, the slot waits for the answer of the pull on its way; the pick
        // is taken back so the queue keeps its turn.
        this.#order.unpick(index, candidates);
        break;
      } else {
        asked.set(lane, (asked.get(lane) ?? 0) + 1);
        free--;
      }
      rooms.set(lane, (rooms.get(lane) as number) - 1);
    }
    for (const [lane, count] of asked) lane.probe(count);
  }

  /** Starts, oldest first and in at most `free` slots, the lane's refused jobs its gate now admits. */
  #admitHeld(lane: QueueLane, free: number): number {
    const gate = lane.gate;
    let taken = 0;
    const admitted = lane.takeHeld((delivery) => {
      if (taken >= free || (gate !== undefined && !gate.admit(delivery))) return false;
      taken++;
      return true;
    });
    for (const delivery of admitted) this.#dispatch(lane, delivery);
    return admitted.length;
  }

  /** A job arrived for a lane: start it if a slot is free for it, else hold or return it. */
  arrive(lane: QueueLane, delivery: Delivery): void {
    if (!lane.active) {
      lane.options.handBack(delivery);
      return;
    }
    if (lane.watching) {
      // The waiting request was for one job and is now filled: the queue has jobs again.
      lane.watching = false;
      lane.hasWork = true;
    }
    if (this.#free() <= 0) {
      if (lane.parked === undefined) lane.park(delivery);
      else lane.options.handBack(delivery);
      return;
    }
    // A higher queue's job arrived while this slot's pull was on its way: the slot is its.
    const higher = this.#order.strict
      ? this.#lanes.find(
          (other) =>
            other.index < lane.index &&
            other.active &&
            other.parked !== undefined &&
            this.#room(other, 1) > 0,
        )
      : undefined;
    if (higher !== undefined && this.#startParked(higher)) {
      lane.options.handBack(delivery);
      return;
    }
    // Refused by its gate, it waits without the slot: the pull's end hands the slot out again.
    this.#start(lane, delivery);
  }

  /** A pull request of a lane ended: learn from how it ended, then hand out slots again. */
  ended(lane: QueueLane, request: PullRequest | undefined): void {
    lane.settleIdle();
    if (request === undefined) {
      // All requests were dropped (reconnect): whether the queue has jobs is unknown, so ask.
      lane.watching = false;
      lane.hasWork = true;
    } else if (lane.watching) {
      lane.watching = false; // expired empty: watch again
    } else if (request.received < request.count) {
      lane.hasWork = false;
      this.#order.forget(lane.index);
    }
    this.plan();
  }

  /** Starts the job parked for a slot, or holds it if the lane's gate refuses it. */
  #startParked(lane: QueueLane): boolean {
    const parked = lane.parked as Waiting;
    lane.parked = undefined;
    endWait(parked, lane.options.leases);
    return this.#start(lane, parked.delivery);
  }

  /**
   * Starts a job its lane's gate admits. One it refuses is held unstarted under its lease (a nak
   * would charge it a delivery) and leaves its slot free for the other queues.
   */
  #start(lane: QueueLane, delivery: Delivery): boolean {
    if (lane.gate !== undefined && !lane.gate.admit(delivery)) {
      lane.hold(delivery);
      return false;
    }
    this.#dispatch(lane, delivery);
    return true;
  }

  #dispatch(lane: QueueLane, delivery: Delivery): void {
    lane.running++;
    this.#running++;
    lane.options.dispatch(delivery).finally(() => {
      lane.running--;
      this.#running--;
      lane.settleIdle();
      this.plan();
    });
  }
}

/** One queue's side of the shared slots: its puller, what is known of its backlog, its waiting jobs. */
class QueueLane implements QueueFetcher {
  running = 0;
  started = false;
  stopped = false;
  #paused = false;
  /** Believed to have jobs: ask for them with no-wait pulls when given slots. */
  hasWork = true;
  /** The one outstanding request is a waiting pull for a single job (the queue looked empty). */
  watching = false;
  /** A job that arrived while every slot was busy: it takes the next slot this queue is given. */
  parked: Waiting | undefined;
  /** Absent unless a rate limit applies to the queue. */
  gate: StartGate | undefined;
  /** Delivered jobs the gate refused, oldest first; they wait for a permit without taking a slot. */
  #held: Waiting[] = [];
  readonly #puller: Puller;
  #idle: (() => void) | undefined;

  constructor(
    private readonly pool: PriorityFetcher,
    readonly index: number,
    readonly queue: string,
    readonly options: FetcherOptions,
  ) {
    this.#puller = new Puller(options.nc, {
      stream: options.stream,
      consumer: options.consumer,
      onDelivery: (delivery) => pool.arrive(this, delivery),
      onWarning: (message) => options.logger.warn(message),
    });
  }

  get concurrency(): number {
    return this.pool.concurrency;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get held(): number {
    return this.#held.length;
  }

  setGate(gate: StartGate | undefined): void {
    if (this.gate !== undefined) this.gate.onReady = undefined;
    this.gate = gate;
    if (gate !== undefined) gate.onReady = () => this.pool.wake();
    this.pool.wake();
  }

  get active(): boolean {
    return this.started && !this.#paused && !this.stopped;
  }

  /** Slots promised to this queue's no-wait pulls still on their way. */
  get reserved(): number {
    return this.watching ? 0 : this.#puller.requested;
  }

  /** A no-wait pull is on its way. */
  get probing(): boolean {
    return !this.watching && this.#puller.pendingRequests > 0;
  }

  /**
   * One pull at a time per queue: the server's statuses (404, 408) do not say which request they
   * end, so with two outstanding the end of one could be taken for the other's.
   */
  probe(count: number): void {
    this.#puller.request(count, { noWait: true });
  }

  watch(): void {
    if (this.watching || this.#puller.pendingRequests > 0) return;
    this.watching = true;
    this.#puller.request(1);
  }

  // A wait's lease is lost only if the event loop stalls past the ack wait: JetStream redelivers
  // the job, so it is dropped.
  park(delivery: Delivery): void {
    const parked: Waiting = {
      delivery,
      lease: this.options.leases.hold(delivery, () => {
        if (this.parked === parked) this.parked = undefined;
      }),
    };
    this.parked = parked;
  }

  hold(delivery: Delivery): void {
    const held: Waiting = {
      delivery,
      lease: this.options.leases.hold(delivery, () => {
        this.#held = this.#held.filter((entry) => entry !== held);
      }),
    };
    this.#held.push(held);
  }

  /** Takes out, oldest first, the held jobs `admit` lets start; their wait under lease ends. */
  takeHeld(admit: (delivery: Delivery) => boolean): Delivery[] {
    const admitted: Delivery[] = [];
    this.#held = this.#held.filter((entry) => {
      if (!admit(entry.delivery)) return true;
      endWait(entry, this.options.leases);
      admitted.push(entry.delivery);
      return false;
    });
    return admitted;
  }

  handBackParked(): void {
    if (this.parked === undefined) return;
    this.hasWork = true;
    this.#handBack([this.parked]);
    this.parked = undefined;
  }

  /** Returns every waiting job (pause, stop) without charging it an attempt. */
  #handBackWaiting(): void {
    const waiting = this.parked === undefined ? this.#held : [this.parked, ...this.#held];
    this.parked = undefined;
    this.#held = [];
    if (waiting.length > 0) this.hasWork = true;
    this.#handBack(waiting);
  }

  #handBack(waiting: readonly Waiting[]): void {
    for (const { delivery, lease } of waiting) {
      this.options.leases.release(lease);
      this.options.handBack(delivery);
    }
  }

  start(): void {
    this.started = true;
    this.#puller.start((ended) => this.pool.ended(this, ended));
    this.pool.plan();
  }

  /** Stops taking slots (running jobs finish, waiting ones are handed back); resume() continues. */
  pause(): void {
    this.#paused = true;
    // Unlike stop(), nothing waits for the pulls on their way: what they bring is handed back.
    this.#puller.abandonRequests();
    this.watching = false;
    this.#handBackWaiting();
    this.pool.plan();
  }

  resume(): void {
    this.#paused = false;
    this.hasWork = true;
    this.pool.plan();
  }

  /**
   * Stops taking slots and resolves once no job runs. No-wait pulls on their way are let end (a
   * round trip) rather than abandoned, so what they bring is handed back before the worker
   * waits for its hand-backs; a waiting pull is abandoned, as it could wait for its expiry.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watching) this.#puller.abandonRequests();
    this.watching = false;
    this.#handBackWaiting();
    if (!this.#isIdle()) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
    }
    await this.#puller.close();
  }

  #isIdle(): boolean {
    return this.running === 0 && this.#puller.pendingRequests === 0;
  }

  /** A job finished or a pull ended: a stopping lane may now be done. */
  settleIdle(): void {
    if (this.stopped && this.#isIdle()) this.#idle?.();
  }
}
