import { z } from "zod";
import { MAX_TASK_CHECKS, ReadinessResult, TaskHealthCheck, TaskReadinessCheck } from "./checks.ts";
import { Bundle, BundleData, Diagnostics } from "./diagnostics.ts";
import { HostAllowances } from "./host-access.ts";
import { LogData, Logs, LogsCancel } from "./logs.ts";
import { ProxyCredit, ProxyEnd, ProxyHead, ProxyOpen, ProxyReset } from "./proxy.ts";
import { AgentRole, Attributes, Resources } from "./resources.ts";
import { Resume } from "./resume.ts";
import { TaskState } from "./task-state.ts";
import { Vips } from "./vips.ts";

/**
 * The agent <-> master wire contract. Every frame is one JSON text message with a `type`;
 * the only exceptions are the heartbeat text frames `ping` and `pong`, which the Cluster
 * Durable Object answers through its WebSocket auto-response without waking up.
 */
export const PROTOCOL_VERSION = 1;

/** The heartbeat frames; they are plain text, never JSON. */
export const PING = "ping";
export const PONG = "pong";

/**
 * Largest frame either side accepts, in UTF-16 code units (bytes, for the ASCII JSON agents
 * send); a larger one is answered with an `error` frame.
 */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** WebSocket close codes used by the master. */
export const CloseCode = {
  /** Normal close (agent shutdown). */
  NORMAL: 1000,
  /** The credential was missing, unknown, expired or revoked. Do not retry with it. */
  POLICY: 1008,
  /** Another session of the same agent took over. */
  REPLACED: 4000,
  /** Heartbeats (or the first `register`) missing for longer than the timeout; either side may send it. */
  TIMEOUT: 4001,
  /** The agent was removed from the cluster. */
  REMOVED: 4002,
  /** The master could not apply a frame of this session; reconnect and resend what was not acked. */
  RETRY: 1011,
  /**
   * RFC 6455's "Try Again Later": the master admits registrations at a rate it can sustain and
   * this one came over it. Nothing of the session was written; a `retry` frame before the close
   * says when to come back (agents before it back off as after any close).
   */
  TRY_AGAIN_LATER: 1013,
} as const;

export const Hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9._-]+$/, "hostname uses letters, digits, . _ -");
export const Ip = z.union([z.ipv4(), z.ipv6()]);

export const TaskReport = z.strictObject({ taskId: z.string().min(1).max(512), state: TaskState });
export type TaskReport = z.infer<typeof TaskReport>;

export const Register = z.strictObject({
  type: z.literal("register"),
  protocol: z.literal(PROTOCOL_VERSION),
  agentId: z.string().min(1).max(128).optional(),
  hostname: Hostname,
  ip: Ip,
  resources: Resources,
  attributes: Attributes.default({}),
  /**
   * The role the agent's resources are offered to; absent means `*` (private). Optional, and
   * sent only by public agents, so agents and masters from before roles keep talking.
   */
  role: AgentRole.optional(),
  /** What the agent lets tasks have of its host (host-access.ts); absent from agents before it, which placement treats as allowing all. */
  allowances: HostAllowances.optional(),
  version: z.string().min(1).max(64),
  tasks: z.array(TaskReport).max(100_000).default([]),
  /**
   * The resume step (resume.ts): a digest of the live tasks above, so a master whose record
   * matches skips reconciling them. Sent by agents that also understand `retry` and
   * `registered.reconnectWindowMs`; absent from agents before it, which are reconciled in full.
   */
  resume: Resume.optional(),
});

/** The limits of a status frame, here and in its hand-written check (agent-frame.ts `parseAgentFrame`). */
export const STATUS_LIMITS = { updateId: 128, taskId: 512, message: 4096, updates: 10_000 } as const;

