import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { SHELL } from "./exec-command.ts";
import type { RunAs } from "./exec-command.ts";
import { agentIsRoot } from "./users.ts";

/**
 * Exec tasks in their own PID and mount namespaces, as the Mesos containerizer's
 * `namespaces/pid` and `filesystem/linux` isolators give them: a task sees only its own
 * processes (its /proc is its own), and of the agent's work dir only its own sandbox (a tmpfs
 * covers the work dir, the sandbox is bound back at its usual path), so neither the agent's
 * identity and database nor another task's sandbox can be listed or read, whatever the files'
 * modes (a root task, allowed only by --allow-root-tasks, could unmount the tmpfs).
 *
 * Process layout (util-linux, in Debian's essential set):
 *   sh (gate: waits for the agent's go)  --exec-->  unshare --pid --fork --mount-proc --mount
 *     └─ sh (pid 1 of the task: mounts, cd, then setpriv drops to the task's user)
 *          --exec-->  the exit-status wrapper  ──  the command
 * The pid the agent tracks is the gate's, which becomes `unshare`: it stays in the agent's
 * PID namespace, waits for pid 1 and exits with its status, and blocks SIGTERM (so a stop's
 * grace holds). Everything shares the gate's process group, so group signals reach the whole
 * task, and the gate waits to unshare until the agent has put it in the task's cgroup, so
 * every process of the task is in the cgroup. When pid 1 (the wrapper) ends, the kernel kills
 * whatever is left in the namespace.
 *
 * A COMMAND health check enters the same namespaces with `nsenter`, at the sandbox.
 */

const UNSHARE = "/usr/bin/unshare";
const NSENTER = "/usr/bin/nsenter";
const SETPRIV = "/usr/bin/setpriv";
const MOUNT = "/usr/bin/mount";

/** Whether tasks get namespaces on this agent, and why not. */
export type NamespaceSupport = { enabled: true } | { enabled: false; reason: string };

/**
 * Checks once, at driver start, that this agent can give tasks namespaces: it must be root
 * (CAP_SYS_ADMIN), have util-linux's tools, and the kernel must allow it (a container without
 * the capability, or a seccomp profile, refuses `unshare`).
 */
export function detectNamespaces(): NamespaceSupport {
  if (!agentIsRoot()) return { enabled: false, reason: "the agent is not root" };
  const missing = [UNSHARE, NSENTER, SETPRIV, MOUNT].find((tool) => !existsSync(tool));
  if (missing !== undefined) return { enabled: false, reason: `${missing} is missing (util-linux, mount)` };
  const probe = Bun.spawnSync([UNSHARE, "--pid", "--fork", "--mount-proc", "--mount", "--", SHELL, "-c", "exit 0"], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  if (probe.exitCode !== 0) return { enabled: false, reason: `the kernel refused: ${probe.stderr.toString().trim() || `unshare exited ${probe.exitCode}`}` };
  return { enabled: true };
}

/**
 * Pid 1 of the task, as root in its new namespaces: keeps a handle on the sandbox, covers the
 * hidden dir (the agent's work dir) with an empty tmpfs, binds the sandbox back at its path
 * (through the handle: by path it is hidden now), enters it and runs the wrapper `$1` as the
 * task's user (`$4:$5`; empty for no switch). Exit 125 when the sandbox cannot be set up.
 */
const SETUP = [
  "b=$1; w=$2; d=$3; u=$4; g=$5; shift 5",
  'exec 3<"$d" || exit 125',
  `${MOUNT} -t tmpfs -o nosuid,nodev,mode=0711,size=64k dcx-hidden "$w" || exit 125`,
  `mkdir -p "$d" && ${MOUNT} --no-canonicalize --bind /proc/self/fd/3 "$d" || exit 125`,
  "exec 3<&-",
  'cd "$d" || exit 125',
  `if [ -n "$u" ]; then exec ${SETPRIV} --reuid="$u" --regid="$g" --init-groups -- ${SHELL} -c "$b" dcx-task "$@"; fi`,
  `exec ${SHELL} -c "$b" dcx-task "$@"`,
].join("\n");

/** The gate: waits for the agent's go line, then unshares; the setup script is its `$1`. */
const GATE = `read -r go || exit 1; s=$1; shift; exec ${UNSHARE} --pid --fork --mount-proc --mount --propagation private -- ${SHELL} -c "$s" dcx-ns "$@"`;

/**
 * The argv that runs the wrapper `body` (with its own arguments `args`) in new namespaces,
 * hiding `hidden` but for `sandbox`. Spawned as root: the switch to the task's user happens
 * inside, once the mounts are done.
 */
export function namespacedArgv(body: string, args: string[], hidden: string, sandbox: string, runAs: RunAs): string[] {
  const uid = runAs.switchTo === undefined ? "" : String(runAs.switchTo.uid);
  const gid = runAs.switchTo === undefined ? "" : String(runAs.switchTo.gid);
  return [SHELL, "-c", GATE, "dcx-gate", SETUP, body, hidden, sandbox, uid, gid, ...args];
}

/**
 * Where a running task's processes live: in namespaces of their own (the host pid of its pid 1),
 * `"pending"` while the gate has not yet unshared or pid 1 is still mounting (a health check
 * may come that early), or
 * `"none"` for a task started without namespaces (or gone).
 */
export function taskNamespaces(pid: number): number | "pending" | "none" {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (argv[0] === SHELL && argv[2] === GATE) return "pending";
    if (argv[0] !== UNSHARE) return "none";
    const [child] = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/);
    const init = Number(child);
    if (child === "" || !Number.isSafeInteger(init) || init <= 0) return "pending";
    if (readlinkSync(`/proc/${init}/ns/pid`) === readlinkSync("/proc/self/ns/pid")) return "none";
    // Nothing may enter before pid 1 is past its setup: while it is still unshare's forked copy
    // its /proc is the host's (not yet remounted), and while it runs the setup script the work
    // dir is not hidden yet.
    const initArgv = readFileSync(`/proc/${init}/cmdline`, "utf8").split("\0");
    return initArgv[0] === UNSHARE || initArgv[2] === SETUP ? "pending" : init;
  } catch {
    return "none";
  }
}

/** The argv prefix that runs a command inside the namespaces of the task whose pid 1 is `init`, at its sandbox, as its user. */
export function enterTaskPrefix(init: number, runAs: RunAs): string[] {
  const user = runAs.switchTo === undefined ? [] : [SETPRIV, `--reuid=${runAs.switchTo.uid}`, `--regid=${runAs.switchTo.gid}`, "--init-groups", "--"];
  // `--wd` without a value takes pid 1's own working directory, the sandbox as bound in its
  // namespace; a path would be opened in the agent's namespace, where the task cannot reach it.
  return [NSENTER, `--target=${init}`, "--pid", "--mount", "--wd", "--", ...user];
}
