import { and, eq, inArray, isNull } from "drizzle-orm";
import type { ClusterDb } from "../../db.ts";
import { dropOffers, outstandingOffers } from "../../allocator/offers.ts";
import { frameworkTasks, tasks } from "../../schema.ts";
import { liveTasks, setTaskState, type TaskRecord } from "../../tasks.ts";
import { DEFAULT_KILL_GRACE_MS, type Framework, type FrameworkContext, type FrameworkTurn } from "../framework.ts";
import type { FrameworkMailbox } from "./mailbox.ts";
import { failureEvent, offersEvent, rescindEvent, taskStatus, updateLine, type TaskStatusJson } from "./status.ts";
import { judgeHealth } from "./health.ts";
import { frameworkRoles, getFrameworkTask, saveFramework, type FrameworkRecord } from "./store.ts";
import { dropUpdates, nextUpdateDue, oweUpdates, takeDueUpdates } from "./updates.ts";

/**
 * An external framework (Mesos v1 scheduler API) behind the same interface as Marathon and
 * Metronome. It asks for nothing by request: while subscribed it takes offers. Its turn also
 * runs its clocks: updates due for (re)sending, its offers' expiry, its failover deadline, and
 * the task groups that must stop together. Given `held`, the updates it owes wait there until
 * the batch that raised them settles (`HeldUpdates.settle`), to be written together.
 */
export function externalFramework(record: FrameworkRecord, mail: FrameworkMailbox, held?: HeldUpdates): Framework {
  const { id, info } = record;
  const roles = frameworkRoles(info);
  /** Stores an update; sent with the commit of its change, not at the next round: its latency is one transaction. */
  const owe = (ctx: FrameworkContext, status: TaskStatusJson) => {
    if (held) return held.hold(id, record.state === "connected", status);
    for (const due of oweUpdates(ctx.db, id, [status], ctx.now, record.state === "connected")) mail.emitJson(id, updateLine(due));
  };
  return {
    name: id,
    role: roles[0] ?? "*",
    weight: 1,
    roundOnLiveChange: false,
    turn(ctx: FrameworkContext): FrameworkTurn {
      if (record.state === "disconnected" && record.failoverAt !== null && record.failoverAt <= ctx.now) {
        return { ...idle(null), kills: tearDown(ctx, record) };
      }
      const connected = record.state === "connected";
      if (connected) for (const status of takeDueUpdates(ctx.db, id, ctx.now)) mail.emitJson(id, updateLine(status));
      const wakes = [nextUpdateDue(ctx.db, id), record.failoverAt, ...outstandingOffers(ctx.db, id).map((o) => o.expiresAt)].filter(
        (w): w is number => w !== null && w > ctx.now,
      );
      const turn = idle(wakes.length > 0 ? Math.min(...wakes) : null);
      turn.kills = groupKills(ctx.db, id);
      if (connected) {
        turn.offers = {
          wants: roles.some((r) => !record.suppressedRoles.includes(r)),
          roles,
          offered: (made) => mail.emit(id, offersEvent(id, roles[0] ?? "*", made)),
          rescinded: (ids) => ids.forEach((offerId) => mail.emit(id, rescindEvent(offerId))),
        };
      }
      return turn;
    },
    killGraceMs(db: ClusterDb, task: TaskRecord): number {
      return getFrameworkTask(db, task.id)?.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    },
    statusChanged(ctx, task) {
      // Mesos's master tells a framework nothing of TASK_STAGING: the first update is the agent's.
      if (task.state === "TASK_STAGING" || record.state === "removed") return;
      owe(ctx, taskStatus(info, task, ctx.now));
    },
    healthResult(ctx, task, update) {
      const verdict = judgeHealth(ctx.db, task, update);
      if (verdict.tell && record.state !== "removed") {
        owe(
          ctx,
          taskStatus(info, { ...task, healthy: update.healthy ?? null }, ctx.now, {
            source: "SOURCE_EXECUTOR",
            reason: "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
          }),
        );
      }
      return verdict.kill ? [task.id] : [];
    },
    taskEnded() {},
    tasksUnreachable(ctx, lost) {
      // The agent's FAILURE first, then its tasks' updates (sent with the same commit).
      for (const agentId of new Set(lost.map((t) => t.agentId))) mail.emit(id, failureEvent(agentId));
      for (const t of lost) {
        const updated = setTaskState(ctx.db, t.id, "TASK_UNREACHABLE", "agent unreachable", ctx.now, true);
        if (updated) this.statusChanged(ctx, updated);
      }
    },
  };
}

/**
 * Updates owed by external frameworks during one batch of status frames, written when the batch
 * settles: one pair of statements per framework rather than one statement per update (a batch
 * may carry thousands). Nothing in the batch reads the owed updates back before it settles.
 */
export class HeldUpdates {
  private readonly held = new Map<string, { sendNow: boolean; statuses: TaskStatusJson[] }>();

  hold(frameworkId: string, sendNow: boolean, status: TaskStatusJson): void {
    const entry = this.held.get(frameworkId);
    if (entry) entry.statuses.push(status);
    else this.held.set(frameworkId, { sendNow, statuses: [status] });
  }

  /** Writes what is held, in order, and hands the updates due now to the mailbox (sent after the commit). */
  settle(ctx: FrameworkContext, mail: FrameworkMailbox): void {
    for (const [id, { sendNow, statuses }] of this.held)
      for (const due of oweUpdates(ctx.db, id, statuses, ctx.now, sendNow)) mail.emitJson(id, updateLine(due));
    this.held.clear();
  }
}

function idle(wakeAt: number | null): FrameworkTurn {
  return { requests: [], kills: [], wakeAt, revive: false, launch: () => [], settle: () => {} };
}

/**
 * Tears a framework down (TEARDOWN, or its failover timeout passed): it is removed, its offers
 * return, nothing more is owed to it, and its live tasks are returned to be killed.
 */
export function tearDown(ctx: FrameworkContext, record: FrameworkRecord): string[] {
  saveFramework(ctx.db, { ...record, state: "removed", removedAt: ctx.now, failoverAt: null });
  dropOffers(ctx.db, record.id);
  dropUpdates(ctx.db, record.id);
  return liveTasks(ctx.db, { framework: record.id })
    .filter((t) => t.killRequestedAt === null)
    .map((t) => t.id);
}

/** Live tasks of a task group one of whose tasks has ended: a group stops together. */
function groupKills(db: ClusterDb, frameworkId: string): string[] {
  // Every round asks: read through the task_group index (only tasks of groups), not through
  // framework_id's, which would read every task of the framework (`+` keeps SQLite off it).
  const endedGroups = db.$client.sql
    .exec<{ grp: string }>(
      `SELECT DISTINCT ft.task_group AS grp FROM framework_tasks ft JOIN tasks t ON t.id = ft.task_id
       WHERE ft.task_group IS NOT NULL AND +ft.framework_id = ? AND t.ended_at IS NOT NULL`,
      frameworkId,
    )
    .toArray()
    .map((r) => r.grp);
  if (endedGroups.length === 0) return [];
  return db
    .select({ id: tasks.id })
    .from(tasks)
    .innerJoin(frameworkTasks, eq(tasks.id, frameworkTasks.taskId))
    .where(and(inArray(frameworkTasks.taskGroup, endedGroups.slice(0, 90)), isNull(tasks.endedAt), isNull(tasks.killRequestedAt)))
    .all()
    .map((r) => r.id);
}
