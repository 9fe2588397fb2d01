import { chownSync, closeSync, fchownSync, mkdirSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { errorMessage } from "../log.ts";
import { TaskStartError } from "./driver.ts";
import type { ExitStatus } from "./driver.ts";
import { SHELL } from "./exec-command.ts";
import { namespacedArgv } from "./exec-namespaces.ts";
import type { RunAs } from "./exec-command.ts";
import { STDERR_FILE, STDOUT_FILE } from "./log-files.ts";
import { signalName } from "./proc.ts";
import { openSandboxFile, withSandboxFile } from "../sandbox-files.ts";

/**
 * The `/bin/sh` wrapper every exec task runs under, and how the agent reads how it ended.
 *
 * Why a wrapper. The agent may restart while tasks run; the new agent is not their parent and
 * cannot wait() for them. The wrapper waits for the command and writes its status (`$?`) to
 * EXIT_STATUS_FILE in the sandbox, which any later agent can read. It traps TERM, INT, HUP and
 * QUIT with a no-op so a signal sent to the group does not kill it before it records the status;
 * a caught signal is reset to its default in the command it runs (exec resets handlers, unlike
 * ignored signals), so the command still dies of SIGTERM as usual, and SIGKILL takes the wrapper
 * too. Like any shell, the wrapper reports a command killed by signal N as status 128+N, so a
 * status above 128 is read as that signal: an explicit `exit 143` also reads as SIGTERM.
 *
 * Why it waits. The wrapper runs nothing until the agent writes a line to its stdin, which the
 * agent does once it has moved the wrapper into the task's cgroup (see cgroups.ts): so the
 * command is held to its limits from its first instruction. If the agent closes stdin without
 * that line (it could not place the wrapper, or died), the wrapper exits without running it.
 */

/** Runs the command (`$2…`, stdin /dev/null) and records its status in the file `$1`. */
const RUN_AND_RECORD = 'f=$1; shift; "$@" </dev/null; s=$?; echo "$s" > "$f"; exit "$s"';
const TRAP = "trap : TERM INT HUP QUIT; ";
/** The wrapper: `sh -c WRAPPER dcx-task <status file> <argv…>`. */
const WRAPPER = `${TRAP}read -r go || exit 1; ${RUN_AND_RECORD}`;
/** The wrapper inside the task's namespaces, where the gate before `unshare` waited for the go (exec-namespaces.ts). */
const NAMESPACED_WRAPPER = `${TRAP}${RUN_AND_RECORD}`;
/** Written by the wrapper in the sandbox; hidden so it does not clutter the task's own files. */
export const EXIT_STATUS_FILE = ".dcx-exit-status";

/**
 * Creates the sandbox, owned by the task's user so the task (and the wrapper writing its exit
 * status) can write there. The agent itself opens the log files, so they exist even if the
 * command never writes.
 */
export function prepareSandbox(sandbox: string, runAs: RunAs): void {
  mkdirSync(sandbox, { recursive: true, mode: 0o750 });
  rmSync(join(sandbox, EXIT_STATUS_FILE), { force: true });
  if (runAs.switchTo !== undefined) chownSync(sandbox, runAs.switchTo.uid, runAs.switchTo.gid);
}

/** A task spawned in its own PID and mount namespaces, with `hidden` (the agent's work dir) covered but for its sandbox. */
export interface Isolate {
  hidden: string;
}

/** The wrapper as spawned: its stdin is the pipe the agent releases it through. */
export type WrapperProcess = Subprocess<"pipe", number, number>;

/**
 * Spawns the wrapper in a new session, stdout and stderr appended to the sandbox files, stdin a
 * pipe it waits on until `releaseWrapper`. Bun.spawn's own `cgroup` option is not used: it takes
 * one directory, and a v1 task must join three hierarchies; the agent moving the waiting wrapper
 * works for both versions and for any task user (who could not write to the cgroup files).
 */
export function spawnWrapped(argv: string[], sandbox: string, env: Record<string, string>, runAs: RunAs, isolate?: Isolate): WrapperProcess {
  const stdout = openStream(join(sandbox, STDOUT_FILE));
  let stderr: number;
  try {
    stderr = openStream(join(sandbox, STDERR_FILE));
  } catch (error) {
    closeSync(stdout);
    throw error;
  }
  try {
    if (runAs.switchTo !== undefined) {
      for (const fd of [stdout, stderr]) fchownSync(fd, runAs.switchTo.uid, runAs.switchTo.gid);
    }
    // The status file is named relative to the sandbox, the wrapper's working directory, so the
    // wrapper reaches it even as a user who could not traverse the sandbox's parents.
    const command =
      isolate === undefined
        ? [SHELL, "-c", WRAPPER, "dcx-task", EXIT_STATUS_FILE, ...argv]
        : namespacedArgv(NAMESPACED_WRAPPER, [EXIT_STATUS_FILE, ...argv], isolate.hidden, sandbox, runAs);
    return Bun.spawn(command, {
      cwd: sandbox,
      env,
      stdin: "pipe",
      stdout,
      stderr,
      detached: true,
      // In namespaces the switch to the task's user comes after the mounts, inside.
      ...(isolate === undefined ? (runAs.switchTo ?? {}) : {}),
    });
  } catch (error) {
    throw new TaskStartError(`could not start the task: ${errorMessage(error)}`);
  } finally {
    // The child holds its own copies; the agent must not keep the files open.
    closeSync(stdout);
    closeSync(stderr);
  }
}

/** Lets the waiting wrapper run the command. */
export function releaseWrapper(child: WrapperProcess): void {
  child.stdin.write("go\n");
  void child.stdin.end();
}

/** Opens a stream's file for the task to append to; a sandbox reused with a planted link is refused. */
function openStream(path: string): number {
  let fd: number | undefined;
  try {
    fd = openSandboxFile(path, "append");
  } catch (error) {
    throw new TaskStartError(`could not open the task's output: ${errorMessage(error)}`);
  }
  if (fd === undefined) throw new TaskStartError(`could not create ${path}`);
  return fd;
}

/**
 * The wrapper's recorded status, 0-255; undefined when absent or garbled. The sandbox belongs to
 * the task's user: a link, FIFO or device it put in the file's place counts as no status.
 */
function readExitStatus(path: string): number | undefined {
  try {
    return withSandboxFile(path, "read", (fd) => {
      const buffer = Buffer.alloc(16);
      const text = buffer
        .subarray(0, readSync(fd, buffer, 0, 16, 0))
        .toString()
        .trim();
      return /^\d{1,3}$/.test(text) && Number(text) <= 255 ? Number(text) : undefined;
    });
  } catch {
    return undefined;
  }
}

/** How the task in `sandbox` ended, from the wrapper's status file or, without one, from `fallback`. */
export function recordedStatus(sandbox: string, stderrTail: string, fallback: (stderrTail: string) => ExitStatus): ExitStatus {
  const recorded = readExitStatus(join(sandbox, EXIT_STATUS_FILE));
  if (recorded === undefined) return fallback(stderrTail);
  const signal = recorded > 128 ? signalName(recorded - 128) : undefined;
  return signal === undefined ? { kind: "exited", code: recorded, stderrTail } : { kind: "signaled", signal, stderrTail };
}

/** The wrapper's own wait status: used when it ended without writing the status file. */
export function fromWaitStatus(child: WrapperProcess): (stderrTail: string) => ExitStatus {
  return (stderrTail) => {
    if (child.signalCode !== null) return { kind: "signaled", signal: String(child.signalCode), stderrTail };
    return { kind: "exited", code: child.exitCode ?? -1, stderrTail };
  };
}
