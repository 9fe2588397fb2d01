import { accessSync, constants, statSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";
import type { TaskSpec } from "./task-spec.ts";
import { TaskStartError } from "./driver.ts";
import { agentIsRoot, agentUser, lookupUser } from "./users.ts";
import type { UnixUser } from "./users.ts";

/**
 * What the exec driver runs for a launch: the argv, the environment and the user. Everything
 * here is decided before anything is spawned, so a launch that cannot work fails with a
 * TaskStartError that says why, instead of a task that starts and dies with code 127.
 */

/** The shell of `command.shell` tasks and of the exit-status wrapper. */
export const SHELL = "/bin/sh";
/** PATH for tasks when the agent itself has none. */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Who a task runs as; `switchTo` is set only when the process must change its uid/gid. */
export interface RunAs {
  user: UnixUser;
  switchTo?: { uid: number; gid: number };
  /** Set when the launch named a user the agent cannot switch to (it is not root). */
  ignored?: string;
}

/**
 * Resolves the launch's `user`. It must exist; the agent switches to it only when running as
 * root (as the Mesos agent does), and otherwise runs the task as itself, saying so in `ignored`.
 * A root agent runs a task without a `user` as `taskUser` (`--task-user`, `nobody` by default),
 * never as root by omission; whether root itself is allowed is the agent's policy (policy.ts).
 */
export function resolveRunAs(launch: TaskSpec, taskUser: string): RunAs {
  const self = agentUser();
  const name = launch.user ?? (agentIsRoot() ? taskUser : undefined);
  if (name === undefined) return { user: self };
  const user = lookupUser(name);
  if (user === undefined) {
    throw new TaskStartError(
      launch.user === undefined ? `the task user '${name}' (--task-user) does not exist on this agent` : `user '${name}' does not exist on this agent`,
    );
  }
  if (user.uid === self.uid) return { user };
  if (!agentIsRoot()) return { user: self, ignored: `the agent runs as '${self.name}', not root, so it cannot switch to user '${user.name}'` };
  return { user, switchTo: { uid: user.uid, gid: user.gid } };
}

/**
 * The task's environment. It is built from scratch rather than inherited: the agent's own
 * environment may hold its join token (DCX_TOKEN). Only PATH and HOME come from outside; the
 * launch's env (Marathon's HOST, PORT0, MARATHON_APP_ID…) overrides them, and the variables only
 * the agent knows override everything: the sandbox, and `DCX_DNS`, the `host:port` of the
 * agent's DNS forwarder when it runs (`dns`).
 */
export function taskEnvironment(launch: TaskSpec, sandbox: string, runAs: RunAs, dns?: string): Record<string, string> {
  const identity: Record<string, string> = runAs.switchTo === undefined ? {} : { USER: runAs.user.name, LOGNAME: runAs.user.name };
  return {
    PATH: process.env.PATH ?? DEFAULT_PATH,
    HOME: runAs.switchTo === undefined ? os.homedir() : runAs.user.home,
    ...identity,
    ...launch.env,
    MESOS_SANDBOX: sandbox,
    MESOS_DIRECTORY: sandbox,
    ...(dns === undefined ? {} : { DCX_DNS: dns }),
  };
}

/**
 * The argv of the task's command: `shell` runs under `/bin/sh -c`; `args` is executed directly,
 * its first element resolved to an absolute path here. The absolute path matters beyond the
 * early error: the wrapper runs it as `"$@"`, and a bare name there could hit a shell builtin
 * (`exec` would even replace the wrapper and lose the exit status).
 */
export function commandArgv(launch: TaskSpec, path: string, cwd: string): string[] {
  const command = launch.command;
  if (command === undefined) throw new TaskStartError("the exec driver needs a command");
  if ("shell" in command) return [SHELL, "-c", command.shell];
  const [file = "", ...rest] = command.args;
  const resolved = resolveExecutable(file, path, cwd);
  if (resolved === undefined) {
    const where = file.includes("/") ? "no executable file at that path" : `not found in PATH ${path}`;
    throw new TaskStartError(`cannot start '${file}': ${where}`);
  }
  return [resolved, ...rest];
}

function resolveExecutable(file: string, path: string, cwd: string): string | undefined {
  if (file === "") return undefined;
  if (!file.includes("/")) return Bun.which(file, { PATH: path, cwd }) ?? undefined;
  const absolute = resolve(cwd, file);
  try {
    accessSync(absolute, constants.X_OK);
    return statSync(absolute).isFile() ? absolute : undefined;
  } catch {
    return undefined;
  }
}
