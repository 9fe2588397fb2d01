import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { collectLog } from "../test-support/log-collector.ts";
import { GroupReaper, dropCgroup, fileText, hostPid, launchOf, pidGone, processGone, taskPid } from "../test-support/tasks.ts";
import { waitFor } from "../test-support/fake-master.ts";
import { TaskStartError } from "./driver.ts";
import type { RunningTask } from "./driver.ts";
import { ExecDriver, VANISHED } from "./exec.ts";
import { EXIT_STATUS_FILE } from "./exec-wrapper.ts";
import { readProcStat } from "./proc.ts";

const reaper = new GroupReaper();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  reaper.reap();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function sandbox(): string {
  const dir = mkdtempSync(join(os.tmpdir(), "dcx-exec-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "sandbox");
}

function driver(options: { logCapBytes?: number; dnsAddress?: () => string | undefined } = {}): ExecDriver {
  const exec = new ExecDriver({ log: collectLog().log, logCheckMs: 20, pollMs: 20, ...options });
  cleanups.push(() => exec.close());
  return exec;
}

async function start(exec: ExecDriver, command: { shell: string } | { args: string[] }, extra: Parameters<typeof launchOf>[2] = {}) {
  const dir = sandbox();
  const task = await exec.start(launchOf(`task-${Math.random().toString(36).slice(2)}`, command, extra), dir);
  reaper.add(task.pgid);
  cleanups.push(() => dropCgroup(exec, task));
  return { task, dir };
}

describe("exec driver: running", () => {
  test("fingerprint: available on Linux with /bin/sh", () => {
    expect(driver().fingerprint()).toMatchObject({ name: "exec", available: true, isolation: { mode: expect.any(String) } });
  });

  test("a shell task gets the launch's env plus MESOS_SANDBOX, runs in its sandbox, and never sees the agent's env", async () => {
    process.env.DCX_TOKEN = "join-secret";
    cleanups.push(() => {
      delete process.env.DCX_TOKEN;
    });
    const exec = driver();
    const { task, dir } = await start(exec, { shell: "env > env.txt; pwd > pwd.txt" }, { env: { HOST: "test-host", PORT0: "31001" } });
    expect(await exec.wait(task)).toEqual({ kind: "exited", code: 0, stderrTail: "" });
    const env = Object.fromEntries(
      readFileSync(join(dir, "env.txt"), "utf8")
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    expect(env).toMatchObject({ HOST: "test-host", PORT0: "31001", MESOS_SANDBOX: dir, MESOS_DIRECTORY: dir });
    expect(env.DCX_TOKEN).toBeUndefined();
    expect(readFileSync(join(dir, "pwd.txt"), "utf8").trim()).toBe(dir);
  });

  test("with the DNS forwarder running, a task gets its address in DCX_DNS, over any launch value; without it, none", async () => {
    let dns: string | undefined = "127.0.0.1:5353";
    const exec = driver({ dnsAddress: () => dns });
    const withDns = await start(exec, { shell: 'printf %s "$DCX_DNS"' }, { env: { DCX_DNS: "10.9.9.9:53" } });
    expect((await exec.wait(withDns.task)).kind).toBe("exited");
    expect(readFileSync(join(withDns.dir, "stdout"), "utf8")).toBe("127.0.0.1:5353");
    dns = undefined;
    const without = await start(exec, { shell: 'printf %s "${DCX_DNS-unset}"' });
    expect((await exec.wait(without.task)).kind).toBe("exited");
    expect(readFileSync(join(without.dir, "stdout"), "utf8")).toBe("unset");
  });

  test("args are executed directly: no shell expansion, a bare name found in PATH", async () => {
    const exec = driver();
    const { task, dir } = await start(exec, { args: ["printf", "%s|%s", "a b", "$HOME"] });
    expect((await exec.wait(task)).kind).toBe("exited");
    expect(readFileSync(join(dir, "stdout"), "utf8")).toBe("a b|$HOME");
  });

  test("the task leads its own process group and session, apart from the agent's", async () => {
    const exec = driver();
    const { task } = await start(exec, { shell: "sleep 30" });
    await exec.placed(task);
    const stat = readProcStat(task.pid);
    expect(stat?.pgid).toBe(task.pid);
    expect(task.pgid).toBe(task.pid);
    expect(stat?.pgid).not.toBe(readProcStat(process.pid)?.pgid);
    expect(task.startTime).toBeGreaterThan(0);
  });

  test("the handle is recorded with the wrapper's start time after start resolves, before the command runs", async () => {
    const exec = driver();
    const dir = sandbox();
    const recorded: { startTime: number; ran: boolean }[] = [];
    const task = await exec.start(launchOf("t-record", { shell: "touch ran" }), dir, undefined, (t) => {
      recorded.push({ startTime: t.startTime, ran: existsSync(join(dir, "ran")) });
    });
    reaper.add(task.pgid);
    cleanups.push(() => dropCgroup(exec, task));
    // Not in the launch's turn: the turn sends TASK_RUNNING without waiting for the wrapper's exec.
    expect(recorded).toEqual([]);
    expect(task.startTime).toBe(0);
    const stat = readProcStat(task.pid);
    expect(await exec.wait(task)).toMatchObject({ kind: "exited", code: 0 });
    expect(recorded).toEqual([{ startTime: stat?.startTime ?? -1, ran: false }]);
    expect(task.startTime).toBe(stat?.startTime ?? -1);
    expect(existsSync(join(dir, "ran"))).toBe(true);
  });

  test("a handle that cannot be recorded keeps the command from running, and the task ends with the reason", async () => {
    const exec = driver();
    const dir = sandbox();
    const task = await exec.start(launchOf("t-unrecorded", { shell: "touch ran" }), dir, undefined, () => {
      throw new Error("disk full");
    });
    reaper.add(task.pgid);
    cleanups.push(() => dropCgroup(exec, task));
    expect(await exec.wait(task)).toMatchObject({ kind: "unknown", reason: "the agent could not record the task: disk full" });
    expect(existsSync(join(dir, "ran"))).toBe(false);
  });

  test("a stop at once after start waits for the start time, then stops the task", async () => {
    const exec = driver();
    const dir = sandbox();
    let recordedAt = 0;
    const task = await exec.start(launchOf("t-early-stop", { shell: "sleep 30" }), dir, undefined, (t) => (recordedAt = t.startTime));
    reaper.add(task.pgid);
    cleanups.push(() => dropCgroup(exec, task));
    await exec.stop(task, 2_000);
    expect(recordedAt).toBeGreaterThan(0);
    expect((await exec.wait(task)).kind).not.toBe("exited");
  });

  test("a non-zero exit is reported with its code and the last lines of stderr", async () => {
    const exec = driver();
    const { task } = await start(exec, { shell: "echo first >&2; echo 'it broke' >&2; exit 3" });
    expect(await exec.wait(task)).toEqual({ kind: "exited", code: 3, stderrTail: "first\nit broke" });
  });

  test("death by a signal is reported as that signal", async () => {
    const exec = driver();
    const { task } = await start(exec, { shell: "kill -USR1 $$" });
    expect(await exec.wait(task)).toMatchObject({ kind: "signaled", signal: "SIGUSR1" });
  });

  test("a command that cannot start fails with the reason, and nothing runs", async () => {
    const exec = driver();
    const dir = sandbox();
    const missing = exec.start(launchOf("t-missing", { args: ["dcx-no-such-binary", "x"] }), dir);
    await expect(missing).rejects.toThrow(TaskStartError);
    await expect(missing).rejects.toThrow(/cannot start 'dcx-no-such-binary': not found in PATH/);
    await expect(exec.start(launchOf("t-path", { args: ["./run.sh"] }), dir)).rejects.toThrow("cannot start './run.sh': no executable file at that path");
    expect(existsSync(join(dir, EXIT_STATUS_FILE))).toBe(false);
  });

  test("a user that does not exist fails the start with a clear message", async () => {
    const exec = driver();
    await expect(exec.start(launchOf("t-user", { shell: "true" }, { user: "dcx-no-such-user" }), sandbox())).rejects.toThrow(
      "user 'dcx-no-such-user' does not exist on this agent",
    );
  });

  test("as root, a task with a user runs as that user in a sandbox it owns", async () => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI === "true") throw new Error("this test needs the agent to run as root");
      console.warn("SKIPPED: running as a user needs root");
      return;
    }
    const exec = driver();
    const { task, dir } = await start(exec, { shell: "id -u > uid.txt; id -G > groups.txt; exit 4" }, { user: "nobody" });
    expect(await exec.wait(task)).toMatchObject({ kind: "exited", code: 4 });
    // The wrapper, running as that user too, could record the status.
    expect(readFileSync(join(dir, EXIT_STATUS_FILE), "utf8")).toBe("4\n");
    expect(readFileSync(join(dir, "uid.txt"), "utf8").trim()).toBe("65534");
    // Root's supplementary groups must not leak into the task.
    expect(readFileSync(join(dir, "groups.txt"), "utf8").trim().split(" ")).not.toContain("0");
    expect(statSync(dir).uid).toBe(65534);
  });
});

