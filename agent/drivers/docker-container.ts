import type { TaskSpec, TaskSpecPortMapping } from "./task-spec.ts";
import type { ContainerCreate } from "./docker-api.ts";
import { TaskStartError } from "./driver.ts";

/**
 * How a launch becomes a Docker container, as the Mesos Docker containerizer does it:
 * - `cmd` (a shell command) replaces the image's entrypoint: `/bin/sh -c <cmd>`;
 * - `args` are handed to the image's own entrypoint as its arguments;
 * - neither runs the image as built.
 * The sandbox is mounted at /mnt/mesos/sandbox (MESOS_SANDBOX), the task's `cpus` become a CPU
 * quota and its `mem` a memory limit without swap, and every container carries the labels the
 * agent finds it by after a restart.
 */

/** Where the sandbox appears inside the container, as with Mesos. */
export const CONTAINER_SANDBOX = "/mnt/mesos/sandbox";
/** CFS period for the CPU quota: 100 ms, Docker's and the kernel's default. */
const CPU_PERIOD_US = 100_000;
/** Docker refuses memory limits under 6 MiB. */
const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

/** The labels on every container the driver starts. */
export const LABEL_TASK = "dcx.task_id";
export const LABEL_AGENT = "dcx.agent_id";
export const LABEL_APP = "dcx.app_id";

export interface ContainerContext {
  sandbox: string;
  agentId: string;
  /** The agent's DNS forwarder, reachable from host-network containers only. */
  dns?: string;
}

/** The container's name: unique per task, in Docker's name alphabet. */
export function containerName(sandboxName: string): string {
  return `dcx-${sandboxName}`;
}

/** The `POST /containers/create` body for a launch. Throws a TaskStartError for what Docker cannot do. */
export function containerSpec(launch: TaskSpec, context: ContainerContext): ContainerCreate {
  const container = launch.container;
  if (container === undefined) throw new TaskStartError("the docker driver needs a container");
  const env: Record<string, string> = { ...launch.env, MESOS_SANDBOX: CONTAINER_SANDBOX, MESOS_TASK_ID: launch.taskId };
  if (container.network === "HOST" && context.dns !== undefined) env.DCX_DNS = context.dns;
  const spec: ContainerCreate = {
    Image: container.image,
    Env: [],
    Labels: {
      [LABEL_TASK]: launch.taskId,
      [LABEL_AGENT]: context.agentId,
      [LABEL_APP]: launch.env.MARATHON_APP_ID ?? launch.name,
    },
    HostConfig: {
      NetworkMode: container.network.toLowerCase(),
      Binds: [`${context.sandbox}:${CONTAINER_SANDBOX}:rw`, ...container.volumes.map((v) => `${v.hostPath}:${v.containerPath}:${v.mode.toLowerCase()}`)],
      Memory: Math.max(MIN_MEMORY_BYTES, Math.round(launch.resources.mem * 1024 * 1024)),
      CpuPeriod: CPU_PERIOD_US,
      // The kernel's floor is 1 ms per period.
      CpuQuota: Math.max(1000, Math.round(launch.resources.cpus * CPU_PERIOD_US)),
      Privileged: container.privileged,
    },
  };
  // No swap: the memory limit is the whole budget, as with the exec driver's cgroup.
  spec.HostConfig.MemorySwap = spec.HostConfig.Memory;
  const command = launch.command;
  if (command !== undefined && "shell" in command) {
    spec.Entrypoint = ["/bin/sh", "-c"];
    spec.Cmd = [command.shell];
  } else if (command !== undefined) {
    spec.Cmd = command.args;
  }
  if (container.network === "BRIDGE") addPortBindings(spec, container.portMappings);
  for (const { key, value } of container.parameters) applyParameter(spec, env, key, value);
  spec.Env = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return spec;
}

function addPortBindings(spec: ContainerCreate, mappings: TaskSpecPortMapping[]): void {
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const mapping of mappings) {
    // Marathon writes "udp,tcp" for a port open on both.
    for (const protocol of mapping.protocol.split(",")) {
      const key = `${mapping.containerPort}/${protocol.trim().toLowerCase()}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: "", HostPort: String(mapping.hostPort) });
    }
  }
  spec.ExposedPorts = exposed;
  spec.HostConfig.PortBindings = bindings;
}

/** `--device HOST[:CONTAINER[:PERMISSIONS]]`, as `docker run` reads it. */
function deviceMapping(value: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const [onHost = "", inContainer = onHost, permissions = "rwm"] = value.split(":");
  if (onHost === "" || !/^[rwm]{1,3}$/.test(permissions))
    throw new TaskStartError(`docker parameter device '${value}': expected HOST_PATH[:CONTAINER_PATH[:rwm]]`);
  return { PathOnHost: onHost, PathInContainer: inContainer, CgroupPermissions: permissions };
}

/**
 * Marathon's `docker.parameters` are `docker run` flags. The ones below map onto the API; any
 * other is refused by name rather than silently dropped, so the task fails saying what to fix.
 * What may reach the host (cap-add, device, and the host-namespace flags refused outright) is
 * the agent's policy (policy.ts), checked before this runs.
 */
function applyParameter(spec: ContainerCreate, env: Record<string, string>, key: string, value: string): void {
  const host = spec.HostConfig;
  switch (key.replace(/^--?/, "")) {
    case "label":
    case "l": {
      const [name = "", ...rest] = value.split("=");
      if (name === "" || name.startsWith("dcx."))
        throw new TaskStartError(`docker parameter label '${value}': a label name is required and 'dcx.' labels are the agent's own`);
      spec.Labels[name] = rest.join("=");
      return;
    }
    case "env":
    case "e": {
      const [name = "", ...rest] = value.split("=");
      if (name === "") throw new TaskStartError(`docker parameter env '${value}': expected NAME=value`);
      env[name] = rest.join("=");
      return;
    }
    case "hostname":
    case "h":
      spec.Hostname = value;
      return;
    case "user":
    case "u":
      spec.User = value;
      return;
    case "workdir":
    case "w":
      spec.WorkingDir = value;
      return;
    case "add-host":
      (host.ExtraHosts ??= []).push(value);
      return;
    case "cap-add":
      (host.CapAdd ??= []).push(value);
      return;
    case "cap-drop":
      (host.CapDrop ??= []).push(value);
      return;
    case "dns":
      (host.Dns ??= []).push(value);
      return;
    case "device":
      (host.Devices ??= []).push(deviceMapping(value));
      return;
    default:
      throw new TaskStartError(
        `docker parameter '${key}' is not supported (supported: label, env, hostname, user, workdir, add-host, cap-add, cap-drop, dns, device)`,
      );
  }
}
