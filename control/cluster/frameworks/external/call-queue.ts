import { type Coordinator, ROUND_COALESCE_MS, Rollback } from "../../coordinator.ts";
import type { CommandContext, Failure, Outcome } from "../marathon/commands.ts";
import type { SchedulerCall } from "./calls.ts";
import type { FrameworkMailbox } from "./mailbox.ts";
import { acknowledgeCall, type Callers, schedulerCall } from "./scheduler.ts";

/** What a scheduler call answers: 202 (UPDATE_FRAMEWORK 200), or a failure to render. */
export type CallResult = Outcome<{ status: 200 | 202; closeStream?: boolean }>;

/**
 * How soon after a batch of answers to offers (ACCEPTs, DECLINEs) the allocation round comes.
 * What they free is only for the other frameworks (the leftovers of an accepted offer and the
 * declined agents are refused to the caller for its filter's refuse_seconds, whose end brings a
 * round of its own), which Mesos offers at its next batch allocation, a second later by
 * default. A framework answers one OFFERS event with a burst of calls over tens to hundreds of
 * milliseconds: coalesced over this window, the burst costs a few rounds rather than one every
 * ROUND_COALESCE_MS, each reading every framework's state while the framework's launches wait.
 */
export const OFFER_ANSWER_ROUND_MS = 100;

/** Calls that only answer offers: what they free waits for OFFER_ANSWER_ROUND_MS. */
const ANSWERS: ReadonlySet<string> = new Set(["ACCEPT", "DECLINE"]);

/**
 * How soon the batch's round must come: none for acknowledgements alone (an ack frees and asks
 * for nothing), OFFER_ANSWER_ROUND_MS for answers to offers, the usual coalescing for any other
 * call (a REVIVE, a KILL, a SUPPRESS...).
 */
export function roundDelay(batch: readonly { call: SchedulerCall }[]): number | null {
  let delay: number | null = null;
  for (const { call } of batch) {
    if (call.type === "ACKNOWLEDGE") continue;
    if (!ANSWERS.has(call.type)) return ROUND_COALESCE_MS;
    delay = OFFER_ANSWER_ROUND_MS;
  }
  return delay;
}

interface QueuedCall {
  call: SchedulerCall;
  streamId: string;
  resolve(result: CallResult): void;
  reject(err: unknown): void;
}

/**
 * Scheduler calls (every one but SUBSCRIBE) that reach the object together are applied
 * together (group commit, as agents' status frames are): a call waits one turn of the event
 * loop for the calls delivered behind it, and while a batch commits the next one gathers, so a
 * framework's concurrent ACCEPTs and ACKNOWLEDGEs cost one transaction, and at most one
 * coalesced round, instead of one each. Each call still gets its own answer: it runs in its own
 * savepoint, and one that fails is undone alone (its writes, launches, kills and framework
 * events; a call fails before it raises anything else) while the others land. Nothing is answered before the batch is committed. A batch that fails whole (an
 * exception, or the cluster's quota check refusing it) is run again one call at a time, so a
 * bad call cannot cost its neighbours theirs.
 */
export class SchedulerCallQueue {
  private queue: QueuedCall[] = [];
  private draining: Promise<void> | undefined;
  /** Transactions run for scheduler calls (tests read it: concurrent calls share one). */
  transactions = 0;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly storage: DurableObjectStorage,
    private readonly mail: FrameworkMailbox,
  ) {}

  /** Queues a call; settles once the transaction that applied it has committed. */
  submit(call: SchedulerCall, streamId: string): Promise<CallResult> {
    return new Promise<CallResult>((resolve, reject) => {
      this.queue.push({ call, streamId, resolve, reject });
      this.draining ??= new Promise<void>((r) => setTimeout(r, 0)).then(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    const batch = this.queue;
    // Calls arriving while this batch commits form the next one.
    this.queue = [];
    this.draining = undefined;
    try {
      const results = await this.apply(batch);
      if (Array.isArray(results)) return batch.forEach((q, i) => q.resolve(results[i] as CallResult));
      // Refused whole: alone, that is the call's own failure.
      if (batch.length === 1) return batch[0]?.resolve(results);
    } catch (err) {
      if (batch.length === 1) return batch[0]?.reject(err);
    }
    for (const q of batch) {
      try {
        const results = await this.apply([q]);
        q.resolve(Array.isArray(results) ? (results[0] as CallResult) : results);
      } catch (err) {
        q.reject(err);
      }
    }
  }

  /** The calls in one transaction, each in its own savepoint: their results, or the failure that refused the batch whole. */
  private apply(batch: QueuedCall[]): Promise<CallResult[] | Failure> {
    this.transactions++;
    return this.coordinator.mutateSoon((ctx): CallResult[] | Failure => {
      const callers: Callers = new Map();
      return batch.map((q) => this.one(ctx, q, callers));
    }, roundDelay(batch));
  }

  private one(ctx: CommandContext, q: QueuedCall, callers: Callers): CallResult {
    // An acknowledgement fails before it writes: it needs no savepoint (scheduler.ts, acknowledgeCall).
    if (q.call.type === "ACKNOWLEDGE") return acknowledgeCall(ctx, q.call, q.streamId, this.mail, callers);
    // Any other call may change the framework it acts for: acknowledgements after it look it up again.
    callers.clear();
    const launched = ctx.launched.length;
    const killed = ctx.killed.length;
    const restoreMail = this.mail.checkpoint();
    try {
      return this.storage.transactionSync(() => {
        const r = schedulerCall(ctx, q.call, q.streamId, this.mail);
        if (!r.ok) throw new Rollback(r);
        return r;
      });
    } catch (err) {
      if (!(err instanceof Rollback)) throw err;
      ctx.launched.length = launched;
      ctx.killed.length = killed;
      restoreMail();
      return err.failure;
    }
  }
}
