import type { Placement, PlacementPlan, Unplaced } from "../../allocator/place.ts";
import { DECLINED } from "../../allocator/place.ts";
import type { ClusterDb } from "../../db.ts";
import type { TaskLaunch } from "../../../../protocol/index.ts";
import { insertTasks, type TaskRecord, type TaskResources } from "../../tasks.ts";
import { DEFAULT_KILL_GRACE_MS, type Framework, type FrameworkContext, type FrameworkTurn, type LaunchedTask, type RoundContext } from "../framework.ts";
import type { App } from "./app-definition.ts";
import { getApp, setWaiting, type StoredApp } from "./apps.ts";
import { MARATHON, marathonDemand } from "./demand.ts";
import { finishDeployment } from "./deployments.ts";
import { emitStatus, taskEnded, tasksUnreachable } from "./task-events.ts";
import { newTaskId, taskLaunch } from "./task-launch.ts";
import { taskHostPorts } from "./task-ports.ts";
import { secretValuesFor } from "../../secrets.ts";

/**
 * Marathon as a framework of the cluster: its apps' demand as placement requests, its tasks'
 * launch frames, why instances wait (`/v2/queue`), and its reactions to task changes.
 */
export const marathonFramework: Framework = {
  name: MARATHON,
  role: "*",
  weight: 1,
  roundOnLiveChange: true,
  turn(ctx: FrameworkContext): FrameworkTurn {
    const demand = marathonDemand(ctx.db, ctx.now);
    const apps = demand.requests.map((r) => r.app);
    return {
      requests: demand.requests.map((r) => r.request),
      kills: demand.kills,
      wakeAt: demand.wakeAt,
      revive: false,
      launch: (round, placements) => launchPlaced(round, placements, apps),
      settle: (round, unplaced, agentsConsidered) => {
        recordWaiting(round.db, unplaced, apps, agentsConsidered, round.now);
        // Deployments whose goal was reached end after the round's launches are announced.
        for (const d of demand.completed) finishDeployment(round.db, round.events, d, round.now);
      },
    };
  },
  killGraceMs(db: ClusterDb, task: TaskRecord): number {
    const seconds = getApp(db, task.group)?.app.taskKillGracePeriodSeconds;
    return seconds === undefined ? DEFAULT_KILL_GRACE_MS : Math.round(seconds * 1000);
  },
  statusChanged(ctx, task) {
    emitStatus(ctx.events, task, ctx.now);
  },
  taskEnded(ctx, task, update) {
    taskEnded(ctx.db, ctx.events, task, update, ctx.now);
  },
  tasksUnreachable(ctx, tasks) {
    tasksUnreachable(ctx.db, ctx.events, tasks, ctx.now);
  },
};

/**
 * A placed instance: its row now, its launch frame built when read (as its agent's frame is
 * sent), from the app, its secrets and what the row holds (id, host, version, ports).
 */
class PlacedLaunch implements LaunchedTask {
  constructor(
    readonly record: TaskRecord,
    private readonly app: App,
    /** The app's secrets by name, read when it was placed. */
    private readonly secrets: ReadonlyMap<string, string>,
  ) {}

  get launch(): TaskLaunch {
    const { version, id, host, ports } = this.record;
    return taskLaunch(this.app, version, id, host, ports, this.secrets);
  }
}

function launchPlaced(round: RoundContext, placements: Placement[], apps: StoredApp[]): LaunchedTask[] {
  const out: PlacedLaunch[] = [];
  // Per app, once a round: one resources object (every row of its instances holds the same, and
  // none changes it), and its secrets' values (read only for apps that name some).
  const perApp = new Map<number, { resources: TaskResources; secrets: ReadonlyMap<string, string> }>();
  for (const p of placements) {
    const stored = apps[p.request];
    if (!stored) continue;
    let shared = perApp.get(p.request);
    if (!shared) {
      const { cpus, mem, disk, gpus } = stored.app;
      shared = { resources: { cpus, mem, disk, gpus }, secrets: secretValuesFor(round.db, stored.app) };
      perApp.set(p.request, shared);
    }
    const record: TaskRecord = {
      id: newTaskId(stored.id),
      framework: MARATHON,
      group: stored.id,
      version: stored.version,
      agentId: p.agentId,
      host: round.hosts.get(p.agentId) ?? "",
      state: "TASK_STAGING",
      ports: taskHostPorts(stored.app, p.hostPorts),
      resources: shared.resources,
      message: null,
      healthy: null,
      stagedAt: round.now,
      startedAt: null,
      updatedAt: round.now,
      killRequestedAt: null,
      endedAt: null,
    };
    out.push(new PlacedLaunch(record, stored.app, shared.secrets));
  }
  insertTasks(
    round.db,
    out.map((o) => o.record),
  );
  return out;
}

/** How many of the last round's unused offers an app keeps (Marathon keeps one per agent; DCX bounds the row). */
export const LAST_UNUSED_OFFERS = 50;

/** Keeps, per app, why its instances wait (for /v2/queue), or clears it once all are placed. */
function recordWaiting(db: ClusterDb, unplaced: PlacementPlan["unplaced"], apps: StoredApp[], agentsConsidered: number, now: number): void {
  const unplacedBy = new Map<number, Unplaced>(unplaced.map((u) => [u.request, u]));
  apps.forEach((stored, i) => {
    const u = unplacedBy.get(i);
    if (!u) {
      if (stored.waiting) setWaiting(db, stored.id, null);
      return;
    }
    const since = stored.waiting?.since ?? new Date(now).toISOString();
    // Agents under a refuse filter were not offered: when no agent was, the last offers' reasons stand
    // (as Marathon's rejectSummaryLastOffers), instead of "declined" hiding why they were declined.
    const offered = Object.keys(u.reasons).some((reason) => reason !== DECLINED);
    const fresh = { reasons: u.reasons, agentsConsidered, offers: u.declinedBy?.slice(0, LAST_UNUSED_OFFERS), offeredAt: now };
    const { reasons, offers, offeredAt, ...last } = offered || !stored.waiting ? fresh : stored.waiting;
    setWaiting(db, stored.id, { count: u.count, since, reasons, agentsConsidered: last.agentsConsidered, offers, offeredAt });
  });
}
