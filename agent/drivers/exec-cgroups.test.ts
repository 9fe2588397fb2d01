import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { collectLog } from "../test-support/log-collector.ts";
import { waitFor } from "../test-support/fake-master.ts";
import { testScope } from "../test-support/scope.ts";
import { dropCgroup, fileText, launchOf, pidGone, taskPid } from "../test-support/tasks.ts";
import { MEMORY_LIMIT_EXCEEDED, outcomeOf } from "../task-outcome.ts";
import { CFS_PERIOD_US, DEFAULT_CGROUP_ROOT, cpuQuotaUs, memoryBytes } from "./cgroups.ts";
import type { Cgroups } from "./cgroups.ts";
import type { RunningTask } from "./driver.ts";
import { ExecDriver } from "./exec.ts";
import type { ExecDriverOptions } from "./exec.ts";
import { readProcStat } from "./proc.ts";

const { reaper, defer, tempDir } = testScope("dcx-cgroups");
const MIB = 1024 * 1024;
/** Makes the task's shell hold ~200 MB, far over a 32 MB limit. */
const ALLOCATE = 'x=$(head -c 200000000 /dev/zero | tr "\\0" a)';
/** Starts a daemon that leaves the task's session and process group, and records its pid. */
const DAEMON = "setsid sh -c 'echo $$ > daemon.pid; exec sleep 300' &";

function driver(options: Partial<ExecDriverOptions> = {}): ExecDriver {
  const exec = new ExecDriver({ log: collectLog().log, logCheckMs: 20, pollMs: 20, ...options });
  defer(() => exec.close());
  return exec;
}

/**
 * Whether the driver got cgroups. These tests need the agent to run as root on a machine with
 * cgroups: under CI their absence fails the test, naming what is missing; elsewhere it is a
 * loud skip.
 */
function isolated(exec: ExecDriver): boolean {
  if (exec.isolation.mode !== "process-group") return true;
  const missing = `this test needs root and cgroups (v1 or v2): ${exec.isolation.reason}`;
  if (process.env.CI === "true") throw new Error(missing);
  console.warn(`SKIPPED: ${missing}`);
  return false;
}

async function start(exec: ExecDriver, shell: string, resources: { cpus: number; mem: number } = { cpus: 1, mem: 32 }, user?: string) {
  const dir = join(tempDir(), "sandbox");
  const launch = launchOf(`cg.${Math.random().toString(36).slice(2)}`, { shell }, { resources: { ...resources, disk: 0, gpus: 0 }, user });
  const task = await exec.start(launch, dir);
  reaper.add(task.pgid);
  defer(() => dropCgroup(exec, task));
  return { task, dir };
}

/** The task's cgroup directory holding `controller`'s files. */
function cgroupDir(exec: ExecDriver, task: RunningTask, controller: "memory" | "cpu"): string {
  const cgroup = task.cgroup ?? "";
  return exec.isolation.mode === "cgroups-v1" ? join(DEFAULT_CGROUP_ROOT, controller, cgroup) : join(DEFAULT_CGROUP_ROOT, cgroup);
}

/** Waits for the daemon a DAEMON task started, and makes sure the test never leaves it running. */
async function daemonOf(dir: string): Promise<number | undefined> {
  const pid = await taskPid(dir, "daemon.pid");
  // setsid made it the leader of its own group.
  reaper.add(pid);
  return pid;
}