describe("exec driver: stopping", () => {
  test("a task that exits on SIGTERM stops at once", async () => {
    const exec = driver();
    const { task, dir } = await start(exec, { shell: "trap 'echo bye; exit 0' TERM; echo ready > ready; sleep 30 & wait" });
    await fileText(dir, "ready");
    const began = performance.now();
    await exec.stop(task, 10_000);
    expect(performance.now() - began).toBeLessThan(2_000);
    expect(await exec.wait(task)).toMatchObject({ kind: "exited", code: 0 });
    expect(readFileSync(join(dir, "stdout"), "utf8")).toBe("bye\n");
  });

  test("a task that ignores SIGTERM is SIGKILLed once the grace is over", async () => {
    const exec = driver();
    const { task, dir } = await start(exec, { shell: "trap '' TERM; echo ready > ready; while :; do sleep 0.05; done" });
    await fileText(dir, "ready");
    const began = performance.now();
    await exec.stop(task, 300);
    const took = performance.now() - began;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(3_000);
    expect(await exec.wait(task)).toMatchObject({ kind: "signaled", signal: "SIGKILL" });
    expect(processGone(task.pid)).toBe(true);
  });

  test("a kill leaves no process behind: a background grandchild dies with the task", async () => {
    const exec = driver();
    const { task, dir } = await start(exec, { shell: "sleep 300 & echo $! > grandchild.pid; sleep 300" });
    const grandchild = await taskPid(dir, "grandchild.pid");
    expect(pidGone(grandchild)).toBe(false);
    await exec.stop(task, 1_000);
    await waitFor(() => pidGone(grandchild), "the grandchild to be gone", 2_000);
    expect(processGone(task.pid)).toBe(true);
  });

  test("a task that exits on its own takes its leftover processes with it", async () => {
    const exec = driver();
    const { task, dir } = await start(exec, { shell: "trap '' TERM; (trap '' TERM; sleep 300) & echo $! > leftover.pid; exit 0" });
    expect(await exec.wait(task)).toMatchObject({ kind: "exited", code: 0 });
    const leftover = hostPid(dir, Number(await fileText(dir, "leftover.pid")));
    await waitFor(() => pidGone(leftover), "the leftover process to be gone", 2_000);
  });

  test("stopping a task that already ended returns at once", async () => {
    const exec = driver();
    const { task } = await start(exec, { shell: "exit 0" });
    await exec.wait(task);
    const began = performance.now();
    await exec.stop(task, 5_000);
    expect(performance.now() - began).toBeLessThan(1_000);
  });
});

