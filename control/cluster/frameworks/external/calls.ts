import { z } from "zod";

/**
 * The Mesos v1 scheduler API's calls in their JSON form (mesos/v1/scheduler/scheduler.proto,
 * mesos/v1/mesos.proto), as the Worker validates them and the Cluster object receives them.
 * Protobuf JSON: field names in snake_case, enums as their names, `bytes` as Base64. Objects
 * are not strict: a newer client may send fields this master does not know, which Mesos
 * ignores too. What is structurally wrong is a 400; what is wrong about a task (resources it
 * was not offered, a custom executor) is that task's TASK_ERROR.
 */

const Id = z.object({ value: z.string().min(1).max(255) });
const Label = z.object({ key: z.string().max(1024), value: z.string().max(4096).optional() });
const Labels = z.object({ labels: z.array(Label).max(100).default([]) });
const Filters = z.object({ refuse_seconds: z.number().nonnegative().optional() });
const Roles = z.array(z.string().min(1).max(255)).max(32);

export const FrameworkInfo = z.object({
  user: z.string().max(255),
  name: z.string().min(1).max(255),
  id: Id.optional(),
  /** Seconds a disconnected framework keeps its tasks before it is torn down. */
  failover_timeout: z.number().nonnegative().max(1e10).optional(),
  checkpoint: z.boolean().optional(),
  role: z.string().min(1).max(255).optional(),
  roles: Roles.optional(),
  hostname: z.string().max(255).optional(),
  principal: z.string().max(255).optional(),
  webui_url: z.string().max(2048).optional(),
  capabilities: z
    .array(z.object({ type: z.string().max(64) }))
    .max(32)
    .optional(),
  labels: Labels.optional(),
});
export type FrameworkInfo = z.infer<typeof FrameworkInfo>;

export const Resource = z.object({
  name: z.string().min(1).max(64),
  type: z.enum(["SCALAR", "RANGES", "SET", "TEXT"]).optional(),
  scalar: z.object({ value: z.number().nonnegative().max(1e12) }).optional(),
  ranges: z.object({ range: z.array(z.object({ begin: z.number().int().min(0).max(65535), end: z.number().int().min(0).max(65535) })).max(1000) }).optional(),
  role: z.string().max(255).optional(),
});
export type Resource = z.infer<typeof Resource>;

const CommandInfo = z.object({
  value: z.string().max(65_536).optional(),
  shell: z.boolean().optional(),
  arguments: z.array(z.string().max(65_536)).max(1000).optional(),
  environment: z
    .object({
      variables: z.array(z.object({ name: z.string().min(1).max(1024), value: z.string().max(65_536).optional(), type: z.string().optional() })).max(1000),
    })
    .optional(),
  user: z.string().max(255).optional(),
  uris: z
    .array(z.object({ value: z.string() }))
    .max(100)
    .optional(),
});

const DockerInfo = z.object({
  image: z.string().min(1).max(1024),
  network: z.enum(["HOST", "BRIDGE", "NONE", "USER"]).optional(),
  port_mappings: z
    .array(
      z.object({ host_port: z.number().int().min(1).max(65535), container_port: z.number().int().min(1).max(65535), protocol: z.string().max(16).optional() }),
    )
    .max(100)
    .optional(),
  privileged: z.boolean().optional(),
  parameters: z
    .array(z.object({ key: z.string().max(1024), value: z.string().max(4096) }))
    .max(100)
    .optional(),
  force_pull_image: z.boolean().optional(),
});

export const ContainerInfo = z.object({
  type: z.enum(["DOCKER", "MESOS"]),
  docker: DockerInfo.optional(),
  mesos: z
    .object({ image: z.object({ type: z.string().optional(), docker: z.object({ name: z.string().min(1).max(1024) }).optional() }).optional() })
    .optional(),
  volumes: z
    .array(z.object({ container_path: z.string().min(1).max(4096), host_path: z.string().max(4096).optional(), mode: z.enum(["RO", "RW"]).optional() }))
    .max(100)
    .optional(),
});

const Seconds = z.number().nonnegative().max(86_400);
const CheckPort = z.number().int().min(1).max(65535);

/** Mesos's HealthCheck (mesos.proto): run by the agent next to the task, as Marathon's checks are. */
export const HealthCheck = z.object({
  type: z.enum(["COMMAND", "HTTP", "TCP"]).optional(),
  http: z
    .object({
      port: CheckPort,
      path: z.string().max(1024).optional(),
      scheme: z.enum(["http", "https"]).optional(),
      protocol: z.enum(["IPv4", "IPv6"]).optional(),
    })
    .optional(),
  tcp: z.object({ port: CheckPort, protocol: z.enum(["IPv4", "IPv6"]).optional() }).optional(),
  command: CommandInfo.optional(),
  delay_seconds: Seconds.optional(),
  interval_seconds: z.number().positive().max(86_400).optional(),
  timeout_seconds: z.number().positive().max(86_400).optional(),
  consecutive_failures: z.number().int().nonnegative().max(1000).optional(),
  grace_period_seconds: Seconds.optional(),
});
export type HealthCheck = z.infer<typeof HealthCheck>;

