import { SchedulerCall } from "./calls.ts";

/**
 * The schema check of a scheduler call (read-call.ts), fast for the usual shapes. A busy framework's calls are mostly ACCEPTs of
 * plain command tasks (tens of TaskInfos each), DECLINEs and ACKNOWLEDGEs, and the schema's
 * check walks and copies every TaskInfo: a call of the usual shape is checked here by hand
 * instead, field by field against the schema's limits (calls.ts), and taken as it is. Anything
 * else goes through the schema, whose errors name the field; so this check may leave to the
 * schema what the schema takes, but must never take what it refuses, nor take a call in a
 * shape the schema would change (an unknown field it strips, a default it fills in): a call
 * taken here is the schema's output as it stands.
 */
export function parseSchedulerCall(json: unknown): ReturnType<typeof SchedulerCall.safeParse> {
  if (isPlainCall(json)) return { success: true, data: json };
  return SchedulerCall.safeParse(json);
}

type Plain = Record<string, unknown>;

function isRecord(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether every own key of `value` is in `keys` (for..in: JSON.parse makes only own, enumerable keys). */
function onlyKeys(value: Plain, keys: ReadonlySet<string>): boolean {
  for (const key in value) if (!keys.has(key)) return false;
  return true;
}

const isString = (v: unknown, min: number, max: number): v is string => typeof v === "string" && v.length >= min && v.length <= max;
const isNumber = (v: unknown, min: number, max: number): v is number => typeof v === "number" && Number.isFinite(v) && v >= min && v <= max;
/** An optional field: absent, or present and fitting. */
const optional = (v: unknown, fits: (v: unknown) => boolean) => v === undefined || fits(v);

const ID_KEYS: ReadonlySet<string> = new Set(["value"]);
/** calls.ts `Id`. */
const isId = (v: unknown) => isRecord(v) && onlyKeys(v, ID_KEYS) && isString(v.value, 1, 255);
const isIds = (v: unknown, max: number) => Array.isArray(v) && v.length <= max && v.every(isId);

const FILTER_KEYS: ReadonlySet<string> = new Set(["refuse_seconds"]);
const isFilters = (v: unknown) => isRecord(v) && onlyKeys(v, FILTER_KEYS) && optional(v.refuse_seconds, (s) => isNumber(s, 0, Number.MAX_VALUE));

const RESOURCE_KEYS: ReadonlySet<string> = new Set(["name", "type", "scalar", "role"]);
const RESOURCE_TYPES: ReadonlySet<unknown> = new Set(["SCALAR", "RANGES", "SET", "TEXT"]);
const SCALAR_KEYS: ReadonlySet<string> = new Set(["value"]);
/** calls.ts `Resource` without ranges (a task with ports goes through the schema). */
function isScalarResource(r: unknown): boolean {
  if (!isRecord(r) || !onlyKeys(r, RESOURCE_KEYS) || !isString(r.name, 1, 64)) return false;
  if (r.type !== undefined && !RESOURCE_TYPES.has(r.type)) return false;
  const scalar = r.scalar;
  if (scalar !== undefined && !(isRecord(scalar) && onlyKeys(scalar, SCALAR_KEYS) && isNumber(scalar.value, 0, 1e12))) return false;
  return optional(r.role, (role) => isString(role, 0, 255));
}

const COMMAND_KEYS: ReadonlySet<string> = new Set(["value", "shell"]);
/** calls.ts `CommandInfo` with a value and a shell flag at most. */
const isPlainCommand = (c: unknown) =>
  isRecord(c) && onlyKeys(c, COMMAND_KEYS) && optional(c.value, (v) => isString(v, 0, 65_536)) && optional(c.shell, (s) => typeof s === "boolean");

const TASK_KEYS: ReadonlySet<string> = new Set(["name", "task_id", "agent_id", "resources", "command"]);
/** calls.ts `TaskInfo` of a plain command task: resources given (the schema would default them), no container, check or labels. */
function isPlainTask(t: unknown): boolean {
  if (!isRecord(t) || !onlyKeys(t, TASK_KEYS) || !isString(t.name, 0, 1024) || !isId(t.task_id) || !isId(t.agent_id)) return false;
  const resources = t.resources;
  return Array.isArray(resources) && resources.length <= 100 && resources.every(isScalarResource) && optional(t.command, isPlainCommand);
}

const OPERATION_KEYS: ReadonlySet<string> = new Set(["type", "launch"]);
const LAUNCH_KEYS: ReadonlySet<string> = new Set(["task_infos"]);
/** calls.ts `Operation`: a LAUNCH of plain tasks (LAUNCH_GROUP, ids and other operations go through the schema). */
function isPlainLaunch(op: unknown): boolean {
  if (!isRecord(op) || !onlyKeys(op, OPERATION_KEYS) || op.type !== "LAUNCH" || !isRecord(op.launch) || !onlyKeys(op.launch, LAUNCH_KEYS)) return false;
  const tasks = op.launch.task_infos;
  return Array.isArray(tasks) && tasks.length <= 1000 && tasks.every(isPlainTask);
}

const ACCEPT_KEYS: ReadonlySet<string> = new Set(["offer_ids", "operations", "filters"]);
const DECLINE_KEYS: ReadonlySet<string> = new Set(["offer_ids", "filters"]);
const ACK_KEYS: ReadonlySet<string> = new Set(["agent_id", "task_id", "uuid"]);

/** The call types checked here, with their body's field and its check; the other types go through the schema. */
const BODIES: Record<string, { field: string; fits(body: unknown): boolean }> = {
  ACCEPT: {
    field: "accept",
    fits: (b) =>
      isRecord(b) &&
      onlyKeys(b, ACCEPT_KEYS) &&
      isIds(b.offer_ids, 1000) &&
      Array.isArray(b.operations) &&
      b.operations.length <= 1000 &&
      b.operations.every(isPlainLaunch) &&
      optional(b.filters, isFilters),
  },
  DECLINE: { field: "decline", fits: (b) => isRecord(b) && onlyKeys(b, DECLINE_KEYS) && isIds(b.offer_ids, 1000) && optional(b.filters, isFilters) },
  ACKNOWLEDGE: {
    field: "acknowledge",
    fits: (b) => isRecord(b) && onlyKeys(b, ACK_KEYS) && isId(b.agent_id) && isId(b.task_id) && isString(b.uuid, 1, 64),
  },
};

/**
 * An ACCEPT, DECLINE or ACKNOWLEDGE of the usual shape: `type`, `framework_id` and the call's
 * own field, nothing else. It walks only that shape's fields, so any value may be asked, however
 * deep; and a call it takes holds no null anywhere (each field it allows is checked for its type).
 */
export function isPlainCall(call: unknown): call is SchedulerCall {
  if (!isRecord(call) || typeof call.type !== "string" || !Object.hasOwn(BODIES, call.type) || !isId(call.framework_id)) return false;
  const body = BODIES[call.type];
  if (body === undefined) return false;
  let keys = 0;
  for (const _ in call) keys++;
  return keys === 3 && body.fits(call[body.field]);
}
