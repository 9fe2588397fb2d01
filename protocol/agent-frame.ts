import { AgentMessage, checkFrame, frameJson, type ParseResult, STATUS_LIMITS } from "./messages.ts";
import { TASK_STATES } from "./task-state.ts";

/**
 * The master's reading of an agent frame. Status frames are most of what a busy cluster reads
 * (100,000 updates in a few seconds while it places a large app), and the schema's check copies
 * every update it checks: a status frame of the usual shape (updates with id, task, state,
 * timestamp and at most a message) is checked here by hand instead, field by field against the
 * same limits as the schema (messages.ts `Status`), and taken as parsed. Anything else, and any
 * status frame this check does not take, goes through the schema, whose errors name the field;
 * so this check may refuse what the schema takes, but must never take what it refuses.
 */
export function parseAgentFrame(data: string): ParseResult<AgentMessage> {
  const json = frameJson(data);
  if (!json.ok) return json;
  if (isPlainStatus(json.value)) return { ok: true, value: json.value };
  return checkFrame(AgentMessage, json.value);
}

const STATES: ReadonlySet<string> = new Set(TASK_STATES);
/** The fields of an update this check knows (healthy, healthCheck and readiness go through the schema). */
const UPDATE_FIELDS: ReadonlySet<string> = new Set(["updateId", "taskId", "state", "message", "timestamp"]);

type PlainStatus = Extract<AgentMessage, { type: "status" }>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A status frame: `type` and `updates` and nothing else, 1 to STATUS_LIMITS.updates updates, each of the usual shape. */
function isPlainStatus(frame: unknown): frame is PlainStatus {
  if (!isRecord(frame) || frame.type !== "status") return false;
  let keys = 0;
  for (const key in frame) {
    if (key !== "type" && key !== "updates") return false;
    keys++;
  }
  const updates = frame.updates;
  if (keys !== 2 || !Array.isArray(updates) || updates.length < 1 || updates.length > STATUS_LIMITS.updates) return false;
  return updates.every(isPlainUpdate);
}

/** One update within StatusUpdate's limits, with no field but UPDATE_FIELDS. */
function isPlainUpdate(u: unknown): boolean {
  if (!isRecord(u)) return false;
  for (const key in u) if (!UPDATE_FIELDS.has(key)) return false;
  const { updateId, taskId, state, message, timestamp } = u;
  return (
    typeof updateId === "string" &&
    updateId.length >= 1 &&
    updateId.length <= STATUS_LIMITS.updateId &&
    typeof taskId === "string" &&
    taskId.length >= 1 &&
    taskId.length <= STATUS_LIMITS.taskId &&
    typeof state === "string" &&
    STATES.has(state) &&
    (message === undefined || (typeof message === "string" && message.length <= STATUS_LIMITS.message)) &&
    typeof timestamp === "number" &&
    Number.isFinite(timestamp) &&
    timestamp >= 0
  );
}
