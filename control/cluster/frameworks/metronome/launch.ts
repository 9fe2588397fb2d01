import { hostAccessOf } from "../../../../protocol/host-access.ts";
import type { TaskContainer, TaskLaunch } from "../../../../protocol/index.ts";
import type { Constraint, TaskRequest } from "../../allocator/place.ts";
import type { RunSpec } from "./job-spec.ts";

/** How a run's task is asked for and started: its id, its placement request, its launch frame. */

/** The framework name: in task rows, DRF shares, `/master/frameworks` and DNS (`{job}.metronome.mesos`). */
export const METRONOME = "metronome";

const DEFAULT_KILL_GRACE_SECONDS = 3;

/**
 * A run id as Metronome makes them: the UTC start time as `yyyyMMddHHmmss` and five random
 * characters (lowercase, so task ids and DNS names derived from them need no folding).
 */
export function newRunId(now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const random = [...crypto.getRandomValues(new Uint8Array(5))].map((b) => alphabet[b % alphabet.length]).join("");
  return `${stamp}${random}`;
}

/** `{jobId}_{runId}.{uuid}`, the id Metronome's tasks get through Marathon's launch queue. */
export function newTaskId(jobId: string, runId: string): string {
  return `${jobId}_${runId}.${crypto.randomUUID()}`;
}

/** Metronome's placement constraints in the allocator's form; EQ is Metronome's older name for IS. */
export function runConstraints(spec: RunSpec): Constraint[] {
  return spec.placement.constraints.map((c) => ({ field: c.attribute, operator: c.operator === "EQ" ? "IS" : c.operator, value: c.value }));
}

/** The request for one task of a run: a job task holds no ports. */
export function runRequest(jobId: string, spec: RunSpec): TaskRequest {
  const { cpus, mem, disk, gpus } = spec;
  const hostAccess = hostAccessOf({
    user: spec.user,
    privileged: spec.docker?.privileged,
    parameters: spec.docker?.parameters,
    volumes: spec.docker ? spec.volumes : undefined,
  });
  return {
    framework: METRONOME,
    group: jobId,
    count: 1,
    cpus,
    mem,
    disk,
    gpus,
    ports: [],
    constraints: runConstraints(spec),
    driver: spec.docker ? "docker" : "exec",
    hostAccess,
  };
}

function container(spec: RunSpec): TaskContainer | undefined {
  const docker = spec.docker;
  if (!docker) return undefined;
  const { image, forcePullImage, privileged, parameters } = docker;
  return { image, forcePullImage, privileged, network: "HOST", parameters, portMappings: [], volumes: spec.volumes };
}

/** The launch frame of a run's task; the job's `env` wins over the variables the master sets. */
export function runTaskLaunch(jobId: string, spec: RunSpec, taskId: string, host: string): TaskLaunch {
  const launch: TaskLaunch = {
    taskId,
    name: jobId,
    resources: { cpus: spec.cpus, mem: spec.mem, disk: spec.disk, gpus: spec.gpus },
    ports: [],
    env: { HOST: host, MESOS_TASK_ID: taskId, ...spec.env },
    killGracePeriodMs: Math.round((spec.taskKillGracePeriodSeconds ?? DEFAULT_KILL_GRACE_SECONDS) * 1000),
  };
  if (spec.cmd) launch.command = { shell: spec.cmd };
  else if (spec.args && spec.args.length > 0) launch.command = { args: spec.args };
  if (spec.user) launch.user = spec.user;
  const docker = container(spec);
  if (docker) launch.container = docker;
  return launch;
}
