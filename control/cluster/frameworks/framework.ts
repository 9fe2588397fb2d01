/**
 * The one interface every framework of a cluster implements: Marathon, Metronome, and the
 * external frameworks that speak Mesos's v1 scheduler API. The allocation round and the
 * coordinator talk to frameworks only through it, and name none of them: a framework-specific
 * branch there is a sign of a method missing here (as Nomad's schedulers sit behind
 * `Scheduler` and Mesos's frameworks behind the offer cycle).
 *
 * Two ways to ask for resources: the built-in frameworks know exactly what they want, so their
 * `requests` are placed for them (`place`, DRF across all frameworks); an external framework
 * takes `offers` of what remains, and answers ACCEPT or DECLINE later over the scheduler API.
 */
import type { StatusUpdate, TaskLaunch } from "../../../protocol/index.ts";
import type { OfferTaker } from "../allocator/offers.ts";
import type { Placement, TaskRequest, Unplaced } from "../allocator/place.ts";
import type { ClusterDb } from "../db.ts";
import type { EventBus } from "../events.ts";
import type { TaskRecord } from "../tasks.ts";

/** What a framework's methods may touch: the store, inside the caller's transaction, and the event bus. */
export interface FrameworkContext {
  db: ClusterDb;
  events: EventBus;
  now: number;
}

/** What one round knows beyond the context: the hostnames of the agents it placed on. */
export interface RoundContext extends FrameworkContext {
  hosts: ReadonlyMap<string, string>;
}

/**
 * A task a framework launched this round: its row (TASK_STAGING) and the frame for its agent.
 * `launch` may be a getter that builds the frame when read: a round's launches are read once,
 * as their agent's frame is sent after the commit, so a round of tens of thousands of tasks
 * holds their rows, not their frames, until then.
 */
export interface LaunchedTask {
  readonly record: TaskRecord;
  readonly launch: TaskLaunch;
}

/** A framework's part of one allocation round, made by `Framework.turn` inside the round's transaction. */
export interface FrameworkTurn {
  /** Instances to place; `Placement.request` given back to `launch` indexes this array. */
  requests: TaskRequest[];
  /** Tasks to kill now. */
  kills: string[];
  /** When the framework wants the next round by itself (a delay ends, a schedule is due). */
  wakeAt: number | null;
  /** New demand since its last declines: its refuse filters go first (Mesos REVIVE). */
  revive: boolean;
  /** Rows and launch frames for the placements of its requests. */
  launch(round: RoundContext, placements: Placement[]): LaunchedTask[];
  /** After placement: what could not be placed, and how many agents were considered. */
  settle(round: RoundContext, unplaced: Unplaced[], agentsConsidered: number): void;
  /**
   * Present for a framework that takes offers (an external one, while subscribed): what the
   * agents have left after placement is offered to it, held for it alone until it answers.
   */
  offers?: OfferTaker;
}

/** One framework, as the allocator and the coordinator see it. */
export interface Framework {
  /** Its id: the `framework` column of its tasks, its DRF client. */
  readonly name: string;
  /** Mesos role and weight, for DRF (weights are per role in Mesos). */
  readonly role: string;
  readonly weight: number;
  /** Its demand for this round. */
  turn(ctx: FrameworkContext): FrameworkTurn;
  /**
   * Whether a live task's change (TASK_RUNNING, a health result) may change what it asks of the
   * next round. Marathon's deployments and Metronome's runs move on as tasks start and turn
   * healthy, in their turns. An external framework decides for itself, from its updates, and
   * a task that starts frees nothing to offer: as Mesos's allocator, which allocates on resources
   * freed, added or revived, its live tasks' changes ask for no round (an ended task's always do).
   */
  readonly roundOnLiveChange: boolean;
  /** The SIGTERM → SIGKILL grace for killing one of its tasks. */
  killGraceMs(db: ClusterDb, task: TaskRecord): number;
  /** One of its tasks changed state (launched, updated by its agent, decided by the master). */
  statusChanged(ctx: FrameworkContext, task: TaskRecord, update?: Pick<StatusUpdate, "state" | "message">): void;
  /** One of its tasks stopped counting (terminal, lost, gone): after `statusChanged` for the same change. */
  taskEnded(ctx: FrameworkContext, task: TaskRecord, update: Pick<StatusUpdate, "state" | "message">): void;
  /**
   * Present for a framework that judges its tasks' health results itself (an external one,
   * from TaskInfo.health_check): one result, applied; returns the ids of tasks to kill.
   */
  healthResult?(ctx: FrameworkContext, task: TaskRecord, update: StatusUpdate): string[];
  /** Its tasks on agents that just became unreachable (each framework has its own rule for them). */
  tasksUnreachable(ctx: FrameworkContext, tasks: TaskRecord[]): void;
}

/** The grace used when a framework has none for a task. */
export const DEFAULT_KILL_GRACE_MS = 3000;
