import { CloseCode, isAlive, isTerminal, launchFrameTexts, type StatusUpdate, type TaskReport } from "../../protocol/index.ts";
import { type RoundResult, allocationRound } from "./allocator/round.ts";
import type { ClusterDb } from "./db.ts";
import type { EventBus } from "./events.ts";
import { DEFAULT_KILL_GRACE_MS, type FrameworkContext } from "./frameworks/framework.ts";
import type { CommandContext, Failure, Outcome } from "./frameworks/marathon/commands.ts";
import { type CheckUpdate, applyCheckResults, isCheckResult } from "./frameworks/marathon/health.ts";
import { expireUnreachable } from "./frameworks/marathon/task-events.ts";
import type { FrameworkLookup, FrameworkRegistry } from "./frameworks/registry.ts";
import { type AgentLink, type AgentLinks, closeQuietly, send, sendText } from "./sessions.ts";
import { type ApplyResult, applyStatusBatches, hasLiveTasks, liveTaskDigest, liveTasks, markKillRequested, setTaskState, type TaskRecord } from "./tasks.ts";
import { increment } from "./meta.ts";
import { ALLOCATE_TIMER, type AlarmArm, scheduleAt, scheduleNoLaterThan } from "./timers.ts";

/**
 * Status updates schedule a round this far ahead rather than at once, so a burst of frames
 * from many agents is answered by one round instead of one each.
 */
export const ROUND_COALESCE_MS = 25;
/**
 * A status frame arriving this long after the last batch was committed finds the inbox idle and
 * is committed at once; within it, the cluster is busy and frames gather for a turn first.
 */
const INBOX_QUIET_MS = 5;
/**
 * The longest a command's answer waits for its launch frames' delivery RPCs (see `mutate`):
 * locally they take a fraction of a millisecond; a gateway that does not answer must not hold the API.
 */
const LAUNCH_SEND_WAIT_MS = 50;
export const UNREACHABLE_TIMER = "unreachable";
/**
 * Tasks one allocation round launches at most; the rest follow in the next round, at once.
 * Bounds a round's transaction, CPU (wrangler.toml `limits.cpu_ms`) and heap when a tenant asks
 * for a very large scale-up in one request. Large, because a spreading planner gives each agent
 * about cap ÷ agents tasks a round, and every launch frame costs a status frame and an ack: at
 * 9,000 agents a cap of 5,000 meant one task per frame, three messages per task. The round holds
 * each launch as its row (about half a kilobyte) and builds its frame only as it is sent.
 */
export const MAX_LAUNCHES_PER_ROUND = 50_000;

/** A status frame waiting in the inbox. */
interface InboundStatus {
  ws: AgentLink;
  agentId: string;
  updates: StatusUpdate[];
}

/** Told what each commit did, once it is committed (the cluster's metrics). */
export interface CoordinatorObserver {
  /** A committed round, and its time in seconds by the runtime's clock. */
  round(result: RoundResult, seconds: number): void;
  /** Committed status updates: how each was taken (`applied`, `duplicate`, …), and the lag in seconds of those applied. */
  statusUpdates(taken: readonly string[], lagsSeconds: readonly number[]): void;
}

/** What one batch of status frames did, for the observer. */
interface StatusTally {
  taken: string[];
  lags: number[];
}

/** Thrown inside a transaction (or a savepoint) to roll it back when a command fails; carries the failure to answer. */
export class Rollback extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

/**
 * Runs every change of cluster state the same way: the change and the allocation round it
 * causes in ONE storage transaction, then (only after commit) the frames to agents and the
 * events to subscribers. Nothing is announced that was not written.
 */
export class Coordinator {
  /** Status frames received and not yet committed, in arrival order. */
  private inbox: InboundStatus[] = [];
  /** Settles once the inbox as it is now is committed and acked. */
  private inboxCommitted: Promise<void> | undefined;
  /** When the last batch of status frames began its commit (Date.now()). */
  private inboxCommittedAt = Number.NEGATIVE_INFINITY;
  /**
   * Whether the last committed round left demand that more resources could serve (instances it
   * could not place or held back, frameworks taking offers). Unknown after a restart: true.
   */
  private demandWaiting = true;

  constructor(
    private readonly state: DurableObjectState,
    private readonly db: ClusterDb,
    readonly events: EventBus,
    private readonly alarm: AlarmArm,
    private readonly sockets: AgentLinks,
    private readonly frameworks: FrameworkRegistry,
    /** Called after every committed change (e.g. to drop the cached DNS zone). */
    private readonly onCommit: () => void = () => {},
    private readonly observer?: CoordinatorObserver,
  ) {}

