import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { errorMessage } from "../log.ts";
import { sandboxName } from "../sandbox.ts";

/**
 * Task cgroups: how the exec driver holds a task to its `cpus` and `mem` and takes all of it
 * when it ends, forks and daemons included (a process cannot leave its cgroup without root).
 *
 * Layout. Every task gets `dcx/<scope>/task-<id>` in each hierarchy it uses; `scope` is one
 * agent's (the task host passes a hash of its work dir), so agents sharing a machine never
 * collide. That relative path is all a later agent process needs to find the cgroup again, so
 * it is what the task record keeps. cgroup v1 (a hierarchy per controller) and v2 (one unified
 * hierarchy) sit behind one interface, `Cgroups`; `detectIsolation` picks one or says why none.
 *
 * What must stay true: the agent moves the task's wrapper into the cgroup (`join`) before the
 * wrapper runs the command, so the limits hold from the command's first instruction; and no
 * operation ever acts on a path that is not a task cgroup (a damaged record naming the root
 * cgroup must not get every process on the machine killed).
 */

/** Where cgroup filesystems are mounted on Linux. */
export const DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup";
/** The parent of every DCX cgroup, in each hierarchy. */
const DCX_CGROUP = "dcx";
/** CFS period; the quota is `cpus` of it. */
export const CFS_PERIOD_US = 100_000;
/**
 * Floors, as in Mesos: below 0.01 CPU the quota would fall under the kernel's 1 ms minimum, and
 * under 32 MB even the wrapper shell and a `sleep` risk the OOM killer.
 */
export const MIN_CPUS = 0.01;
export const MIN_MEM_MB = 32;
/** How long `killAll` waits for the processes to be gone before giving up on them. */
const KILL_WAIT_MS = 2_000;
/** Within that, how long one freeze-kill-thaw round waits before starting another. */
const KILL_ROUND_MS = 100;
const NAME = "[A-Za-z0-9][A-Za-z0-9._-]*";
const TASK_CGROUP = new RegExp(`^${DCX_CGROUP}/${NAME}/task-[A-Za-z0-9._-]+$`);

/** A task's limits: cores and MB, as in its launch's resources. */
export interface TaskLimits {
  cpus: number;
  memMb: number;
}

/** One cgroup version's way of creating, joining, killing and removing task cgroups. */
export interface Cgroups {
  readonly mode: "cgroups-v1" | "cgroups-v2";
  /** The path `create` gives the task's cgroup, relative to the hierarchy roots, without creating it. */
  name(taskId: string): string;
  /** Creates the task's cgroup with its limits; returns its path relative to the hierarchy roots. */
  create(taskId: string, limits: TaskLimits): string;
  /** Moves process `pid` (and so everything it forks from then on) into the cgroup; rejects if it cannot. */
  join(cgroup: string, pid: number): Promise<void>;
  /** Whether the kernel's OOM killer killed a process of the cgroup; false once it is removed. */
  oomKilled(cgroup: string): boolean;
  /** SIGKILLs every process in the cgroup and waits (boundedly) for them; returns whether it is empty. */
  killAll(cgroup: string): boolean;
  /** Removes the emptied cgroup, and the agent's scope with its last task. Throws EBUSY while processes remain. */
  remove(cgroup: string): void;
}

/** How tasks are isolated on this agent, and why. */
export type Isolation = { mode: "process-group"; reason: string } | { mode: Cgroups["mode"]; reason: string; cgroups: Cgroups };

/** Where task cgroups go; see ExecDriverOptions. */
export interface CgroupOptions {
  /** Mount point of the cgroup filesystem(s); default /sys/fs/cgroup. */
  root?: string;
  /** This agent's directory under `dcx/`; default one per agent process. */
  scope?: string;
}

/** The scope of the agent on `workDir`: stable across its restarts, distinct from other agents'. */
export function agentCgroupScope(workDir: string): string {
  return `agent-${createHash("sha256").update(resolve(workDir)).digest("hex").slice(0, 16)}`;
}

/** The cgroup of task `taskId` of the agent with `scope`, relative to the hierarchy roots. */
export function taskCgroup(scope: string, taskId: string): string {
  return `${DCX_CGROUP}/${scope}/task-${sandboxName(taskId)}`;
}

