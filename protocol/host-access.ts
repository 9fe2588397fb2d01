import { z } from "zod";

/**
 * What a task asks of its host beyond its own sandbox, and what an agent allows of it.
 *
 * The agent is where this is enforced (agent/policy.ts checks each launch, resolving symlinks);
 * it also tells the master its allowances when it registers, so placement sends a task only to
 * an agent that would run it. Without that, a privileged app on agents that refuse privileged
 * containers would be launched, refused, backed off and launched again on the same agent, for
 * ever; with it, the app waits in the queue saying which allowance no agent has. The master's
 * check is by the paths as written: the agent's, by the paths as resolved, has the last word.
 */

/** An agent's allowances, from its policy flags (`--allow-privileged` and the rest). */
export const HostAllowances = z.strictObject({
  privileged: z.boolean(),
  rootTasks: z.boolean(),
  /** Capability names, uppercase without `CAP_`; `ALL` allows any. */
  capabilities: z.array(z.string().min(1).max(64)).max(64),
  hostPaths: z.array(z.string().min(1).max(4096)).max(64),
  devices: z.array(z.string().min(1).max(4096)).max(64),
});
export type HostAllowances = z.infer<typeof HostAllowances>;

/** What a task needs of its host; `undefined` (see `hostAccessOf`) when nothing. */
export interface HostAccess {
  privileged: boolean;
  root: boolean;
  capabilities: string[];
  hostPaths: string[];
  devices: string[];
}

/** The fields of a task (a launch, an app, a job run) that reach beyond its sandbox. */
export interface HostReach {
  user?: string;
  privileged?: boolean;
  parameters?: readonly { key: string; value: string }[];
  volumes?: readonly { hostPath?: string }[];
}

/** `cap_net_admin`, `CAP_NET_ADMIN` and `NET_ADMIN` are one capability to Docker. */
export function normalizeCapability(name: string): string {
  return name.trim().toUpperCase().replace(/^CAP_/, "");
}

/** What `task` needs of its host, or undefined when it stays within its sandbox. */
export function hostAccessOf(task: HostReach): HostAccess | undefined {
  const param = (name: string) => (task.parameters ?? []).filter((p) => p.key.replace(/^--?/, "") === name).map((p) => p.value);
  const access: HostAccess = {
    privileged: task.privileged === true,
    root: task.user === "root" || task.user === "0",
    capabilities: param("cap-add").map(normalizeCapability),
    hostPaths: (task.volumes ?? []).flatMap((v) => (v.hostPath ? [v.hostPath] : [])),
    devices: param("device").map((value) => value.split(":")[0] ?? ""),
  };
  const needsNothing = !access.privileged && !access.root && access.capabilities.length + access.hostPaths.length + access.devices.length === 0;
  return needsNothing ? undefined : access;
}

/** The reasons placement counts for agents that would refuse a task; static, so they tally in the queue. */
export const REFUSED_ACCESS = {
  privileged: "agent does not allow privileged containers (--allow-privileged)",
  root: "agent does not allow tasks as root (--allow-root-tasks)",
  capabilities: "agent does not allow an added capability (--allow-capabilities)",
  hostPaths: "agent does not allow a volume's host path (--allow-host-paths)",
  devices: "agent does not allow a device (--allow-devices)",
} as const;

/** `path` with repeated and trailing slashes dropped; undefined when relative or with `.`/`..` segments, which every agent refuses. */
function plainPath(path: string): string | undefined {
  if (!path.startsWith("/")) return undefined;
  const segments = path.split("/").filter((s) => s !== "");
  return segments.some((s) => s === "." || s === "..") ? undefined : `/${segments.join("/")}`;
}

/** Whether `path`, as written, lies under one of `prefixes`. */
function under(path: string, prefixes: readonly string[]): boolean {
  const plain = plainPath(path);
  if (plain === undefined) return false;
  return prefixes.some((prefix) => {
    const root = plainPath(prefix);
    return root !== undefined && (plain === root || plain.startsWith(root === "/" ? "/" : `${root}/`));
  });
}

/** The first reason (a REFUSED_ACCESS value) an agent with `allowed` would refuse `need`, or undefined. */
export function refusedAccess(need: HostAccess, allowed: HostAllowances): string | undefined {
  if (need.privileged && !allowed.privileged) return REFUSED_ACCESS.privileged;
  if (need.root && !allowed.rootTasks) return REFUSED_ACCESS.root;
  const anyCap = allowed.capabilities.includes("ALL");
  if (need.capabilities.some((cap) => (cap === "ALL" ? !anyCap : !anyCap && !allowed.capabilities.includes(cap)))) return REFUSED_ACCESS.capabilities;
  if (need.hostPaths.some((path) => !under(path, allowed.hostPaths))) return REFUSED_ACCESS.hostPaths;
  if (need.devices.some((path) => !under(path, allowed.devices))) return REFUSED_ACCESS.devices;
  return undefined;
}
