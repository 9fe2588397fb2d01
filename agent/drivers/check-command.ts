import type { CommandExit } from "./driver.ts";
import { SHELL } from "./exec-command.ts";
import type { RunAs } from "./exec-command.ts";

/**
 * A short command run beside an exec task (a COMMAND health check), as Mesos runs one: under
 * `/bin/sh -c`, in the task's sandbox, with its environment and user. It leads its own process
 * group, so a command past its timeout is killed with everything it started.
 */

/** How much of the command's output a result keeps. */
export const OUTPUT_TAIL_BYTES = 512;
/** After the command ends, how long its output may still trickle in (a child may hold the pipe). */
const DRAIN_MS = 100;

export interface CommandContext {
  cwd: string;
  env: Record<string, string>;
  runAs: RunAs;
  timeoutMs: number;
  /** Runs the shell through this, e.g. `nsenter` into the task's namespaces (exec-namespaces.ts). */
  prefix?: string[];
}

/** Runs `command`; resolves at its exit or timeout. Throws when it cannot be spawned. */
export async function runCheckCommand(command: string, context: CommandContext): Promise<CommandExit> {
  const child = Bun.spawn([...(context.prefix ?? []), SHELL, "-c", command], {
    cwd: context.cwd,
    env: context.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
    ...(context.runAs.switchTo ?? {}),
  });
  const stdout = keepTail(child.stdout);
  const stderr = keepTail(child.stderr);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, context.timeoutMs);
  await child.exited;
  clearTimeout(timer);
  // Whatever the command left behind in its group goes with it.
  killGroup(child.pid);
  const [out, err] = await Promise.all([stdout.settle(), stderr.settle()]);
  return { code: timedOut ? null : child.exitCode, timedOut, output: (err.trim() || out.trim()).slice(-OUTPUT_TAIL_BYTES) };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // The group is gone already.
  }
}

/** Reads a stream to its end, keeping only its last bytes; `settle` stops waiting after DRAIN_MS. */
function keepTail(stream: ReadableStream<Uint8Array>): { settle: () => Promise<string> } {
  const reader = stream.getReader();
  let tail = new Uint8Array(0);
  const done = (async () => {
    for (;;) {
      const { done: ended, value } = await reader.read();
      if (ended) return;
      const joined = new Uint8Array(tail.length + value.length);
      joined.set(tail);
      joined.set(value, tail.length);
      tail = joined.slice(-OUTPUT_TAIL_BYTES * 4);
    }
  })().catch(() => undefined);
  return {
    settle: async () => {
      await Promise.race([done, Bun.sleep(DRAIN_MS)]);
      await reader.cancel().catch(() => undefined);
      return new TextDecoder().decode(tail);
    },
  };
}