export const StatusUpdate = z.strictObject({
  updateId: z.string().min(1).max(STATUS_LIMITS.updateId),
  taskId: z.string().min(1).max(STATUS_LIMITS.taskId),
  state: TaskState,
  message: z.string().max(STATUS_LIMITS.message).optional(),
  /**
   * A health check's result: the agent sends one on each failure and when a check passes after
   * failing (or for the first time), with the task's current state and the cause in `message`.
   */
  healthy: z.boolean().optional(),
  /** With `healthy`: the index of the check in the launch's `healthChecks`; absent means 0. */
  healthCheck: z
    .number()
    .int()
    .min(0)
    .max(MAX_TASK_CHECKS - 1)
    .optional(),
  /** A readiness check's result, sent when it changes. */
  readiness: ReadinessResult.optional(),
  /** Epoch milliseconds at which the agent observed the state (or ran the check). */
  timestamp: z.number().nonnegative(),
});

export const Status = z.strictObject({
  type: z.literal("status"),
  updates: z.array(StatusUpdate).min(1).max(STATUS_LIMITS.updates),
});

export const ResourcesChanged = z.strictObject({
  type: z.literal("resources"),
  resources: Resources,
  attributes: Attributes.optional(),
});

export const ErrorFrame = z.strictObject({
  type: z.literal("error"),
  message: z.string(),
  details: z.array(z.unknown()).optional(),
});

/** Every frame an agent may send; `error` answers a master frame the agent could not use. */
export const AgentMessage = z.discriminatedUnion("type", [
  Register,
  Status,
  ResourcesChanged,
  LogData,
  Diagnostics,
  BundleData,
  ErrorFrame,
  ProxyHead,
  ProxyCredit,
  ProxyEnd,
  ProxyReset,
]);
export type AgentMessage = z.infer<typeof AgentMessage>;
export type Register = z.infer<typeof Register>;
export type StatusUpdate = z.infer<typeof StatusUpdate>;

export const Registered = z.strictObject({
  type: z.literal("registered"),
  agentId: z.string().min(1),
  /** Sent only on a first registration with a join token; the agent must keep it. */
  credential: z.string().min(1).optional(),
  pingIntervalMs: z.number().int().positive(),
  /**
   * After losing this master, wait a random delay in [0, reconnectWindowMs) before the first
   * reconnect (full jitter), so that a whole cluster dropped at once (a deploy resets the object)
   * comes back at about the rate the master admits. Sent only to agents whose `register` carried
   * `resume`: the frame is strict, and agents before it would refuse an unknown field.
   */
  reconnectWindowMs: z.number().int().nonnegative().optional(),
});

/**
 * The master turns a registration away (it came over the admission rate): nothing was written,
 * the session closes with TRY_AGAIN_LATER right after, and the agent should connect again in
 * `retryAfterMs` (the master spreads the refused agents over distinct slots).
 */
export const Retry = z.strictObject({
  type: z.literal("retry"),
  retryAfterMs: z.number().int().nonnegative(),
  message: z.string().max(256),
});

/**
 * The cluster's reconnect window, grown since this agent was told it (it registered when the
 * cluster was smaller): the `reconnectWindowMs` that `registered` would say now. The master sends
 * it to the agents whose `register` carried `resume` each time the window has grown by a quarter,
 * so that a cluster that grew does not come back from a deploy at the pace of its first agents.
 */
export const ReconnectWindow = z.strictObject({ type: z.literal("window"), reconnectWindowMs: z.number().int().nonnegative() });

/** How a task's process is started: `shell` runs under `/bin/sh -c`, `args` is executed directly. */
export const TaskCommand = z.union([z.strictObject({ shell: z.string().min(1) }), z.strictObject({ args: z.array(z.string()).min(1) })]);

/**
 * One published port of a BRIDGE container. The master resolves every number: `hostPort` is
 * the port placement reserved on the agent, `containerPort` the port inside the container
 * (Marathon's `containerPort: 0`, "same as the host port", arrives as the host port).
 */
export const TaskPortMapping = z.strictObject({
  hostPort: z.number().int().min(1).max(65535),
  containerPort: z.number().int().min(1).max(65535),
  /** Marathon's spelling: "udp,tcp" publishes the port for both protocols. */
  protocol: z.enum(["tcp", "udp", "udp,tcp"]),
});

/**
 * A Docker container for the task (the docker driver); absent for the exec driver. The master
 * only places such a task on an agent advertising the `docker` attribute (`DOCKER_ATTRIBUTE`).
 */