describe("exec driver with cgroups: limits", () => {
  test("the task's cgroup holds its cpus and mem from the command's first instruction, even as another user, and goes with the task", async () => {
    const exec = driver();
    if (!isolated(exec)) return;
    const { task, dir } = await start(exec, "cat /proc/self/cgroup > cgroup.txt; echo ready > ready; sleep 300", { cpus: 0.5, mem: 64 }, "nobody");
    await fileText(dir, "ready");
    const memory = cgroupDir(exec, task, "memory");
    const cpu = cgroupDir(exec, task, "cpu");
    if (exec.isolation.mode === "cgroups-v1") {
      expect(readFileSync(join(memory, "memory.limit_in_bytes"), "utf8").trim()).toBe(String(64 * MIB));
      expect(readFileSync(join(cpu, "cpu.cfs_quota_us"), "utf8").trim()).toBe("50000");
      expect(readFileSync(join(cpu, "cpu.cfs_period_us"), "utf8").trim()).toBe(String(CFS_PERIOD_US));
      expect(readFileSync(join(dir, "cgroup.txt"), "utf8")).toContain(`:memory:/${task.cgroup}\n`);
    } else {
      expect(readFileSync(join(memory, "memory.max"), "utf8").trim()).toBe(String(64 * MIB));
      expect(readFileSync(join(cpu, "cpu.max"), "utf8").trim()).toBe(`50000 ${CFS_PERIOD_US}`);
      expect(readFileSync(join(dir, "cgroup.txt"), "utf8")).toContain(`0::/${task.cgroup}\n`);
    }
    expect(readFileSync(join(memory, "cgroup.procs"), "utf8").split("\n")).toContain(String(task.pid));
    await exec.stop(task, 1_000);
    expect(existsSync(memory)).toBe(false);
    expect(existsSync(cpu)).toBe(false);
  });

  test("a task over its memory limit is killed and fails with 'memory limit exceeded'", async () => {
    const exec = driver();
    if (!isolated(exec)) return;
    const { task, dir } = await start(exec, `${ALLOCATE}; echo survived`);
    const status = await exec.wait(task);
    expect(status.oomKilled).toBe(true);
    expect(readFileSync(join(dir, "stdout"), "utf8")).not.toContain("survived");
    const outcome = outcomeOf(status, false);
    expect(outcome.state).toBe("TASK_FAILED");
    expect(outcome.message).toStartWith(MEMORY_LIMIT_EXCEEDED);
  });

  test("a task whose child the OOM killer took is killed whole, though its shell would sleep on", async () => {
    const exec = driver();
    if (!isolated(exec)) return;
    // Only the subshell holds the memory, so only it is the OOM killer's victim; the rest would
    // run for 300 s (past the test's timeout) if the driver did not kill the task whole.
    const { task } = await start(exec, `(${ALLOCATE}); sleep 300`);
    const status = await exec.wait(task);
    expect(status).toMatchObject({ kind: "signaled", signal: "SIGKILL", oomKilled: true });
    expect(outcomeOf(status, false).message).toStartWith(MEMORY_LIMIT_EXCEEDED);
  });

  test("limits below the floors get the floors: 0.01 CPU and 32 MB", () => {
    expect(cpuQuotaUs(0)).toBe(1_000);
    expect(cpuQuotaUs(1.5)).toBe(150_000);
    expect(memoryBytes(0)).toBe(32 * MIB);
    expect(memoryBytes(100)).toBe(100 * MIB);
  });
});

describe("exec driver with cgroups: the move into the cgroup", () => {
  test("start resolves once the process exists; a task that cannot join its cgroup never runs its command and ends saying why", async () => {
    const exec = driver();
    if (!isolated(exec)) return;
    // The kernel refusing the move (as it would for a cgroup removed underneath), injected.
    const { cgroups } = exec.isolation as { cgroups: Cgroups };
    cgroups.join = () => Promise.reject(new Error("injected refusal"));
    const { task, dir } = await start(exec, "echo ran > ran.txt; sleep 300");
    expect(await exec.wait(task)).toMatchObject({ kind: "unknown", reason: "could not put the task in its cgroup: injected refusal" });
    expect(existsSync(join(dir, "ran.txt"))).toBe(false);
    // Released with the task: nothing of it is left in the hierarchy.
    expect(existsSync(cgroupDir(exec, task, "memory"))).toBe(false);
  });

  test("the cgroup is made after start resolves; a task whose cgroup cannot be made never runs its command and ends saying why", async () => {
    const exec = driver();
    if (!isolated(exec)) return;
    const { cgroups } = exec.isolation as { cgroups: Cgroups };
    let started = false;
    let createdBeforeStart: boolean | undefined;
    const create = cgroups.create.bind(cgroups);
    cgroups.create = (taskId, limits) => {
      createdBeforeStart ??= !started;
      create(taskId, limits);
      throw new Error("injected refusal");
    };
    const { task, dir } = await start(exec, "echo ran > ran.txt; sleep 300");
    started = true;
    expect(await exec.wait(task)).toMatchObject({ kind: "unknown", reason: "could not create the task's cgroup: injected refusal" });
    expect(createdBeforeStart).toBe(false);
    expect(existsSync(join(dir, "ran.txt"))).toBe(false);
    expect(existsSync(cgroupDir(exec, task, "memory"))).toBe(false);
  });
});

