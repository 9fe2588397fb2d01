import { existsSync, lstatSync, realpathSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { normalizeCapability } from "../protocol/index.ts";
import type { HostAllowances, TaskLaunch } from "../protocol/index.ts";
import type { TaskSpec } from "./drivers/task-spec.ts";
import { DEFAULT_TASK_USER, lookupUser } from "./drivers/users.ts";

/**
 * What this agent lets a task have of its host. The agent runs as root and its tasks come from
 * anyone who can deploy to the cluster, so everything that would reach the host beyond the
 * task's own sandbox is refused unless the operator allowed it with a flag: privileged
 * containers, host-path volumes (an allow-list of prefixes), added capabilities, devices, and
 * exec tasks running as root. The agent is the enforcement point: whatever the control plane
 * checks, a launch frame is checked here before any driver sees it. A refused launch ends in
 * TASK_ERROR with a message naming the flag that would allow it.
 */

/** The operator's allowances; the defaults (`DEFAULT_POLICY`) allow none of them. */
export interface AgentPolicy {
  allowPrivileged: boolean;
  /** Absolute host paths under which docker volumes may mount; symlinks are resolved at each check. */
  allowHostPaths: string[];
  /** Capability names, uppercase without `CAP_`; `ALL` allows any. */
  allowCapabilities: string[];
  /** Device paths (or directories of them) a docker `device` parameter may name. */
  allowDevices: string[];
  /** Exec tasks may run as uid 0 (a `user` that is root, or a root `taskUser`). */
  allowRootTasks: boolean;
  /** Who an exec task without a `user` runs as when the agent is root. */
  taskUser: string;
}

export const DEFAULT_POLICY: AgentPolicy = {
  allowPrivileged: false,
  allowHostPaths: [],
  allowCapabilities: [],
  allowDevices: [],
  allowRootTasks: false,
  taskUser: DEFAULT_TASK_USER,
};

/** A launch as the drivers may run it, or why this agent refuses it. */
export type Vetted<T extends Vettable = TaskLaunch> = { launch: T; refusal?: never } | { launch?: never; refusal: string };

/** What the policy reads of a task: a launch frame, or a driver's TaskSpec of one. */
export type Vettable = Pick<TaskSpec, "user" | "container">;

/**
 * Checks a launch against the policy. The launch handed back has every volume's host path
 * replaced by its resolved, symlink-free form: the path checked is the path Docker mounts.
 * `agentIsRoot` matters for exec tasks only: an agent that is not root cannot run anything as root.
 */
export function vetLaunch<T extends Vettable>(launch: T, policy: AgentPolicy, agentIsRoot: boolean, protectedPaths: readonly string[] = []): Vetted<T> {
  const container = launch.container;
  if (container === undefined) {
    const refusal = agentIsRoot ? rootTaskRefusal(launch, policy) : undefined;
    return refusal === undefined ? { launch } : { refusal };
  }
  if (container.privileged && !policy.allowPrivileged) {
    return { refusal: "privileged containers are refused by this agent; start it with --allow-privileged" };
  }
  const parameters: typeof container.parameters = [];
  for (const { key, value } of container.parameters) {
    const checked = checkParameter(key, value, policy);
    if ("refusal" in checked) return { refusal: checked.refusal };
    parameters.push({ key, value: checked.value });
  }
  const volumes: typeof container.volumes = [];
  for (const volume of container.volumes) {
    const resolved = allowedPath(volume.hostPath, policy.allowHostPaths);
    if ("refusal" in resolved) return { refusal: `volume ${volume.containerPath}: host path '${volume.hostPath}' ${resolved.refusal}` };
    const exposed = exposedPath(resolved.path, protectedPaths);
    if (exposed !== undefined) {
      return {
        refusal: `volume ${volume.containerPath}: host path '${volume.hostPath}' would expose the agent's own '${exposed}' (its credential, database and every task's sandbox, or the docker socket); refused whatever --allow-host-paths allows`,
      };
    }
    volumes.push({ ...volume, hostPath: resolved.path });
  }
  return { launch: { ...launch, container: { ...container, parameters, volumes } } };
}

/**
 * The protected path (the agent's work dir, the docker socket) that a resolved host path is,
 * lies inside, or contains; undefined when it touches none. An operator's broad allow-list
 * (`--allow-host-paths /var/lib`) must never hand a task the agent's identity or root on the host.
 */
function exposedPath(real: string, protectedPaths: readonly string[]): string | undefined {
  const within = (inner: string, outer: string) => inner === outer || inner.startsWith(outer === "/" ? "/" : `${outer}/`);
  for (const path of protectedPaths) {
    const guarded = resolveExisting(path);
    if (guarded !== undefined && (within(real, guarded) || within(guarded, real))) return path;
  }
  return undefined;
}

function rootTaskRefusal(launch: Vettable, policy: AgentPolicy): string | undefined {
  if (policy.allowRootTasks) return undefined;
  const name = launch.user ?? policy.taskUser;
  // An unknown user is the driver's to report (TASK_FAILED: another agent may have it).
  if (lookupUser(name)?.uid !== 0) return undefined;
  const who = launch.user === undefined ? `tasks without a user run as '${name}' (--task-user), which is root` : `user '${name}' is root`;
  return `${who}: tasks running as root are refused by this agent; start it with --allow-root-tasks`;
}

/** `docker run` flags that would hand the container the host's namespaces, files or security settings. */
const HOST_ACCESS_PARAMETERS: Record<string, string> = {
  privileged: "set container.docker.privileged instead (allowed by --allow-privileged)",
  volume: "use container.volumes (host paths allowed by --allow-host-paths)",
  v: "use container.volumes (host paths allowed by --allow-host-paths)",
  mount: "use container.volumes (host paths allowed by --allow-host-paths)",
  "volumes-from": "use container.volumes (host paths allowed by --allow-host-paths)",
  pid: "it shares a host namespace; no agent flag allows it",
  ipc: "it shares a host namespace; no agent flag allows it",
  uts: "it shares a host namespace; no agent flag allows it",
  userns: "it shares a host namespace; no agent flag allows it",
  cgroupns: "it shares a host namespace; no agent flag allows it",
  net: "use the app's networks (host networking is Marathon's default)",
  network: "use the app's networks (host networking is Marathon's default)",
  "security-opt": "it lifts the container's confinement; no agent flag allows it",
  "device-cgroup-rule": "it opens host devices; use device (allowed by --allow-devices)",
  "cgroup-parent": "it moves the container out of its limits; no agent flag allows it",
  sysctl: "it changes kernel settings; no agent flag allows it",
  runtime: "it changes the container runtime; no agent flag allows it",
};

/**
 * A `docker run` parameter as this agent lets it through, or why not. A device's host path is
 * handed on resolved, as volumes' are: the path checked is the path Docker opens.
 */
function checkParameter(key: string, value: string, policy: AgentPolicy): { value: string } | { refusal: string } {
  const name = key.replace(/^--?/, "");
  const hostAccess = HOST_ACCESS_PARAMETERS[name];
  if (hostAccess !== undefined) return { refusal: `docker parameter '${name}' is refused by this agent: ${hostAccess}` };
  if (name === "cap-add") {
    const cap = normalizeCapability(value);
    const allowed = policy.allowCapabilities.includes("ALL") || (cap !== "ALL" && policy.allowCapabilities.includes(cap));
    return allowed
      ? { value }
      : { refusal: `docker parameter cap-add '${value}': added capabilities are refused by this agent; start it with --allow-capabilities ${cap}` };
  }
  if (name === "device") {
    const [hostPath = "", ...rest] = value.split(":");
    const resolved = allowedPath(hostPath, policy.allowDevices, "--allow-devices");
    if ("refusal" in resolved) return { refusal: `docker parameter device '${value}': '${hostPath}' ${resolved.refusal}` };
    return { value: [resolved.path, ...rest].join(":") };
  }
  return { value };
}

/** The allowances this agent tells the master when it registers, so placement skips what it would refuse. */
export function allowancesOf(policy: AgentPolicy): HostAllowances {
  return {
    privileged: policy.allowPrivileged,
    rootTasks: policy.allowRootTasks,
    capabilities: policy.allowCapabilities,
    hostPaths: policy.allowHostPaths,
    devices: policy.allowDevices,
  };
}

/**
 * Resolves `path` as the kernel would when Docker mounts it (symlinks followed, for the part
 * that exists; Docker creates the rest) and checks it lies under one of `prefixes`, themselves
 * resolved. A path spelled with `.` or `..` is refused outright: lexical and physical `..`
 * disagree across symlinks, and an allowed path never needs one.
 */
export function allowedPath(path: string, prefixes: readonly string[], flag = "--allow-host-paths"): { path: string } | { refusal: string } {
  if (!posix.isAbsolute(path) || path.split("/").some((segment) => segment === "." || segment === "..")) {
    return { refusal: "must be an absolute path without . or .. segments" };
  }
  const real = resolveExisting(path);
  if (real === undefined) return { refusal: "leads through a symlink to nothing; refused" };
  for (const prefix of prefixes) {
    const root = resolveExisting(prefix);
    if (root === undefined || !existsSync(root)) continue;
    if (real === root || real.startsWith(root === "/" ? "/" : `${root}/`)) return { path: real };
  }
  const resolvedNote = real === posix.normalize(path) ? "" : ` (resolves to '${real}')`;
  return { refusal: `is not under a path this agent allows${resolvedNote}; start it with ${flag} naming it or a parent` };
}

/**
 * `path` with the symlinks of its longest existing ancestor resolved and the rest appended as
 * given (Docker creates it); undefined when a link there points at nothing, since whoever
 * creates the link's target later would choose what gets mounted.
 */
function resolveExisting(path: string): string | undefined {
  const normalized = posix.normalize(path).replace(/(.)\/+$/, "$1");
  let existing = normalized;
  const rest: string[] = [];
  while (lstatSync(existing, { throwIfNoEntry: false }) === undefined && existing !== "/") {
    rest.unshift(existing.slice(dirname(existing).length).replace(/^\//, ""));
    existing = dirname(existing);
  }
  try {
    return join(realpathSync(existing), ...rest);
  } catch {
    return undefined;
  }
}
