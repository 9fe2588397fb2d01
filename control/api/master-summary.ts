import type { ClusterSnapshot } from "../cluster/cluster.ts";
import { ApiError } from "../errors.ts";
import { DCX_VERSION, FRAMEWORK_NAMES, MESOS_API_VERSION, mesosFrameworkId, mesosResources, NO_RESOURCES, usedResources } from "./mesos-json.ts";

/**
 * The Mesos master's smaller endpoints (`src/master/http.cpp`): `/master/state-summary`,
 * `/master/flags`, `/master/roles`, `/version`, `/master/teardown`, and the `build_*` fields of
 * `/master/state`. Built from the same cluster snapshot as `/master/state`.
 */

/** The day DCX_VERSION was released: Mesos's `build_date`/`build_time` describe the software, not this cluster. */
const RELEASED = Date.UTC(2026, 10, 1);

/** Mesos's `build_*` fields (`/master/state`, `/version`). */
export const BUILD_FIELDS = {
  build_date: new Date(RELEASED).toISOString().replace("T", " ").slice(0, 19),
  build_time: RELEASED / 1000,
  build_user: "dcx",
  git_tag: `dcx-${DCX_VERSION}`,
};

/** `/version`: Mesos's version of the API DCX speaks, with DCX's build. */
export const versionJson = () => ({ ...BUILD_FIELDS, version: MESOS_API_VERSION });

/** The task states `/master/state-summary` counts, per framework and per agent. */
const SUMMARY_STATES = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_KILLED",
  "TASK_FAILED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_UNREACHABLE",
];

function stateCounts(tasks: ClusterSnapshot["tasks"]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(SUMMARY_STATES.map((s) => [s, 0]));
  for (const t of tasks) if (t.state in out) out[t.state] = (out[t.state] ?? 0) + 1;
  return out;
}

/** `/master/state-summary`: agents and frameworks with their task counts by state (what the DC/OS UI reads). */
export function stateSummary(s: ClusterSnapshot, clusterName: string, host: string) {
  const all = [...s.tasks, ...s.completedTasks];
  const agents = s.agents.filter((a) => a.state !== "unreachable");
  return {
    hostname: host,
    cluster: clusterName,
    slaves: agents.map((a) => {
      const tasks = all.filter((t) => t.agentId === a.id);
      const usage = s.usage[a.id];
      return {
        id: a.id,
        pid: `slave(1)@${a.ip}:5051`,
        hostname: a.hostname,
        registered_time: a.registeredAt / 1000,
        resources: mesosResources(a.resources),
        used_resources: usedResources(usage),
        attributes: a.attributes,
        active: a.state === "active",
        version: a.version,
        ...stateCounts(tasks),
        framework_ids: [...new Set(tasks.map((t) => mesosFrameworkId(s.masterId, t.framework)))],
      };
    }),
    frameworks: FRAMEWORK_NAMES.map((name) => {
      const tasks = all.filter((t) => t.framework === name);
      return {
        id: mesosFrameworkId(s.masterId, name),
        name,
        hostname: host,
        active: true,
        ...stateCounts(tasks),
        slave_ids: [...new Set(s.tasks.filter((t) => t.framework === name).map((t) => t.agentId))],
      };
    }),
  };
}

/** `/master/flags`: the master settings DCX has, under Mesos's flag names. */
export function flagsJson(agentTimeoutMs: number) {
  return {
    flags: {
      allocation_interval: "1secs",
      authenticate_agents: "true",
      authenticate_frameworks: "true",
      authenticate_http_readonly: "true",
      authenticate_http_readwrite: "true",
      agent_ping_timeout: `${agentTimeoutMs / 1000}secs`,
      max_agent_ping_timeouts: "1",
      max_completed_tasks_per_framework: "1000",
      role_sorter: "drf",
      framework_sorter: "drf",
      registry: "durable_object",
      version: "false",
    },
  };
}

/** `/master/roles`: the one role `*`, holding everything the built-in frameworks run. */
export function rolesJson(s: ClusterSnapshot) {
  const used = Object.values(s.usage).reduce(
    (sum, u) => ({ cpus: sum.cpus + u.cpus, gpus: sum.gpus + u.gpus, mem: sum.mem + u.mem, disk: sum.disk + u.disk }),
    { cpus: 0, gpus: 0, mem: 0, disk: 0 },
  );
  const allocated = mesosResources({ ...used, ports: [] });
  return {
    roles: [
      {
        name: "*",
        weight: 1.0,
        frameworks: FRAMEWORK_NAMES.map((n) => mesosFrameworkId(s.masterId, n)),
        resources: allocated,
        allocated,
        offered: NO_RESOURCES,
        reserved: NO_RESOURCES,
        quota: { role: "*", consumed: {}, guarantee: {}, limit: {} },
      },
    ],
  };
}

/**
 * `POST /master/teardown` (`frameworkId=<id>`, form or query): removes a framework and kills
 * its tasks. The built-in frameworks are part of the cluster: tearing one down is refused,
 * naming it and what to do instead. Throws an ApiError; external frameworks, once they
 * exist, are torn down here.
 */
export function teardownFramework(s: ClusterSnapshot, frameworkId: string | undefined): never {
  if (!frameworkId)
    throw new ApiError("malformed", "Missing 'frameworkId': send frameworkId=<id> in the form body.", [{ path: "frameworkId", errors: ["is required"] }]);
  const builtIn = FRAMEWORK_NAMES.find((name) => mesosFrameworkId(s.masterId, name) === frameworkId);
  if (builtIn !== undefined) {
    const instead = builtIn === FRAMEWORK_NAMES[0] ? "remove its apps with DELETE /v2/apps/{id}" : "remove its jobs with DELETE /v1/jobs/{id}";
    throw new ApiError("conflict", `Framework ${frameworkId} is DCX's built-in ${builtIn}, which cannot be torn down; ${instead}.`, [
      { path: "frameworkId", errors: [`is the built-in ${builtIn}`] },
    ]);
  }
  throw new ApiError("malformed", `No framework found with specified ID '${frameworkId.slice(0, 128)}'.`, [
    { path: "frameworkId", errors: ["names no framework"] },
  ]);
}