describe("exec driver: logs", () => {
  test("stdout and stderr go to sandbox files, each capped, keeping the stream's end", async () => {
    const cap = 64 * 1024;
    const exec = driver({ logCapBytes: cap });
    const { task, dir } = await start(exec, { shell: "seq 1 100000; echo 'the end' >&2" });
    await exec.wait(task);
    const stdout = readFileSync(join(dir, "stdout"), "utf8");
    const rotated = readFileSync(join(dir, "stdout.1"), "utf8");
    expect(statSync(join(dir, "stdout")).size).toBeLessThanOrEqual(cap);
    expect(statSync(join(dir, "stdout.1")).size).toBeLessThanOrEqual(cap);
    expect((rotated + stdout).endsWith("99999\n100000\n")).toBe(true);
    expect(readFileSync(join(dir, "stderr"), "utf8")).toBe("the end\n");
  });

  test("a running task's logs are capped while it runs", async () => {
    const cap = 16 * 1024;
    const exec = driver({ logCapBytes: cap });
    const { task, dir } = await start(exec, { shell: "seq 1 20000; echo done > written; sleep 30" });
    await fileText(dir, "written");
    await waitFor(() => existsSync(join(dir, "stdout.1")) && statSync(join(dir, "stdout")).size <= cap, "the running task's stdout to be rotated");
    expect(processGone(task.pid)).toBe(false);
  });
});