/**
 * Picks cgroups v2, v1, or plain process groups (`false`, not root, no usable cgroup filesystem),
 * with the reason the agent logs at start. Creates `dcx/` in each hierarchy, proving it writable.
 */
export function detectIsolation(options: CgroupOptions | false): Isolation {
  if (options === false) return processGroup("cgroups are turned off for this agent");
  if (process.getuid?.() !== 0) return processGroup("the agent does not run as root, so it cannot create cgroups");
  const root = options.root ?? DEFAULT_CGROUP_ROOT;
  const scope = options.scope ?? `pid-${process.pid}`;
  if (!new RegExp(`^${NAME}$`).test(scope)) throw new Error(`invalid cgroup scope '${scope}'`);
  try {
    if (existsSync(join(root, "cgroup.controllers"))) {
      return { mode: "cgroups-v2", reason: `root, with cgroup v2 (memory, cpu) at ${root}`, cgroups: CgroupsV2.open(root, scope) };
    }
    return { mode: "cgroups-v1", reason: `root, with cgroup v1 memory, cpu and freezer hierarchies under ${root}`, cgroups: CgroupsV1.open(root, scope) };
  } catch (error) {
    return processGroup(errorMessage(error));
  }
}

function processGroup(why: string): Isolation {
  return { mode: "process-group", reason: `${why}; tasks run as plain process groups, their cpus and mem are not enforced` };
}

/** What both versions share: naming, joining and removal over a list of hierarchy roots. */
abstract class TaskCgroups implements Cgroups {
  abstract readonly mode: Cgroups["mode"];

  constructor(
    /** The hierarchies a task cgroup lives in: one for v2, one per controller for v1. */
    protected readonly roots: readonly string[],
    private readonly scope: string,
  ) {}

  name(taskId: string): string {
    return taskCgroup(this.scope, taskId);
  }

  create(taskId: string, limits: TaskLimits): string {
    const cgroup = this.name(taskId);
    try {
      for (const dir of this.dirs(cgroup)) mkdirSync(dir, { recursive: true });
      this.limit(cgroup, limits);
    } catch (error) {
      try {
        this.remove(cgroup);
      } catch {
        // Nothing joined it yet; whatever stops the removal, the error that caused it says more.
      }
      throw error;
    }
    return cgroup;
  }

  async join(cgroup: string, pid: number): Promise<void> {
    // In parallel: on v1 each hierarchy is its own write, and they wait out the same grace period.
    await Promise.all(this.dirs(cgroup).map((dir) => writeFile(join(dir, "cgroup.procs"), String(pid))));
  }

  remove(cgroup: string): void {
    for (const dir of this.dirs(cgroup)) {
      try {
        rmdirSync(dir);
      } catch (error) {
        if (errorCode(error) !== "ENOENT") throw error;
      }
    }
    // The scope goes with its last task, so an agent leaves nothing behind. The agent creates and
    // removes synchronously, so no task of its own can be in the middle of being created here.
    for (const root of this.roots) tryRemove(() => rmdirSync(join(root, dirname(cgroup))));
  }

  /** The cgroup's directory in each hierarchy. */
  protected dirs(cgroup: string): string[] {
    return this.roots.map((root) => this.at(root, cgroup));
  }

  /** The cgroup's directory in the hierarchy at `root`; refuses anything but a task cgroup. */
  protected at(root: string, cgroup: string): string {
    if (!TASK_CGROUP.test(cgroup)) throw new Error(`not a task cgroup: '${cgroup}'`);
    return join(root, cgroup);
  }

  protected abstract limit(cgroup: string, limits: TaskLimits): void;
  abstract oomKilled(cgroup: string): boolean;
  abstract killAll(cgroup: string): boolean;
}

/** The v1 hierarchies a task joins, each with a file that shows it is mounted. */
const V1_HIERARCHIES = { memory: "memory.limit_in_bytes", cpu: "cpu.cfs_quota_us", freezer: "cgroup.procs" };

/**
 * cgroup v1: the memory, cpu and freezer hierarchies (each mounted under the root, as systemd
 * and Docker set them up). The freezer is what makes killing exact: see `killAll`.
 */
class CgroupsV1 extends TaskCgroups {
  readonly mode = "cgroups-v1";