  /**
   * Checked around every command, inside its transaction (the cluster's quotas): called before
   * the command, it returns the check to run after it; a Failure from that rolls the command back.
   */
  guard: ((db: ClusterDb) => () => Failure | undefined) | undefined;

  /** Events gathered during a command (the operator API's stream): sent after its commit, dropped with a rollback. */
  feed: { flush(): void; discard(): void } | undefined;

  /** Runs `fn` and a round in one transaction; a failed Outcome rolls everything back. */
  async mutate<T>(fn: (ctx: CommandContext) => T, runRound = true): Promise<T> {
    const ctx: CommandContext = { db: this.db, events: this.events, now: Date.now(), killed: [], launched: [] };
    let round: RoundResult | undefined;
    let roundSeconds = 0;
    let value: T;
    try {
      value = this.state.storage.transactionSync(() => {
        const check = this.guard?.(ctx.db);
        const v = fn(ctx);
        if (isFailure(v)) throw new Rollback(v);
        const refused = check?.();
        if (refused) throw new Rollback(refused);
        // A command's own launches are the framework's news too (TASK_STAGING), as a round's are.
        const frameworkOf = this.frameworks.cached(ctx.db);
        for (const { record } of ctx.launched) frameworkOf(record.framework)?.statusChanged(ctx, record);
        frameworkOf.settle(ctx);
        if (runRound) {
          const started = performance.now();
          round = this.round(ctx.now);
          roundSeconds = (performance.now() - started) / 1000;
        }
        return v;
      });
    } catch (err) {
      this.events.discard();
      this.frameworks.mailbox.discard();
      this.feed?.discard();
      if (err instanceof Rollback) return err.failure as T;
      throw err;
    }
    this.onCommit();
    if (round) this.demandWaiting = round.waiting;
    if (round) this.observer?.round(round, roundSeconds);
    // Everything this commit sends goes in this turn, before any await: agents answer launches at
    // once, and their replies must find every listener (event subscribers, frameworks, the
    // operator feed) already told of this commit, in commit order.
    this.events.flush();
    this.frameworks.mailbox.flush();
    this.feed?.flush();
    // A command that launched tasks answers once their frames had their gateways' delivery RPC:
    // the commit releases the answer and those RPCs together, and the runtime ran the caller's
    // response (its JSON, its compression) before the gateway's socket send, 0.5-1 ms on every
    // launch's way to its agent. The answer comes about 0.1 ms later instead.
    if (this.dispatch(round, ctx) && runRound) await this.launchesSent();
    // The alarm is armed once those sends are out: a task's TASK_RUNNING does not wait for it.
    // Without a round (status batches, registrations) nothing answers the caller but those
    // sends, so they get a turn to leave; a command's answer waits only for the commit.
    await this.alarm.armAfterCommit(!runRound);
    return value;
  }

  /**
   * Runs `fn` in a transaction and leaves the round to the alarm, a few milliseconds later, as
   * status frames do: a framework answering a thousand offers with a thousand ACCEPTs costs a
   * few rounds, not a thousand. Launches and kills `fn` made are sent at once all the same.
   * `roundInMs`: how soon the round must come; null when the change frees and asks for nothing
   * (an ACKNOWLEDGE), so no round follows.
   */
  mutateSoon<T>(fn: (ctx: CommandContext) => T, roundInMs: number | null = ROUND_COALESCE_MS): Promise<T> {
    return this.mutate((ctx) => {
      const v = fn(ctx);
      if (roundInMs !== null && !isFailure(v)) scheduleNoLaterThan(ctx.db, ALLOCATE_TIMER, ctx.now + roundInMs);
      return v;
    }, false);
  }

  /** One allocation round plus its bookkeeping: finished deployments, events, the next wake-up. */
  private round(now: number): RoundResult {
    const r = allocationRound({ db: this.db, events: this.events, now }, this.frameworks.all(this.db), this.frameworks.offerTimeoutMs, MAX_LAUNCHES_PER_ROUND);
    if (r.wakeAt !== null) scheduleNoLaterThan(this.db, ALLOCATE_TIMER, r.wakeAt);
    return r;
  }

