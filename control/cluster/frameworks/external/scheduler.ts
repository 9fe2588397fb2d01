import { dropOffers, takeOffers } from "../../allocator/offers.ts";
import { clusterTaskId } from "./task-ids.ts";
import { declineAgents, revive } from "../../allocator/filters.ts";
import { getTask, liveTasks, markKillRequested, type TaskRecord } from "../../tasks.ts";
import { fail, type CommandContext, type Failure, type Outcome } from "../marathon/commands.ts";
import { acceptOffers, refuseMs } from "./accept.ts";
import type { FrameworkInfo, SchedulerCall } from "./calls.ts";
import { tearDown } from "./framework.ts";
import type { FrameworkMailbox } from "./mailbox.ts";
import { masterStatus, partitionAware, taskStatus, updateEvent, updateLine } from "./status.ts";
import {
  frameworkRoles,
  getFramework,
  getFrameworkTask,
  getSubscriber,
  groupTaskIds,
  nextFrameworkId,
  saveFramework,
  setKillGrace,
  type FrameworkRecord,
  type Subscriber,
} from "./store.ts";
import { acknowledgeUpdate, resendUpdatesNow } from "./updates.ts";

/**
 * The scheduler API's calls, run by the Cluster object inside one transaction each (with the
 * allocation round they cause). Every call but SUBSCRIBE must come from the framework's
 * current subscription (its Mesos-Stream-Id), else 403.
 */

export interface Subscription {
  frameworkId: string;
  streamId: string;
  /** The framework as it was before, when this is a re-subscription. */
  resubscribed: boolean;
}

/** Why the framework `id` may not call from `streamId`: unknown, torn down, another subscription's, or disconnected. */
function refusal(id: string, fw: Subscriber | undefined, streamId: string): Failure | undefined {
  if (!fw || fw.state === "removed") return fail("forbidden", `Framework '${id.slice(0, 64)}' is not subscribed`);
  if (fw.streamId !== streamId) return fail("forbidden", "The request's Mesos-Stream-Id is not the framework's current subscription: subscribe again");
  if (fw.state !== "connected") return fail("forbidden", `Framework '${id}' is disconnected: subscribe again`);
  return undefined;
}

/** The framework a call may act for: known, subscribed on this stream, not torn down. */
function caller(ctx: CommandContext, call: SchedulerCall, streamId: string): FrameworkRecord | Failure {
  const id = call.framework_id?.value ?? "";
  const fw = getFramework(ctx.db, id);
  return refusal(id, fw, streamId) ?? (fw as FrameworkRecord);
}

/**
 * SUBSCRIBE: a new framework, or a known one (`framework_info.id`) failing over to a new
 * stream: it keeps its tasks, its unacknowledged updates are sent again, its filters go.
 */
export function subscribe(
  ctx: CommandContext,
  info: FrameworkInfo,
  suppressed: string[],
  principal: string,
  masterId: string,
  streamId: string,
): Outcome<Subscription> {
  const id = info.id?.value;
  const known = id === undefined ? undefined : getFramework(ctx.db, id);
  if (known?.state === "removed") return fail("forbidden", `Framework ${id} has been removed (torn down): subscribe without an id to start anew`);
  if (known && known.principal !== principal) return fail("forbidden", `Framework ${id} was subscribed by another principal`);
  const frameworkId = id ?? nextFrameworkId(ctx.db, masterId);
  const record: FrameworkRecord = {
    id: frameworkId,
    info: { ...info, id: { value: frameworkId } },
    principal,
    streamId,
    state: "connected",
    suppressedRoles: suppressed,
    registeredAt: known?.registeredAt ?? ctx.now,
    reregisteredAt: known ? ctx.now : null,
    failoverAt: null,
    removedAt: null,
  };
  saveFramework(ctx.db, record);
  // A new subscription starts clean: earlier offers and filters were for the old one.
  dropOffers(ctx.db, frameworkId);
  revive(ctx.db, frameworkId, ctx.now);
  resendUpdatesNow(ctx.db, frameworkId, ctx.now);
  return { ok: true, value: { frameworkId, streamId, resubscribed: known !== undefined } };
}

/** An operator's TEARDOWN of a framework (the operator API, the UI, `dcx framework teardown`). */
export function operatorTeardown(ctx: CommandContext, frameworkId: string): Outcome<null> {
  const fw = getFramework(ctx.db, frameworkId);
  if (!fw || fw.state === "removed")
    return fail("not_found", `Framework '${frameworkId.slice(0, 128)}' is not registered (the built-in marathon and metronome cannot be torn down)`);
  ctx.killed.push(...markKillRequested(ctx.db, tearDown(ctx, fw), ctx.now));
  return { ok: true, value: null };
}

