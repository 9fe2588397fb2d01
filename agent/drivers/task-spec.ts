/**
 * What a driver needs to start a task: the driver's own view of a launch, in plain types. The
 * agent hands drivers the launch frame it received (protocol/messages.ts `TaskLaunch`), which
 * TypeScript checks against this shape where the task host calls a driver; so a change to the
 * wire protocol that a driver would feel fails to compile there, and no driver imports the
 * protocol (the import rule `drivers-without-wire-protocol` in .dependency-cruiser.cjs).
 */

/** How the task's process is started: `shell` runs under `/bin/sh -c`, `args` is executed directly. */
export type TaskSpecCommand = { shell: string } | { args: string[] };

/** One published port of a BRIDGE container, both numbers resolved by the master. */
export interface TaskSpecPortMapping {
  hostPort: number;
  containerPort: number;
  /** Marathon's spelling: "udp,tcp" publishes the port for both protocols. */
  protocol: "tcp" | "udp" | "udp,tcp";
}

/** A Docker container for the task (the docker driver); absent for the exec driver. */
export interface TaskSpecContainer {
  image: string;
  forcePullImage: boolean;
  privileged: boolean;
  network: "BRIDGE" | "HOST" | "NONE";
  parameters: { key: string; value: string }[];
  portMappings: TaskSpecPortMapping[];
  /** Host-path bind mounts, both paths absolute. */
  volumes: { containerPath: string; hostPath: string; mode: "RO" | "RW" }[];
}

/** One task for a driver to start. */
export interface TaskSpec {
  taskId: string;
  /** The framework's name for the task (Marathon: the app id). */
  name: string;
  command?: TaskSpecCommand;
  container?: TaskSpecContainer;
  resources: { cpus: number; mem: number; disk: number; gpus: number };
  /** The environment the master computed (Marathon's task variables); the driver adds the sandbox's. */
  env: Record<string, string>;
  /** Unix user to run as; absent means the agent's own user (or its --task-user when root). */
  user?: string;
}
