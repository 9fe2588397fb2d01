import type { TaskState } from "../../../../protocol/index.ts";
import { frameworkTaskId } from "./task-ids.ts";
import type { MadeOffer } from "../../allocator/offers.ts";
import type { TaskRecord } from "../../tasks.ts";
import type { FrameworkInfo } from "./calls.ts";

/**
 * The scheduler API's events and the TaskStatus inside UPDATEs, in Mesos's JSON form
 * (scheduler.proto `Event`, mesos.proto `TaskStatus`, `Offer`, `Resource`).
 */

export type SchedulerEvent = { type: string } & Record<string, unknown>;

/** The Mesos API version DCX speaks (`/version`, `master_info.version`, `/master/state`). */
export const MESOS_API_VERSION = "1.11.0";

/** The first event of every subscription. */
export function subscribedEvent(frameworkId: string, heartbeatSeconds: number, masterId: string, host: string): SchedulerEvent {
  return {
    type: "SUBSCRIBED",
    subscribed: {
      framework_id: { value: frameworkId },
      heartbeat_interval_seconds: heartbeatSeconds,
      master_info: { id: masterId, ip: 0, port: 443, hostname: host, version: MESOS_API_VERSION },
    },
  };
}

/** Mesos's TaskStatus JSON. `uuid` is Base64 and present only on updates that must be acknowledged. */
export interface TaskStatusJson {
  task_id: { value: string };
  state: TaskState;
  source: "SOURCE_MASTER" | "SOURCE_AGENT" | "SOURCE_EXECUTOR";
  reason?: string;
  message?: string;
  agent_id?: { value: string };
  /** A command task's executor is its own (Mesos's command executor takes the task's id). */
  executor_id?: { value: string };
  timestamp: number;
  uuid?: string;
  healthy?: boolean;
}

/** States only a PARTITION_AWARE framework is told; the others hear TASK_LOST, as Mesos does. */
const PARTITION_STATES: ReadonlySet<TaskState> = new Set(["TASK_UNREACHABLE", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"]);

export function partitionAware(info: FrameworkInfo): boolean {
  return (info.capabilities ?? []).some((c) => c.type === "PARTITION_AWARE");
}

/** The state a framework is told: Mesos folds the partition states into TASK_LOST for older frameworks. */
export function stateFor(info: FrameworkInfo, state: TaskState): TaskState {
  return PARTITION_STATES.has(state) && !partitionAware(info) ? "TASK_LOST" : state;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** 16 bytes from `at` in standard Base64 (what `btoa` writes for them), without building a binary string first. */
function base64Of16(bytes: Uint8Array, at: number): string {
  let out = "";
  for (let i = at; i < at + 15; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += BASE64.charAt(n >> 18) + BASE64.charAt((n >> 12) & 63) + BASE64.charAt((n >> 6) & 63) + BASE64.charAt(n & 63);
  }
  const last = bytes[at + 15] ?? 0;
  return `${out}${BASE64.charAt(last >> 2)}${BASE64.charAt((last & 3) << 4)}==`;
}

/**
 * New status update ids: 16 random bytes each, Base64 as protobuf JSON writes `bytes` (one draw
 * of randomness for them all; a status batch may owe thousands).
 */
export function newUuids(count: number): string[] {
  const out: string[] = [];
  // getRandomValues fills at most 65,536 bytes a call.
  for (let start = 0; start < count; start += 4096) {
    const n = Math.min(4096, count - start);
    const bytes = crypto.getRandomValues(new Uint8Array(16 * n));
    for (let i = 0; i < n; i++) out.push(base64Of16(bytes, 16 * i));
  }
  return out;
}

/** The TaskStatus of a task as it stands. */
export function taskStatus(info: FrameworkInfo, task: TaskRecord, now: number, extra: Partial<TaskStatusJson> = {}): TaskStatusJson {
  const status: TaskStatusJson = {
    task_id: { value: frameworkTaskId(task.framework, task.id) },
    state: stateFor(info, task.state),
    source: "SOURCE_AGENT",
    agent_id: { value: task.agentId },
    executor_id: { value: frameworkTaskId(task.framework, task.id) },
    timestamp: now / 1000,
    ...extra,
  };
  if (task.message && status.message === undefined) status.message = task.message;
  if (task.healthy !== null) status.healthy = task.healthy;
  return status;
}

/** A status the master makes for a task it cannot place or does not know (no uuid: nothing to acknowledge). */
export function masterStatus(taskId: string, state: TaskState, reason: string, message: string, now: number, agentId?: string): TaskStatusJson {
  return {
    task_id: { value: taskId },
    state,
    source: "SOURCE_MASTER",
    reason,
    message,
    timestamp: now / 1000,
    ...(agentId ? { agent_id: { value: agentId } } : {}),
  };
}

export const updateEvent = (status: TaskStatusJson): SchedulerEvent => ({ type: "UPDATE", update: { status } });
/** The JSON of `updateEvent` for a TaskStatus already in JSON (as stored): the same text, written without parsing it again. */
export const updateLine = (statusJson: string): string => `{"type":"UPDATE","update":{"status":${statusJson}}}`;
export const rescindEvent = (offerId: string): SchedulerEvent => ({ type: "RESCIND", rescind: { offer_id: { value: offerId } } });
export const failureEvent = (agentId: string): SchedulerEvent => ({ type: "FAILURE", failure: { agent_id: { value: agentId } } });
export const errorEvent = (message: string): SchedulerEvent => ({ type: "ERROR", error: { message } });

const scalar = (name: string, value: number, role: string) => ({ name, type: "SCALAR", scalar: { value }, role });

/**
 * An offer's resources as Mesos `Resource`s; gpus only when there are any. `role` is the agent's:
 * a public agent's resources are `slave_public`, as a DC/OS public agent's statically reserved ones are.
 */
export function offerResources(r: MadeOffer["offer"]["resources"], role: string) {
  const out: Record<string, unknown>[] = [scalar("cpus", r.cpus, role), scalar("mem", r.mem, role), scalar("disk", r.disk, role)];
  if (r.gpus > 0) out.push(scalar("gpus", r.gpus, role));
  if (r.ports.length > 0) out.push({ name: "ports", type: "RANGES", ranges: { range: r.ports.map(([begin, end]) => ({ begin, end })) }, role });
  return out;
}

/** Agent attributes as Mesos `Attribute`s: numbers are SCALAR, the rest TEXT. */
function attributes(attrs: Record<string, string | number>) {
  return Object.entries(attrs).map(([name, v]) =>
    typeof v === "number" ? { name, type: "SCALAR", scalar: { value: v } } : { name, type: "TEXT", text: { value: v } },
  );
}

/**
 * One OFFERS event for the offers a round made a framework. An offer is allocated to the
 * framework's `role`, except a public agent's, which only a framework holding `slave_public`
 * is offered and which is allocated to that role.
 */
export function offersEvent(frameworkId: string, role: string, made: MadeOffer[]): SchedulerEvent {
  return {
    type: "OFFERS",
    offers: {
      offers: made.map(({ offer, hostname, ip, attributes: attrs, role: agentRole }) => ({
        id: { value: offer.id },
        framework_id: { value: frameworkId },
        agent_id: { value: offer.agentId },
        hostname,
        // The agent's URL, as Mesos gives it (clients read the agent's address from it); agents open no port.
        url: { scheme: "http", address: { hostname, ip, port: 5051 }, path: "/slave(1)" },
        resources: offerResources(offer.resources, agentRole),
        attributes: attributes(attrs),
        allocation_info: { role: agentRole === "*" ? role : agentRole },
      })),
    },
  };
}