/** The framework's stream closed: it keeps its tasks for `failover_timeout`, its offers return. */
export function disconnected(ctx: CommandContext, frameworkId: string, streamId: string): void {
  const fw = getFramework(ctx.db, frameworkId);
  if (!fw || fw.streamId !== streamId || fw.state !== "connected") return;
  saveFramework(ctx.db, { ...fw, state: "disconnected", failoverAt: ctx.now + (fw.info.failover_timeout ?? 0) * 1000 });
  dropOffers(ctx.db, frameworkId);
}

/** Runs one non-SUBSCRIBE call: 202 (or 200 for UPDATE_FRAMEWORK), or a failure to render. */
export function schedulerCall(
  ctx: CommandContext,
  call: SchedulerCall,
  streamId: string,
  mail: FrameworkMailbox,
): Outcome<{ status: 200 | 202; closeStream?: boolean }> {
  const fw = caller(ctx, call, streamId);
  if ("ok" in fw) return fw;
  const accepted = { ok: true as const, value: { status: 202 as const } };
  switch (call.type) {
    case "TEARDOWN":
      ctx.killed.push(...markKillRequested(ctx.db, tearDown(ctx, fw), ctx.now));
      return { ok: true, value: { status: 202, closeStream: true } };
    case "ACCEPT":
      if (call.accept) ctx.launched.push(...acceptOffers(ctx, fw, call.accept, mail));
      return accepted;
    case "DECLINE":
      declineOffers(ctx, fw, call.decline);
      return accepted;
    case "REVIVE":
      reviveRoles(ctx, fw, call.revive?.roles);
      return accepted;
    case "SUPPRESS":
      saveFramework(ctx.db, { ...fw, suppressedRoles: [...new Set([...fw.suppressedRoles, ...(call.suppress?.roles ?? frameworkRoles(fw.info))])] });
      return accepted;
    case "KILL":
      if (call.kill) kill(ctx, fw, call.kill, mail);
      return accepted;
    case "ACKNOWLEDGE":
      return acknowledge(ctx, fw, call.acknowledge, mail);
    case "RECONCILE":
      reconcile(ctx, fw, call.reconcile?.tasks ?? [], mail);
      return accepted;
    case "UPDATE_FRAMEWORK":
      return updateFramework(ctx, fw, call.update_framework);
    default:
      // MESSAGE, REQUEST, SHUTDOWN and the inverse-offer calls: nothing to do on DCX (no custom executors, no maintenance windows).
      return accepted;
  }
}

/** Who may acknowledge, by framework id and stream id: one batch's lookups (see `acknowledgeCall`). */
export type Callers = Map<string, Subscriber | Failure>;

/**
 * ACKNOWLEDGE, the call a framework makes most (one per status update), run without a savepoint
 * of its own: it fails only before it writes (not the subscription's caller, a uuid that is not
 * Base64), so a failed one leaves nothing to undo. Its caller is checked by its subscription
 * alone (no FrameworkInfo to parse), once per framework and stream in `callers`, which the
 * batch clears before any other call (one that may change the framework: TEARDOWN,
 * UPDATE_FRAMEWORK, ...); an acknowledgement changes no framework.
 */
export function acknowledgeCall(
  ctx: CommandContext,
  call: SchedulerCall,
  streamId: string,
  mail: FrameworkMailbox,
  callers: Callers,
): Outcome<{ status: 202 }> {
  const id = call.framework_id?.value ?? "";
  const key = `${id}\n${streamId}`;
  let fw = callers.get(key);
  if (fw === undefined) {
    const subscriber = getSubscriber(ctx.db, id);
    fw = refusal(id, subscriber, streamId) ?? (subscriber as Subscriber);
    callers.set(key, fw);
  }
  return "ok" in fw ? fw : acknowledge(ctx, fw, call.acknowledge, mail);
}

function declineOffers(ctx: CommandContext, fw: FrameworkRecord, body: SchedulerCall["decline"]): void {
  if (!body) return;
  // Unknown offers are ignored, as Mesos does: an offer may have been rescinded meanwhile.
  const { taken } = takeOffers(
    ctx.db,
    fw.id,
    body.offer_ids.map((o) => o.value),
  );
  const until = ctx.now + refuseMs(body.filters);
  declineAgents(ctx.db, fw.id, [...new Set(taken.map((o) => o.agentId))], until);
}

/** REVIVE: the roles (all, when none are named) are offered again, and every filter of the framework goes. */
function reviveRoles(ctx: CommandContext, fw: FrameworkRecord, roles: string[] | undefined): void {
  const unsuppress = new Set(roles && roles.length > 0 ? roles : frameworkRoles(fw.info));
  saveFramework(ctx.db, { ...fw, suppressedRoles: fw.suppressedRoles.filter((r) => !unsuppress.has(r)) });
  revive(ctx.db, fw.id, ctx.now);
}