describe("exec driver: recovery", () => {
  /** A record as the host would hand it to a new agent process. */
  const record = (task: RunningTask): RunningTask => ({ ...task });

  test("re-attaches to a live task and learns its exit code from the wrapper's status file", async () => {
    const first = driver();
    const { task, dir } = await start(first, { shell: "echo ready > ready; sleep 0.3; exit 7" });
    await fileText(dir, "ready");
    first.close();
    const second = driver();
    const found = second.recover(record(task));
    expect(found.alive).toBe(true);
    if (!found.alive) return;
    expect(await second.wait(found.task)).toMatchObject({ kind: "exited", code: 7 });
  });

  test("a re-attached task can be stopped, grandchildren included", async () => {
    const first = driver();
    const { task, dir } = await start(first, { shell: "sleep 300 & echo $! > grandchild.pid; sleep 300" });
    const grandchild = await taskPid(dir, "grandchild.pid");
    expect(pidGone(grandchild)).toBe(false);
    first.close();
    const second = driver();
    const found = second.recover(record(task));
    if (!found.alive) throw new Error("expected the task to be alive");
    await second.stop(found.task, 1_000);
    expect((await second.wait(found.task)).kind).not.toBe("unknown");
    await waitFor(() => pidGone(grandchild), "the grandchild to be gone", 2_000);
  });

  test("a task that ended while the agent was away: the status file tells how; without it, it vanished", async () => {
    const first = driver();
    const { task, dir } = await start(first, { shell: "exit 5" });
    await first.wait(task);
    expect(driver().recover(record(task))).toEqual({ alive: false, status: { kind: "exited", code: 5, stderrTail: "" } });
    rmSync(join(dir, EXIT_STATUS_FILE));
    expect(driver().recover(record(task))).toEqual({ alive: false, status: { kind: "unknown", reason: VANISHED, stderrTail: "" } });
  });

  test("a pid now used by another process (other start time) is not re-attached, and that process is left alone", async () => {
    const stranger = Bun.spawn(["sleep", "30"], { detached: true, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    reaper.add(stranger.pid);
    const startTime = readProcStat(stranger.pid)?.startTime ?? 0;
    expect(startTime).toBeGreaterThan(0);
    const dir = sandbox();
    mkdirSync(dir, { recursive: true });
    const stale: RunningTask = { taskId: "t-old", driver: "exec", pid: stranger.pid, pgid: stranger.pid, startTime: startTime + 1, sandbox: dir };
    expect(driver().recover(stale)).toEqual({ alive: false, status: { kind: "unknown", reason: VANISHED, stderrTail: "" } });
    await Bun.sleep(50);
    expect(processGone(stranger.pid)).toBe(false);
  });
});
