import { TaskHealthCheck, type StatusUpdate } from "../../../../protocol/index.ts";
import type { ClusterDb } from "../../db.ts";
import { recordCheckResult } from "../marathon/health.ts";
import { shouldKill, type HealthRules } from "../marathon/health-state.ts";
import { setTaskHealthy, type TaskRecord } from "../../tasks.ts";
import type { HealthCheck, TaskInfo } from "./calls.ts";
import { getFrameworkTask } from "./store.ts";

/**
 * A TaskInfo's `health_check` (Mesos's HealthCheck), run by the agent with the same HTTP, TCP
 * and COMMAND probes as Marathon's checks, and judged by the master as Mesos's executor
 * judges it: failures before the first success within `grace_period_seconds` are ignored; every
 * other failure, and the first success after failures (or ever), is a TASK_RUNNING update to the
 * framework with `healthy` and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED; `consecutive_failures`
 * failures in a row kill the task.
 */

/** Mesos's defaults (mesos.proto HealthCheck). */
const DEFAULTS = { delay: 15, interval: 10, timeout: 20, consecutiveFailures: 3, grace: 10 };

/** The host port a check probes: one of the task's ports, or a BRIDGE container port mapped to one. */
function hostPort(port: number, task: TaskInfo, ports: readonly number[]): number | undefined {
  if (ports.includes(port)) return port;
  const mapped = task.container?.docker?.network === "BRIDGE" ? task.container.docker.port_mappings?.find((m) => m.container_port === port) : undefined;
  return mapped && ports.includes(mapped.host_port) ? mapped.host_port : undefined;
}

function commandLine(hc: HealthCheck): string | undefined {
  const c = hc.command;
  if (!c) return undefined;
  if (c.shell === false) return [c.value ?? "", ...(c.arguments ?? []).slice(1)].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  return c.value;
}

/** The kind of check: `type`, or (as older frameworks send) whichever of http, tcp and command is set. */
function kindOf(hc: HealthCheck): HealthCheck["type"] {
  return hc.type ?? (hc.http ? "HTTP" : hc.tcp ? "TCP" : hc.command ? "COMMAND" : undefined);
}

/** The agent's check for a task's health_check; undefined without one, the problem (naming the field) when it cannot be run. */
export function agentHealthCheck(task: TaskInfo, ports: readonly number[]): TaskHealthCheck | string | undefined {
  const hc = task.health_check;
  if (!hc) return undefined;
  const timing = {
    intervalMs: Math.round((hc.interval_seconds ?? DEFAULTS.interval) * 1000),
    timeoutMs: Math.round((hc.timeout_seconds ?? DEFAULTS.timeout) * 1000),
    delayMs: Math.round((hc.delay_seconds ?? DEFAULTS.delay) * 1000),
  };
  const kind = kindOf(hc);
  let check: unknown;
  if (kind === "HTTP" || kind === "TCP") {
    const spec = kind === "HTTP" ? hc.http : hc.tcp;
    const field = kind === "HTTP" ? "http" : "tcp";
    if (!spec) return `health_check.${field} is required for a ${kind} check`;
    const port = hostPort(spec.port, task, ports);
    // Only the task's own ports: a check must not probe whatever else listens on the agent.
    if (port === undefined)
      return `health_check.${field}.port ${spec.port} is not among the task's ports resources (nor a BRIDGE container_port mapped to one)`;
    const ipProtocol = spec.protocol ?? "IPv4";
    check =
      kind === "TCP"
        ? { protocol: "TCP", port, ipProtocol, ...timing }
        : { protocol: hc.http?.scheme === "https" ? "HTTPS" : "HTTP", port, path: hc.http?.path ?? "/", ignoreHttp1xx: false, ipProtocol, ...timing };
  } else if (kind === "COMMAND") {
    const command = commandLine(hc);
    if (!command?.trim()) return "health_check.command.value is required for a COMMAND check";
    check = { protocol: "COMMAND", command, ...timing };
  } else {
    return "health_check needs type HTTP, TCP or COMMAND (with http, tcp or command)";
  }
  const parsed = TaskHealthCheck.safeParse(check);
  return parsed.success ? parsed.data : `health_check: ${parsed.error.issues.map((i) => `${i.path.join(".") || "check"} ${i.message}`).join("; ")}`;
}

function rulesOf(hc: HealthCheck): HealthRules {
  return { gracePeriodSeconds: hc.grace_period_seconds ?? DEFAULTS.grace, maxConsecutiveFailures: hc.consecutive_failures ?? DEFAULTS.consecutiveFailures };
}

/** What one result of an external task's check does: whether the framework is told, and whether the task must be killed. */
export interface HealthVerdict {
  tell: boolean;
  kill: boolean;
}

/** Judges one health result of an external framework's task (its check is the launch's only one, index 0). */
export function judgeHealth(db: ClusterDb, task: TaskRecord, update: StatusUpdate): HealthVerdict {
  const hc = getFrameworkTask(db, task.id)?.info?.health_check;
  if (!hc || update.healthy === undefined || (update.healthCheck ?? 0) !== 0 || task.endedAt !== null) return { tell: false, kill: false };
  const rules = rulesOf(hc);
  const { state, counted } = recordCheckResult(db, task, { ...update, healthy: update.healthy }, rules);
  if (!counted) return { tell: false, kill: false };
  if (task.healthy !== update.healthy) setTaskHealthy(db, task.id, update.healthy);
  return { tell: true, kill: !update.healthy && task.killRequestedAt === null && shouldKill(state, rules) };
}