  /** Waits (at most LAUNCH_SEND_WAIT_MS) until the frames queued so far had their gateways' delivery RPC. */
  private async launchesSent(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, LAUNCH_SEND_WAIT_MS)));
    await Promise.race([this.sockets.sent(), bound]);
    clearTimeout(timer ?? null);
  }

  /**
   * Sends launch and kill frames: one of each per agent (launches split past the frame size
   * limit). Agents without a session get them on reconcile. Returns whether a launch frame went out.
   */
  private dispatch(round: RoundResult | undefined, ctx: CommandContext): boolean {
    const kills = [...(round?.killed ?? []), ...ctx.killed];
    const launches = new Map(round?.outbox.launches ?? []);
    for (const launched of ctx.launched) {
      const list = launches.get(launched.record.agentId);
      launches.set(launched.record.agentId, list ? [...list, launched] : [launched]);
    }
    if (launches.size === 0 && kills.length === 0) return false;
    const sockets = this.sockets.all();
    // Kills first: what they free may be what the launches were placed on.
    this.sendKills(sockets, kills);
    let sent = false;
    for (const [agentId, list] of launches) {
      const ws = sockets.get(agentId);
      if (!ws) continue;
      // Each agent's frames are built as they are sent, serialized once, and garbage once sent.
      for (const text of launchFrameTexts(list.map((l) => l.launch))) sendText(ws, text);
      sent = true;
    }
    return sent;
  }

  /** Kill frames, one per agent and grace: each task takes the grace its framework gives it. */
  private sendKills(sockets: ReadonlyMap<string, AgentLink>, kills: TaskRecord[]): void {
    const byAgentAndGrace = new Map<string, { agentId: string; grace: number; ids: string[] }>();
    const graceOf = new Map<string, number>();
    for (const t of kills) {
      // Tasks of one group and version share their grace: it is looked up once for them all.
      const graceKey = `${t.framework}\n${t.group}\n${t.version}`;
      let grace = graceOf.get(graceKey);
      if (grace === undefined) {
        grace = this.frameworks.of(this.db, t.framework)?.killGraceMs(this.db, t) ?? DEFAULT_KILL_GRACE_MS;
        graceOf.set(graceKey, grace);
      }
      const key = `${t.agentId}|${grace}`;
      const entry = byAgentAndGrace.get(key) ?? { agentId: t.agentId, grace, ids: [] };
      entry.ids.push(t.id);
      byAgentAndGrace.set(key, entry);
    }
    for (const { agentId, grace, ids } of byAgentAndGrace.values()) {
      const ws = sockets.get(agentId);
      if (ws) send(ws, { type: "kill", taskIds: ids, gracePeriodMs: grace });
    }
  }

  /**
   * A `status` frame: each update applied once, written before the ack goes out. Frames that
   * arrive together are committed together (group commit): when the cluster is busy (a batch
   * began within INBOX_QUIET_MS), the first waits a turn (`setTimeout` 0) for the frames
   * already queued behind it, and one transaction applies them all, in arrival order, before any
   * is acked; when it is idle, a lone frame (a task's TASK_RUNNING) is committed at once, in
   * this same event, instead of waiting for a timer. Updates for tasks the master has no place
   * for make the agent kill them. The round runs from the alarm, so a burst of frames costs one
   * round, not one each.
   */
  status(ws: AgentLink, agentId: string, updates: StatusUpdate[]): Promise<void> {
    this.inbox.push({ ws, agentId, updates });
    if (this.inboxCommitted) return this.inboxCommitted;
    const idle = Date.now() - this.inboxCommittedAt >= INBOX_QUIET_MS;
    const turn = idle ? Promise.resolve() : new Promise<void>((resolve) => setTimeout(resolve, 0));
    this.inboxCommitted = turn.then(() => this.commitInbox());
    return this.inboxCommitted;
  }

  private async commitInbox(): Promise<void> {
    this.inboxCommittedAt = Date.now();
    const frames = this.inbox;
    // Frames arriving while this batch commits form the next one.
    this.inbox = [];
    this.inboxCommitted = undefined;
    try {
      this.answer(frames, await this.applyFrames(frames));
    } catch {
      // The batch rolled back whole: one frame's failure must not cost the others theirs, so
      // each is applied alone, and only a frame that fails again is not acked.
      for (const frame of frames) {
        try {
          this.answer([frame], await this.applyFrames([frame]));
        } catch (err) {
          this.statusFailed(frame, err);
        }
      }
    }
  }

  /** Applies frames in one transaction; per frame, the task ids its agent must kill. */
  private async applyFrames(frames: InboundStatus[]): Promise<string[][]> {
    const tally: StatusTally = { taken: [], lags: [] };
    const unknown = await this.mutate((ctx) => {
      const frameworkOf = this.frameworks.cached(ctx.db);
      // Every frame's reads and writes in a few statements; then each frame's news in turn.
      const results = applyStatusBatches(ctx.db, frames, ctx.now);
      const applied = frames.map((f, i) => this.applyFrame(ctx, f, results[i] ?? [], tally, frameworkOf));
      frameworkOf.settle(ctx);
      if (applied.some((a) => a.wantsRound)) scheduleNoLaterThan(ctx.db, ALLOCATE_TIMER, ctx.now + ROUND_COALESCE_MS);
      return applied.map((a) => a.unknown);
    }, false);
    this.observer?.statusUpdates(tally.taken, tally.lags);
    return unknown;
  }

  /** After the commit: each frame acked on its own socket, and kills for tasks the master has no place for. */
  private answer(frames: InboundStatus[], unknown: string[][]): void {
    frames.forEach(({ ws, updates }, i) => {
      send(ws, { type: "ack", updateIds: updates.map((u) => u.updateId) });
      const kill = unknown[i] ?? [];
      if (kill.length > 0) send(ws, { type: "kill", taskIds: kill, gracePeriodMs: DEFAULT_KILL_GRACE_MS });
    });
  }

  /**
   * A frame that cannot be applied is not acked, and its session is closed: the agent
   * reconnects and resends its unacked updates, rather than waiting on an open socket forever.
   */
  private statusFailed({ ws, agentId, updates }: InboundStatus, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    console.error(JSON.stringify({ event: "status_apply_failed", agentId, updates: updates.length, message }));
    closeQuietly(ws, CloseCode.RETRY, "could not apply status updates; reconnect and resend");
  }

  /** One frame's applied updates, inside the batch's transaction, told to their frameworks: whether any asks for a round, and the ids the agent must kill. */
  private applyFrame(
    ctx: CommandContext,
    { updates }: InboundStatus,
    results: readonly ApplyResult[],
    tally: StatusTally,
    frameworkOf: FrameworkLookup,
  ): { wantsRound: boolean; unknown: string[] } {
    let wantsRound = false;
    const unknown: string[] = [];
    const checked: CheckUpdate[] = [];
    const judgedKills: string[] = [];
    updates.forEach((u, i) => {
      const r = results[i] ?? { kind: "duplicate" };
      tally.taken.push(r.kind);
      if (r.kind === "applied") {
        // A round follows when the change may give it work: see Framework.roundOnLiveChange.
        if (r.task.endedAt !== null || (frameworkOf(r.task.framework)?.roundOnLiveChange ?? true)) wantsRound = true;
        tally.lags.push((ctx.now - u.timestamp) / 1000);
        // A check result that leaves the state as it was is no status change to subscribers.
        if (!isCheckResult(u) || r.previous !== r.task.state) frameworkOf(r.task.framework)?.statusChanged(ctx, r.task, u);
        if (r.task.endedAt !== null) frameworkOf(r.task.framework)?.taskEnded(ctx, r.task, u);
        else if (isCheckResult(u)) {
          checked.push({ task: r.task, update: u });
          if (u.healthy !== undefined) judgedKills.push(...(frameworkOf(r.task.framework)?.healthResult?.(ctx, r.task, u) ?? []));
        }
      } else if (r.kind === "unknown" && isAlive(u.state)) {
        // Only what may be running is killed; answering a LOST with a kill would loop.
        unknown.push(u.taskId);
      }
    });
    ctx.killed.push(...applyCheckResults(ctx.db, this.events, checked, ctx.now), ...markKillRequested(ctx.db, judgedKills, ctx.now));
    return { wantsRound, unknown };
  }

  /**
   * On every (re)register: a task the master expects on the agent but the agent lacks is
   * TASK_LOST (and replaced); a task the agent runs that the master has no place for is
   * killed; a kill the agent may have missed is sent again. The allocation round is left to
   * the alarm, coalesced as status frames' are (a thousand agents joining cost a few rounds,
   * not a thousand), and is not asked for at all when nothing changed: no task state moved,
   * and either the agent offers nothing new or the last round left no demand waiting.
   * `resumeDigest` is the agent's digest of its live tasks (protocol/resume.ts): when this
   * table's record of the agent hashes the same, nothing is squared either.
   */
  async reconcile(ws: AgentLink, agentId: string, reported: TaskReport[], offersMore: boolean, resumeDigest?: string): Promise<void> {
    // An agent with no task on either side (every new agent), or whose tasks match the master's
    // record (a resume), has nothing to square: no command transaction, at most a round asked for.
    if (this.nothingToSquare(agentId, reported, resumeDigest)) {
      if (offersMore && this.demandWaiting) {
        scheduleNoLaterThan(this.db, ALLOCATE_TIMER, Date.now() + ROUND_COALESCE_MS);
        await this.alarm.arm();
      }
      return;
    }
    const onAgent = new Map(reported.map((t) => [t.taskId, t.state]));
    const stray: string[] = [];
    await this.mutate((ctx) => {
      const live = liveTasks(ctx.db, { agentId });
      const liveIds = new Set(live.map((t) => t.id));
      let changed = false;
      for (const t of live) {
        const state = onAgent.get(t.id);
        if (state === undefined) {
          const lost = setTaskState(ctx.db, t.id, "TASK_LOST", "task unknown to its agent after it re-registered", ctx.now, true);
          if (lost) this.taskEnded(ctx, lost, { state: "TASK_LOST", message: lost.message ?? "" });
          if (lost) this.statusChanged(ctx, lost);
          changed ||= lost !== undefined;
        } else if (t.killRequestedAt !== null) {
          ctx.killed.push(t);
        } else if (t.state === "TASK_UNREACHABLE" && !isTerminal(state)) {
          changed ||= setTaskState(ctx.db, t.id, state, "agent re-registered", ctx.now, false) !== undefined;
        }
      }
      for (const [taskId, state] of onAgent) if (!liveIds.has(taskId) && isAlive(state)) stray.push(taskId);
      if (changed || (offersMore && this.demandWaiting)) scheduleNoLaterThan(ctx.db, ALLOCATE_TIMER, ctx.now + ROUND_COALESCE_MS);
      return null;
    }, false);
    if (stray.length > 0) send(ws, { type: "kill", taskIds: stray, gracePeriodMs: DEFAULT_KILL_GRACE_MS });
  }

  /** Whether a register leaves nothing to reconcile: no task on either side, or a resume digest that matches. */
  private nothingToSquare(agentId: string, reported: TaskReport[], resumeDigest: string | undefined): boolean {
    if (resumeDigest === undefined) return reported.length === 0 && !hasLiveTasks(this.db, agentId);
    const resumed = liveTaskDigest(this.db, agentId) === resumeDigest;
    if (resumed) increment(this.db, "counter:slave_resumed");
    return resumed;
  }

  /** Agents just marked unreachable: their tasks follow each app's unreachableStrategy. */
  async agentsUnreachable(agentIds: string[]): Promise<void> {
    if (agentIds.length === 0) return;
    await this.mutate((ctx) => {
      const byFramework = new Map<string, TaskRecord[]>();
      for (const id of agentIds) for (const t of liveTasks(ctx.db, { agentId: id })) byFramework.set(t.framework, [...(byFramework.get(t.framework) ?? []), t]);
      for (const [name, list] of byFramework) this.frameworks.of(ctx.db, name)?.tasksUnreachable(ctx, list);
      this.scheduleUnreachableExpiry(ctx.now);
      return null;
    });
  }

  /** Unreachable tasks past `inactiveAfterSeconds` stop counting (from the alarm). */
  expireUnreachable(now: number): void {
    this.scheduleUnreachableExpiry(now);
  }

  private scheduleUnreachableExpiry(now: number): void {
    const next = expireUnreachable(
      this.db,
      liveTasks(this.db).filter((t) => t.state === "TASK_UNREACHABLE"),
      now,
    );
    if (next !== null) scheduleAt(this.db, UNREACHABLE_TIMER, next);
  }

  /** An agent removed by an operator: its tasks are gone (TASK_GONE_BY_OPERATOR) and replaced. */
  tasksGone(ctx: CommandContext, agentId: string): void {
    for (const t of liveTasks(ctx.db, { agentId })) {
      const gone = setTaskState(ctx.db, t.id, "TASK_GONE_BY_OPERATOR", "agent removed from the cluster", ctx.now, true);
      if (gone) this.statusChanged(ctx, gone);
    }
  }

  /** Tells the task's framework of a change of its state. */
  private statusChanged(ctx: FrameworkContext, task: TaskRecord, update?: Pick<StatusUpdate, "state" | "message">): void {
    this.frameworks.of(ctx.db, task.framework)?.statusChanged(ctx, task, update);
  }

  private taskEnded(ctx: FrameworkContext, task: TaskRecord, update: Pick<StatusUpdate, "state" | "message">): void {
    this.frameworks.of(ctx.db, task.framework)?.taskEnded(ctx, task, update);
  }
}

function isFailure(v: unknown): v is Failure {
  return typeof v === "object" && v !== null && (v as Outcome<unknown>).ok === false;
}
