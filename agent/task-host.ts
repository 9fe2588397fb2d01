import type { MasterMessage, Register } from "../protocol/index.ts";
import type { Logger } from "./log.ts";

/** One task as the agent reports it in `register`. */
export type TaskReport = Register["tasks"][number];

/** The master's frames that concern tasks rather than the session itself. */
export type MasterCommand = Exclude<MasterMessage, { type: "registered" } | { type: "error" }>;

/**
 * Where task drivers (exec, docker) plug into the agent. The connection knows nothing about
 * tasks: it asks the host what to report on each (re)connect and hands it every task frame.
 */
export interface TaskHost {
  /** Every task this agent knows of, reported in each `register` so the master can reconcile. */
  reports(): TaskReport[];
  /** A launch, kill, ack or reconcile frame from the master. Must not throw. */
  handle(command: MasterCommand): void;
}

/** The host used until drivers exist: it runs nothing and records what it was asked to do. */
export function createIdleTaskHost(log: Logger): TaskHost {
  return {
    reports: () => [],
    handle: (command) => log.warn("command_ignored", { type: command.type, why: "no task drivers in this agent yet" }),
  };
}
