import { getAgent } from "../../agents.ts";
import { clusterTaskId } from "./task-ids.ts";
import { decline, REFUSE_MS } from "../../allocator/filters.ts";
import { SCALAR_NAMES } from "../../allocator/drf.ts";
import { takeOffers, type OfferRecord, type OfferResources } from "../../allocator/offers.ts";
import { mergeRanges } from "../../allocator/ports.ts";
import { existingTaskIds, insertTasks, type TaskRecord } from "../../tasks.ts";
import type { LaunchedTask, FrameworkContext } from "../framework.ts";
import type { Operation, SchedulerCall, TaskInfo } from "./calls.ts";
import { checkTask, subtract, type LaunchTarget } from "./launch.ts";
import type { FrameworkMailbox } from "./mailbox.ts";
import { masterStatus, updateEvent } from "./status.ts";
import { insertFrameworkTasks, needsTaskRecord, type FrameworkRecord, type FrameworkTaskRecord } from "./store.ts";

/**
 * ACCEPT: the offers are used up (an offer is used once), each LAUNCH and LAUNCH_GROUP is
 * checked against what the offers hold, and what is left is declined for
 * `filters.refuse_seconds`. An invalid offer drops every task of the call (TASK_DROPPED); an
 * invalid task is that task's TASK_ERROR (a group's, the whole group's). Tasks are written
 * as TASK_STAGING in the call's transaction, and their launch frames go out after it commits.
 */

/** Mesos caps `refuse_seconds` at a year. */
const MAX_REFUSE_SECONDS = 365 * 24 * 3600;

export function refuseMs(filters: { refuse_seconds?: number } | undefined): number {
  const seconds = filters?.refuse_seconds;
  return seconds === undefined ? REFUSE_MS : Math.min(seconds, MAX_REFUSE_SECONDS) * 1000;
}

type Accept = NonNullable<SchedulerCall["accept"]>;

function tasksOf(op: Operation): TaskInfo[] {
  return op.launch?.task_infos ?? op.launch_group?.task_group.tasks ?? [];
}

/** Why the offers cannot be used together, or undefined. */
function offersProblem(accept: Accept, taken: OfferRecord[], missing: string[]): string | undefined {
  if (accept.offer_ids.length === 0) return "ACCEPT names no offer";
  if (missing.length > 0) return `Offer ${missing[0]} is no longer valid`;
  if (new Set(taken.map((o) => o.agentId)).size > 1) return "Aggregated offers must belong to one single agent";
  return undefined;
}

function pooled(offers: OfferRecord[]): OfferResources {
  const out: OfferResources = { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: [] };
  for (const o of offers) {
    for (const name of SCALAR_NAMES) out[name] += o.resources[name];
    out.ports = mergeRanges([...out.ports, ...o.resources.ports]);
  }
  return out;
}

/** Carries out an ACCEPT; returns the tasks launched (their frames are for the caller to send). */
export function acceptOffers(ctx: FrameworkContext, fw: FrameworkRecord, accept: Accept, mail: FrameworkMailbox): LaunchedTask[] {
  const { taken, missing } = takeOffers(
    ctx.db,
    fw.id,
    accept.offer_ids.map((o) => o.value),
  );
  const agentId = taken[0]?.agentId;
  const agent = agentId === undefined ? undefined : getAgent(ctx.db, agentId);
  const problem = offersProblem(accept, taken, missing) ?? (agent?.state === "active" ? undefined : `Agent ${agentId} is not active`);
  const drop = (tasks: TaskInfo[], reason: string, message: string, state: "TASK_DROPPED" | "TASK_ERROR") => {
    for (const t of tasks) mail.emit(fw.id, updateEvent(masterStatus(t.task_id.value, state, reason, message, ctx.now, t.agent_id.value)));
  };
  if (problem || !agent) {
    drop(accept.operations.flatMap(tasksOf), "REASON_INVALID_OFFERS", problem ?? "no offer", "TASK_DROPPED");
    return [];
  }
  const target: LaunchTarget = { frameworkId: fw.id, framework: fw.info, agentId: agent.id, hostname: agent.hostname, attributes: agent.attributes };
  let left = pooled(taken);
  const launched: LaunchedTask[] = [];
  const rows: FrameworkTaskRecord[] = [];
  // Ids already taken, read in one query for the whole call: an ACCEPT may launch hundreds of tasks.
  const seen = existingTaskIds(
    ctx.db,
    accept.operations.flatMap((op) => tasksOf(op).map((t) => clusterTaskId(fw.id, t.task_id.value))),
  );
  for (const op of accept.operations) {
    const tasks = tasksOf(op);
    const group = op.type === "LAUNCH_GROUP" ? (tasks[0]?.task_id.value ?? null) : null;
    let opLeft = left;
    const checked: ReturnType<typeof checkTask>[] = tasks.map((t) => {
      const id = clusterTaskId(fw.id, t.task_id.value);
      if (seen.has(id)) return `Task ID ${t.task_id.value} is already in use`;
      seen.add(id);
      if (op.type === "LAUNCH_GROUP" && op.launch_group?.executor?.type === "CUSTOM")
        return "custom executors are not supported: a task group runs on DCX's own executor (type DEFAULT)";
      const c = checkTask(t, opLeft, target);
      if (typeof c !== "string") opLeft = subtract(opLeft, c.takes);
      return c;
    });
    if (group !== null && checked.some((c) => typeof c === "string")) {
      const first = checked.find((c): c is string => typeof c === "string") ?? "";
      tasks.forEach((t, i) =>
        drop(
          [t],
          "REASON_TASK_GROUP_INVALID",
          typeof checked[i] === "string" ? (checked[i] as string) : `another task of the group is invalid: ${first}`,
          "TASK_ERROR",
        ),
      );
      continue;
    }
    tasks.forEach((t, i) => {
      const c = checked[i];
      if (c === undefined) return;
      if (typeof c === "string") return drop([t], "REASON_TASK_INVALID", c, "TASK_ERROR");
      launched.push({ record: stagingRecord(fw.id, t, c.launch, agent.id, agent.hostname, ctx.now), launch: c.launch });
      // Most tasks take every default: they need no record (one row fewer written per task).
      if (needsTaskRecord(t, c.launch.killGracePeriodMs, group))
        rows.push({ taskId: c.launch.taskId, frameworkId: fw.id, info: t, killGraceMs: c.launch.killGracePeriodMs, taskGroup: group });
    });
    // What is left once the operation's valid tasks took theirs, as each was checked against it (a group here is all valid).
    left = opLeft;
  }
  insertTasks(
    ctx.db,
    launched.map((l) => l.record),
  );
  insertFrameworkTasks(ctx.db, rows);
  // What the framework did not use is declined, as Mesos does, for refuse_seconds.
  if (left.cpus > 0 || left.mem > 0) decline(ctx.db, fw.id, agent.id, ctx.now + refuseMs(accept.filters));
  return launched;
}

function stagingRecord(frameworkId: string, task: TaskInfo, launch: LaunchedTask["launch"], agentId: string, host: string, now: number): TaskRecord {
  return {
    id: launch.taskId,
    framework: frameworkId,
    group: task.name || task.task_id.value,
    version: "",
    agentId,
    host,
    state: "TASK_STAGING",
    ports: launch.ports,
    resources: launch.resources,
    message: null,
    healthy: null,
    stagedAt: now,
    startedAt: null,
    updatedAt: now,
    killRequestedAt: null,
    endedAt: null,
  };
}