  /** Checks the three hierarchies exist and creates `dcx/` in each; throws naming what is missing. */
  static open(root: string, scope: string): CgroupsV1 {
    for (const [controller, file] of Object.entries(V1_HIERARCHIES)) {
      if (!existsSync(join(root, controller, file))) throw new Error(`no cgroup v1 ${controller} hierarchy at ${join(root, controller)}`);
    }
    for (const controller of Object.keys(V1_HIERARCHIES)) mkdirParent(join(root, controller));
    return new CgroupsV1(root, scope);
  }

  private readonly memory: string;
  private readonly cpu: string;
  private readonly freezer: string;

  private constructor(root: string, scope: string) {
    super(
      Object.keys(V1_HIERARCHIES).map((controller) => join(root, controller)),
      scope,
    );
    this.memory = join(root, "memory");
    this.cpu = join(root, "cpu");
    this.freezer = join(root, "freezer");
  }

  protected limit(cgroup: string, { cpus, memMb }: TaskLimits): void {
    const memory = this.at(this.memory, cgroup);
    const cpu = this.at(this.cpu, cgroup);
    const bytes = String(memoryBytes(memMb));
    writeFileSync(join(memory, "memory.limit_in_bytes"), bytes);
    // Memory+swap, present only with swap accounting: equal to the limit, the task cannot swap past it.
    const memsw = join(memory, "memory.memsw.limit_in_bytes");
    if (existsSync(memsw)) writeFileSync(memsw, bytes);
    writeFileSync(join(cpu, "cpu.cfs_period_us"), String(CFS_PERIOD_US));
    writeFileSync(join(cpu, "cpu.cfs_quota_us"), String(cpuQuotaUs(cpus)));
  }

  /** The `oom_kill` count of memory.oom_control (Linux 4.13 and later). */
  oomKilled(cgroup: string): boolean {
    return counter(readIfExists(join(this.at(this.memory, cgroup), "memory.oom_control")), "oom_kill") > 0;
  }

  /**
   * Freeze, SIGKILL every process, thaw, wait. While the cgroup is frozen no process in it can
   * fork or exit, so the pids read are exactly its processes and none can have been reused by
   * another process before the signal lands. The killed processes die once thawed. A round that
   * did not empty it (a process stuck in the kernel, a freeze that did not complete) is repeated.
   */
  killAll(cgroup: string): boolean {
    const dir = this.at(this.freezer, cgroup);
    const deadline = Date.now() + KILL_WAIT_MS;
    do {
      // Most often the task's processes are all gone already; an empty cgroup stays empty, as
      // only root can move a process in.
      if (procs(dir).length === 0) return true;
      setFreezer(dir, "FROZEN", Math.min(deadline, Date.now() + KILL_ROUND_MS));
      for (const pid of procs(dir)) killPid(pid);
      setFreezer(dir, "THAWED", deadline);
      if (waitEmpty(dir, Math.min(deadline, Date.now() + KILL_ROUND_MS))) return true;
    } while (Date.now() < deadline);
    return false;
  }
}

/**
 * cgroup v2: one hierarchy. The memory and cpu controllers are enabled down to the agent's scope;
 * `cgroup.kill` (Linux 5.14) kills a whole cgroup atomically, forks in flight included.
 */
class CgroupsV2 extends TaskCgroups {
  readonly mode = "cgroups-v2";

  /** Checks the controllers and cgroup.kill, creates `dcx/` and enables the controllers for it. */
  static open(root: string, scope: string): CgroupsV2 {
    const available = (readIfExists(join(root, "cgroup.controllers")) ?? "").split(/\s+/);
    for (const controller of V2_CONTROLLERS) {
      if (!available.includes(controller)) throw new Error(`cgroup v2 at ${root} does not offer the ${controller} controller`);
    }
    mkdirParent(root);
    enableControllers(root);
    enableControllers(join(root, DCX_CGROUP));
    if (!existsSync(join(root, DCX_CGROUP, "cgroup.kill"))) throw new Error(`cgroup v2 at ${root} has no cgroup.kill (Linux before 5.14)`);
    return new CgroupsV2(root, scope);
  }

  private constructor(
    private readonly root: string,
    scope: string,
  ) {
    super([root], scope);
  }