export const TaskInfo = z.object({
  name: z.string().max(1024),
  task_id: Id,
  agent_id: Id,
  resources: z.array(Resource).max(100).default([]),
  command: CommandInfo.optional(),
  container: ContainerInfo.optional(),
  /** Present only to be refused: DCX's agents run no custom executors. */
  executor: z.object({ type: z.string().optional(), executor_id: Id.optional() }).optional(),
  kill_policy: z.object({ grace_period: z.object({ nanoseconds: z.number().int().nonnegative() }).optional() }).optional(),
  health_check: HealthCheck.optional(),
  labels: Labels.optional(),
  data: z.string().max(1_000_000).optional(),
});
export type TaskInfo = z.infer<typeof TaskInfo>;

const Operation = z.object({
  type: z.string().max(64),
  id: Id.optional(),
  launch: z.object({ task_infos: z.array(TaskInfo).max(1000) }).optional(),
  launch_group: z
    .object({ executor: z.object({ type: z.string().optional() }).optional(), task_group: z.object({ tasks: z.array(TaskInfo).min(1).max(100) }) })
    .optional(),
});
export type Operation = z.infer<typeof Operation>;

const TaskRef = z.object({ task_id: Id, agent_id: Id.optional() });

/** Every call's envelope; the body field for the call's type is checked by `requireBody`. */
export const SchedulerCall = z.object({
  type: z.string().min(1).max(64),
  framework_id: Id.optional(),
  subscribe: z.object({ framework_info: FrameworkInfo, suppressed_roles: Roles.optional() }).optional(),
  accept: z.object({ offer_ids: z.array(Id).max(1000), operations: z.array(Operation).max(1000).default([]), filters: Filters.optional() }).optional(),
  decline: z.object({ offer_ids: z.array(Id).max(1000), filters: Filters.optional() }).optional(),
  revive: z.object({ roles: Roles.optional() }).optional(),
  suppress: z.object({ roles: Roles.optional() }).optional(),
  kill: z
    .object({
      task_id: Id,
      agent_id: Id.optional(),
      kill_policy: z.object({ grace_period: z.object({ nanoseconds: z.number().int().nonnegative() }).optional() }).optional(),
    })
    .optional(),
  acknowledge: z.object({ agent_id: Id, task_id: Id, uuid: z.string().min(1).max(64) }).optional(),
  reconcile: z.object({ tasks: z.array(TaskRef).max(10_000).default([]) }).optional(),
  update_framework: z.object({ framework_info: FrameworkInfo, suppressed_roles: Roles.optional() }).optional(),
});
export type SchedulerCall = z.infer<typeof SchedulerCall>;

/** The call types DCX answers, and the body field each requires (null: none). */
export const CALL_BODIES = {
  SUBSCRIBE: "subscribe",
  TEARDOWN: null,
  ACCEPT: "accept",
  DECLINE: "decline",
  REVIVE: null,
  SUPPRESS: null,
  KILL: "kill",
  ACKNOWLEDGE: "acknowledge",
  RECONCILE: null,
  UPDATE_FRAMEWORK: "update_framework",
  // Accepted and ignored, as Mesos's default allocator and a cluster without custom executors do.
  MESSAGE: null,
  REQUEST: null,
  SHUTDOWN: null,
  ACCEPT_INVERSE_OFFERS: null,
  DECLINE_INVERSE_OFFERS: null,
} as const satisfies Record<string, keyof SchedulerCall | null>;
export type CallType = keyof typeof CALL_BODIES;

/** Offer operations DCX carries out; the others (reservations, volumes) are refused whole. */
export const SUPPORTED_OPERATIONS = new Set(["LAUNCH", "LAUNCH_GROUP"]);

/** A call checked beyond its shape: a known type with its body. Returns the problem, if any. */
export function callProblem(call: SchedulerCall): string | undefined {
  if (!(call.type in CALL_BODIES)) return `unknown call type '${call.type.slice(0, 64)}'`;
  const body = CALL_BODIES[call.type as CallType];
  if (body !== null && call[body] === undefined) return `a ${call.type} call needs its '${body}' field`;
  if (call.type !== "SUBSCRIBE" && call.framework_id === undefined) return `a ${call.type} call needs 'framework_id'`;
  for (const op of call.accept?.operations ?? []) {
    if (!SUPPORTED_OPERATIONS.has(op.type)) return `offer operation '${op.type.slice(0, 64)}' is not supported: DCX carries out LAUNCH and LAUNCH_GROUP`;
    const field = op.type === "LAUNCH" ? op.launch : op.launch_group;
    if (field === undefined) return `a ${op.type} operation needs its '${op.type.toLowerCase()}' field`;
  }
  return undefined;
}