export const TaskContainer = z.strictObject({
  image: z.string().min(1),
  forcePullImage: z.boolean().default(false),
  privileged: z.boolean().default(false),
  network: z.enum(["BRIDGE", "HOST", "NONE"]).default("HOST"),
  parameters: z.array(z.strictObject({ key: z.string(), value: z.string() })).default([]),
  /** One per app port mapping, in the app's order; empty unless `network` is BRIDGE. */
  portMappings: z.array(TaskPortMapping).default([]),
  /** Host-path bind mounts, both paths absolute. */
  volumes: z.array(z.strictObject({ containerPath: z.string(), hostPath: z.string(), mode: z.enum(["RO", "RW"]) })).default([]),
});
export type TaskContainer = z.infer<typeof TaskContainer>;

/** One task to start. The master computes the environment (Marathon's task variables); the agent adds MESOS_SANDBOX. */
export const TaskLaunch = z.strictObject({
  taskId: z.string().min(1).max(512),
  /** The framework's name for the task (Marathon: the app id). */
  name: z.string(),
  command: TaskCommand.optional(),
  container: TaskContainer.optional(),
  resources: z.strictObject({ cpus: z.number(), mem: z.number(), disk: z.number(), gpus: z.number() }),
  /**
   * The task's host port for each port the app declares (port definitions, or port mappings on
   * BRIDGE), in the app's order; `PORT0..n` in `env`. A fixed port mapped for tcp and for udp
   * appears twice.
   */
  ports: z.array(z.number().int()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  /** Unix user to run as; absent means the agent's own user. */
  user: z.string().optional(),
  /** SIGTERM -> SIGKILL grace when the task is killed. */
  killGracePeriodMs: z.number().int().nonnegative().default(3000),
  /** Checks the agent runs while the task runs; results come back in status updates. */
  healthChecks: z.array(TaskHealthCheck).max(MAX_TASK_CHECKS).optional(),
  readinessChecks: z.array(TaskReadinessCheck).max(MAX_TASK_CHECKS).optional(),
});
export type TaskLaunch = z.infer<typeof TaskLaunch>;

export const Launch = z.strictObject({ type: z.literal("launch"), tasks: z.array(TaskLaunch) });

/**
 * One agent's launches as launch frames' JSON texts within MAX_FRAME_BYTES, which the agent
 * refuses past: all in one frame when they fit (the usual case: one launch frame per agent per
 * round), else as many consecutive tasks per frame as fit, so many tasks on one agent in one
 * round (an agent much bigger than the rest, or large environments) are never all lost to the
 * size of their frame. A single task past the limit stays alone in its frame: no split can
 * help it. Each task is serialized once, and each text is what JSON.stringify of the frame
 * writes: the master sends these texts as they are, instead of building and encoding each frame again.
 */
export function launchFrameTexts(tasks: readonly TaskLaunch[]): string[] {
  const head = '{"type":"launch","tasks":[';
  const tail = "]}";
  const frames: string[] = [];
  let part: string[] = [];
  let chars = head.length + tail.length;
  for (const task of tasks) {
    const text = JSON.stringify(task);
    const added = text.length + (part.length > 0 ? 1 : 0);
    if (part.length > 0 && chars + added > MAX_FRAME_BYTES) {
      frames.push(head + part.join(",") + tail);
      part = [];
      chars = head.length + tail.length;
    }
    chars += text.length + (part.length > 0 ? 1 : 0);
    part.push(text);
  }
  if (part.length > 0 || frames.length === 0) frames.push(head + part.join(",") + tail);
  return frames;
}
export const Kill = z.strictObject({
  type: z.literal("kill"),
  taskIds: z.array(z.string().min(1).max(512)),
  gracePeriodMs: z.number().int().nonnegative(),
});
export const Ack = z.strictObject({ type: z.literal("ack"), updateIds: z.array(z.string()) });
export const Reconcile = z.strictObject({ type: z.literal("reconcile"), taskIds: z.array(z.string().min(1).max(512)) });

/** Every frame the master may send. */
export const MasterMessage = z.discriminatedUnion("type", [
  Registered,
  Retry,
  ReconnectWindow,
  Launch,
  Kill,
  Ack,
  Reconcile,
  Logs,
  LogsCancel,
  Bundle,
  ErrorFrame,
  Vips,
  ProxyOpen,
  ProxyCredit,
  ProxyEnd,
  ProxyReset,
]);
export type MasterMessage = z.infer<typeof MasterMessage>;
export type Registered = z.infer<typeof Registered>;
export type Retry = z.infer<typeof Retry>;
export type ReconnectWindow = z.infer<typeof ReconnectWindow>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;

/** One problem in a frame, with a JSON-pointer-like path to the field. */
export interface FieldError {
  path: string;
  errors: string[];
}

/**
 * How deep a request body may nest: real bodies (an app, a group tree, a scheduler call) stay far
 * below it, and the recursive code behind the routes (merges, schemas, group trees, a call's
 * null-dropping walk) stays far from the stack's end.
 */
export const MAX_JSON_DEPTH = 64;

/** Turns zod issues into Marathon-style `[{path, errors}]`, one entry per field. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  const byPath = new Map<string, string[]>();
  for (const issue of error.issues) {
    const path = "/" + issue.path.map(String).join("/");
    byPath.set(path, [...(byPath.get(path) ?? []), issue.message]);
  }
  return [...byPath].map(([path, errors]) => ({ path, errors }));
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string; details?: FieldError[] };

/** Decodes and validates one text frame from either side. Never throws. */
export function parseFrame<T>(schema: z.ZodType<T>, data: string): ParseResult<T> {
  const json = frameJson(data);
  return json.ok ? checkFrame(schema, json.value) : json;
}

/** Decodes one text frame's JSON, within MAX_FRAME_BYTES. Never throws. */
export function frameJson(data: string): ParseResult<unknown> {
  if (data.length > MAX_FRAME_BYTES) return { ok: false, message: `frame too large: ${data.length} bytes, limit ${MAX_FRAME_BYTES}` };
  try {
    return { ok: true, value: JSON.parse(data) };
  } catch {
    return { ok: false, message: "frame is not valid JSON" };
  }
}

/** Validates a decoded frame against `schema`; what is wrong is named by its field path. */
export function checkFrame<T>(schema: z.ZodType<T>, json: unknown): ParseResult<T> {
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const details = fieldErrors(parsed.error);
  const type = typeof json === "object" && json !== null && "type" in json ? json.type : undefined;
  if (typeof type === "string" && details.some((d) => d.path === "/type")) {
    return { ok: false, message: `unknown message type '${type.slice(0, 64)}'`, details };
  }
  return { ok: false, message: "frame does not match the protocol", details };
}

/** A task of a launch frame that does not match the protocol, and why. */
export interface RefusedLaunch {
  taskId: string;
  message: string;
}

/**
 * A launch frame that failed the protocol as a whole, read task by task. One frame carries all
 * of a round's tasks for its agent, so one task the agent cannot read (a field from a newer
 * master, a value past a limit) must fail alone rather than cost the others their launch.
 * Undefined when the frame is not a launch frame at all (or is too large). A task without a
 * readable id cannot be answered: it is in neither list, and the caller logs the frame.
 */
export function launchTaskByTask(data: string): { tasks: TaskLaunch[]; refused: RefusedLaunch[] } | undefined {
  if (data.length > MAX_FRAME_BYTES) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return undefined;
  }
  const frame = z.object({ type: z.literal("launch"), tasks: z.array(z.unknown()) }).safeParse(json);
  if (!frame.success) return undefined;
  const tasks: TaskLaunch[] = [];
  const refused: RefusedLaunch[] = [];
  for (const raw of frame.data.tasks) {
    const task = TaskLaunch.safeParse(raw);
    if (task.success) {
      tasks.push(task.data);
      continue;
    }
    const id = z.object({ taskId: TaskLaunch.shape.taskId }).safeParse(raw);
    const problems = fieldErrors(task.error).map(({ path, errors }) => `${path}: ${errors.join("; ")}`);
    if (id.success) refused.push({ taskId: id.data.taskId, message: `launch does not match the protocol: ${problems.join(", ")}` });
  }
  return { tasks, refused };
}