describe("exec driver with cgroups: nothing outlives a task", () => {
  test("stopping a task takes a daemon it started with setsid, outside its process group", async () => {
    const exec = driver();
    if (!isolated(exec)) return;
    const { task, dir } = await start(exec, `${DAEMON} sleep 300`);
    const daemon = await daemonOf(dir);
    expect(daemon).toBeDefined();
    expect(readProcStat(daemon ?? 0)?.pgid).not.toBe(task.pgid);
    await exec.stop(task, 300);
    await waitFor(() => pidGone(daemon), "the daemon to be gone", 2_000);
    expect(existsSync(cgroupDir(exec, task, "memory"))).toBe(false);
  });

  test("a task that exits on its own takes its daemon with it", async () => {
    const exec = driver();
    if (!isolated(exec)) return;
    const { task, dir } = await start(exec, `${DAEMON} until [ -s daemon.pid ]; do sleep 0.01; done; exit 0`);
    expect(await exec.wait(task)).toMatchObject({ kind: "exited", code: 0 });
    const daemon = await daemonOf(dir);
    await waitFor(() => pidGone(daemon), "the daemon to be gone", 2_000);
  });
});

describe("exec driver with cgroups: recovery", () => {
  test("a task recovered by a new driver is still stopped whole, its daemon and cgroup included", async () => {
    const first = driver();
    if (!isolated(first)) return;
    const { task, dir } = await start(first, `${DAEMON} sleep 300`);
    const daemon = await daemonOf(dir);
    expect(daemon).toBeDefined();
    first.close();
    const second = driver();
    const found = second.recover({ ...task });
    if (!found.alive) throw new Error("expected the task to be alive");
    expect(found.task.cgroup).toBe(task.cgroup);
    await second.stop(found.task, 300);
    await waitFor(() => pidGone(daemon), "the daemon to be gone", 2_000);
    expect(existsSync(cgroupDir(second, task, "memory"))).toBe(false);
  });

  test("a recovered task that goes over its memory is reported 'memory limit exceeded'", async () => {
    const first = driver();
    if (!isolated(first)) return;
    const { task, dir } = await start(first, `echo ready > ready; until [ -e go ]; do sleep 0.01; done; ${ALLOCATE}`);
    await fileText(dir, "ready");
    first.close();
    const second = driver();
    const found = second.recover({ ...task });
    if (!found.alive) throw new Error("expected the task to be alive");
    await Bun.write(join(dir, "go"), "");
    const status = await second.wait(found.task);
    expect(status.oomKilled).toBe(true);
    expect(outcomeOf(status, false)).toMatchObject({ state: "TASK_FAILED" });
    expect(existsSync(cgroupDir(second, task, "memory"))).toBe(false);
  });
});

describe("exec driver: isolation at start", () => {
  test("cgroups turned off: the agent says so once, and tasks run as plain process groups", async () => {
    const logs = collectLog();
    const exec = driver({ log: logs.log, cgroups: false });
    expect(logs.events("isolation")).toEqual([
      expect.objectContaining({ level: "warn", mode: "process-group", reason: expect.stringContaining("turned off") }),
    ]);
    const { task, dir } = await start(exec, "cat /proc/self/cgroup > cgroup.txt; exit 3");
    expect(task.cgroup).toBeUndefined();
    expect(await exec.wait(task)).toMatchObject({ kind: "exited", code: 3 });
    expect(readFileSync(join(dir, "cgroup.txt"), "utf8")).not.toContain("/dcx/");
  });

  test("with cgroups, the agent's one isolation line names the version", () => {
    const logs = collectLog();
    const exec = driver({ log: logs.log });
    if (!isolated(exec)) return;
    expect(logs.events("isolation")).toEqual([expect.objectContaining({ level: "info", mode: exec.isolation.mode })]);
    expect(exec.isolation.mode).toMatch(/^cgroups-v[12]$/);
  });

  test("a cgroup root with no cgroup filesystem falls back to process groups, saying what is missing", () => {
    const exec = driver({ cgroups: { root: tempDir() } });
    if (process.getuid?.() !== 0) {
      expect(exec.isolation.reason).toContain("not run as root");
      return;
    }
    expect(exec.isolation).toEqual({ mode: "process-group", reason: expect.stringMatching(/^no cgroup v1 memory hierarchy at .*not enforced$/) });
  });
});