/**
 * The framework's task it calls `taskId` (task-ids.ts). A task launched before ids were scoped
 * per framework is named by the bare id, and is found by it while it is the framework's own.
 */
function frameworkTask(db: CommandContext["db"], frameworkId: string, taskId: string): TaskRecord | undefined {
  const task = getTask(db, clusterTaskId(frameworkId, taskId));
  if (task) return task;
  const bare = getTask(db, taskId);
  return bare?.framework === frameworkId ? bare : undefined;
}

function kill(ctx: CommandContext, fw: FrameworkRecord, body: NonNullable<SchedulerCall["kill"]>, mail: FrameworkMailbox): void {
  const taskId = body.task_id.value;
  const task = frameworkTask(ctx.db, fw.id, taskId);
  const id = task?.id ?? clusterTaskId(fw.id, taskId);
  if (!task || task.framework !== fw.id || task.endedAt !== null) {
    // Mesos answers a kill of a task it does not know with TASK_LOST (TASK_UNKNOWN when partition-aware).
    const status =
      task && task.framework === fw.id
        ? taskStatus(fw.info, task, ctx.now, { source: "SOURCE_MASTER", reason: "REASON_RECONCILIATION" })
        : masterStatus(
            taskId,
            partitionAware(fw.info) ? "TASK_UNKNOWN" : "TASK_LOST",
            "REASON_RECONCILIATION",
            "task unknown to the master",
            ctx.now,
            body.agent_id?.value,
          );
    mail.emit(fw.id, updateEvent(status));
    return;
  }
  const nanos = body.kill_policy?.grace_period?.nanoseconds;
  const group = getFrameworkTask(ctx.db, id)?.taskGroup ?? null;
  // Killing one task of a group kills the group.
  const ids = group === null ? [id] : groupTaskIds(ctx.db, fw.id, group);
  if (nanos !== undefined) for (const id of ids) setKillGrace(ctx.db, fw.id, id, Math.round(nanos / 1e6));
  ctx.killed.push(...markKillRequested(ctx.db, ids, ctx.now));
}

function acknowledge(ctx: CommandContext, fw: Subscriber, body: SchedulerCall["acknowledge"], mail: FrameworkMailbox): Outcome<{ status: 202 }> {
  if (!body) return fail("malformed", "ACKNOWLEDGE needs 'acknowledge'");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body.uuid)) return fail("malformed", "acknowledge.uuid must be Base64 (the uuid of the update)");
  const next = acknowledgeUpdate(ctx.db, fw.id, body.task_id.value, body.uuid, ctx.now);
  // The task's next update goes out now (acknowledgeUpdate armed the round that would resend it).
  if (next) mail.emitJson(fw.id, updateLine(next));
  return { ok: true, value: { status: 202 } };
}

/** RECONCILE: the named tasks' latest states (unknown ones TASK_LOST), or with none named every live task's. */
function reconcile(
  ctx: CommandContext,
  fw: FrameworkRecord,
  named: { task_id: { value: string }; agent_id?: { value: string } }[],
  mail: FrameworkMailbox,
): void {
  const extra = { source: "SOURCE_MASTER" as const, reason: "REASON_RECONCILIATION" };
  if (named.length === 0) {
    for (const t of liveTasks(ctx.db, { framework: fw.id })) mail.emit(fw.id, updateEvent(taskStatus(fw.info, t, ctx.now, extra)));
    return;
  }
  for (const { task_id, agent_id } of named) {
    const t = frameworkTask(ctx.db, fw.id, task_id.value);
    const status =
      t && t.framework === fw.id
        ? taskStatus(fw.info, t, ctx.now, extra)
        : masterStatus(
            task_id.value,
            partitionAware(fw.info) ? "TASK_UNKNOWN" : "TASK_LOST",
            extra.reason,
            "Reconciliation: task is unknown",
            ctx.now,
            agent_id?.value,
          );
    mail.emit(fw.id, updateEvent(status));
  }
}

/** UPDATE_FRAMEWORK: a new FrameworkInfo for the same framework; principal, user and checkpoint stay. */
function updateFramework(ctx: CommandContext, fw: FrameworkRecord, body: SchedulerCall["update_framework"]): Outcome<{ status: 200 }> {
  if (!body) return fail("malformed", "UPDATE_FRAMEWORK needs 'update_framework'");
  const info = body.framework_info;
  if (info.id?.value !== fw.id) return fail("malformed", "update_framework.framework_info.id must be the framework's id");
  for (const field of ["principal", "user", "checkpoint"] as const) {
    if (info[field] !== fw.info[field]) return fail("malformed", `update_framework.framework_info.${field} cannot change`);
  }
  const suppressedRoles = body.suppressed_roles ?? fw.suppressedRoles;
  saveFramework(ctx.db, { ...fw, info, suppressedRoles });
  return { ok: true, value: { status: 200 } };
}