  protected limit(cgroup: string, { cpus, memMb }: TaskLimits): void {
    const dir = this.at(this.root, cgroup);
    // Enabling a controller in the scope makes its files appear in the task cgroups below it.
    enableControllers(dirname(dir));
    writeFileSync(join(dir, "memory.max"), String(memoryBytes(memMb)));
    // Present only with swap accounting; the task's memory limit is then its whole allowance.
    const swap = join(dir, "memory.swap.max");
    if (existsSync(swap)) writeFileSync(swap, "0");
    // On OOM the kernel kills the whole task, not one process of it (Linux 4.19).
    const group = join(dir, "memory.oom.group");
    if (existsSync(group)) writeFileSync(group, "1");
    writeFileSync(join(dir, "cpu.max"), `${cpuQuotaUs(cpus)} ${CFS_PERIOD_US}`);
  }

  oomKilled(cgroup: string): boolean {
    return counter(readIfExists(join(this.at(this.root, cgroup), "memory.events")), "oom_kill") > 0;
  }

  killAll(cgroup: string): boolean {
    const dir = this.at(this.root, cgroup);
    if (!existsSync(dir)) return true;
    writeFileSync(join(dir, "cgroup.kill"), "1");
    return waitEmpty(dir, Date.now() + KILL_WAIT_MS);
  }
}

const V2_CONTROLLERS = ["memory", "cpu"];

/** Writes `+memory +cpu` to a v2 cgroup's subtree_control, for the controllers not yet enabled. */
function enableControllers(dir: string): void {
  const enabled = (readIfExists(join(dir, "cgroup.subtree_control")) ?? "").split(/\s+/);
  const missing = V2_CONTROLLERS.filter((controller) => !enabled.includes(controller));
  if (missing.length > 0) writeFileSync(join(dir, "cgroup.subtree_control"), missing.map((controller) => `+${controller}`).join(" "));
}

/** Creates `dcx/` in a hierarchy, naming the hierarchy when it cannot (read-only, no permission). */
function mkdirParent(root: string): void {
  try {
    mkdirSync(join(root, DCX_CGROUP), { recursive: true });
  } catch (error) {
    throw new Error(`cannot create ${join(root, DCX_CGROUP)}: ${errorMessage(error)}`);
  }
}

/** The task's memory limit in bytes, at least MIN_MEM_MB. */
export function memoryBytes(memMb: number): number {
  return Math.round(Math.max(memMb, MIN_MEM_MB) * 1024 * 1024);
}

/** The task's CFS quota per CFS_PERIOD_US, at least MIN_CPUS of it. */
export function cpuQuotaUs(cpus: number): number {
  return Math.round(Math.max(cpus, MIN_CPUS) * CFS_PERIOD_US);
}

/** Sets a v1 freezer's state and waits (until `until`) for the kernel to reach it. */
function setFreezer(dir: string, state: "FROZEN" | "THAWED", until: number): void {
  const file = join(dir, "freezer.state");
  writeFileSync(file, state);
  while ((readIfExists(file) ?? state).trim() !== state && Date.now() < until) Bun.sleepSync(1);
}

/**
 * Waits until no process is left in the cgroup, or `until`. Blocking is fine here: killed
 * processes are gone within a millisecond or two, and a zombie (say, the agent's own unreaped
 * child) no longer counts as a member.
 */
function waitEmpty(dir: string, until: number): boolean {
  for (;;) {
    if (procs(dir).length === 0) return true;
    if (Date.now() >= until) return false;
    Bun.sleepSync(1);
  }
}

/** The pids in a cgroup; none once the cgroup is gone. */
function procs(dir: string): number[] {
  const text = readIfExists(join(dir, "cgroup.procs")) ?? "";
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map(Number);
}

function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch (error) {
    if (errorCode(error) !== "ESRCH") throw error;
  }
}

/** A `name value` line's value in a cgroup stats file; 0 when absent. */
function counter(text: string | undefined, name: string): number {
  const match = new RegExp(`^${name} (\\d+)$`, "m").exec(text ?? "");
  return match === null ? 0 : Number(match[1]);
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

/** Runs a best-effort removal: one that fails because something is still there is fine. */
function tryRemove(remove: () => void): void {
  try {
    remove();
  } catch (error) {
    if (!["EBUSY", "ENOTEMPTY", "ENOENT"].includes(errorCode(error) ?? "")) throw error;
  }
}

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}
