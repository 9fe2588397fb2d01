import type { ClusterDb } from "../../db.ts";
import type { TaskRecord } from "../../tasks.ts";
import { DEFAULT_KILL_GRACE_MS, type Framework, type FrameworkContext, type FrameworkTurn } from "../framework.ts";
import { tasksUnreachable } from "../marathon/task-events.ts";
import { launchJobTasks, metronomeDemand } from "./demand.ts";
import { METRONOME } from "./launch.ts";
import { runKillGraceSeconds } from "./store.ts";

/**
 * Metronome as a framework of the cluster: a task for every run that needs one, kills for
 * tasks no run owns. Its runs follow their tasks by settling against the task table every
 * round, so it needs no per-change reaction.
 */
export const metronomeFramework: Framework = {
  name: METRONOME,
  role: "*",
  weight: 1,
  roundOnLiveChange: true,
  turn(ctx: FrameworkContext): FrameworkTurn {
    const demand = metronomeDemand(ctx.db, ctx.now);
    return {
      requests: demand.requests.map((r) => r.request),
      kills: demand.kills,
      wakeAt: demand.wakeAt,
      revive: demand.revive,
      launch: (round, placements) => launchJobTasks(round.db, placements, demand.requests, round.hosts, round.now),
      settle: () => {},
    };
  },
  /** A job's tasks take the grace of the run they belong to (`version` holds the run id). */
  killGraceMs(db: ClusterDb, task: TaskRecord): number {
    const seconds = runKillGraceSeconds(db, task.group, task.version);
    return seconds === undefined ? DEFAULT_KILL_GRACE_MS : Math.round(seconds * 1000);
  },
  statusChanged() {},
  taskEnded() {},
  tasksUnreachable(ctx, tasks) {
    // A run's task on a lost agent ends at once; the run settles against it next round.
    tasksUnreachable(ctx.db, ctx.events, tasks, ctx.now);
  },
};
