import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { AgentMessage, StatusUpdate, TaskLaunch } from "../protocol/index.ts";
import { openAgentDb } from "./agent-db.ts";
import { VANISHED } from "./drivers/exec.ts";
import { EXIT_STATUS_FILE } from "./drivers/exec-wrapper.ts";
import { readProcStat } from "./drivers/proc.ts";
import { lookupUser } from "./drivers/users.ts";
import { Outbox } from "./outbox.ts";
import { sandboxPath } from "./sandbox.ts";
import { createTaskHost } from "./task-host.ts";
import type { TaskHost } from "./task-host.ts";
import { waitFor } from "./test-support/fake-master.ts";
import { collectLog } from "./test-support/log-collector.ts";
import { GroupReaper, dropAgentCgroups, launchOf, pidGone, processGone, states, taskPid } from "./test-support/tasks.ts";

const reaper = new GroupReaper();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  reaper.reap();
});

function workDir(): string {
  const dir = mkdtempSync(join(os.tmpdir(), "dcx-host-"));
  cleanups.push(() => {
    dropAgentCgroups(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A task host on `dir`, connected to a pretend session that records every status update. */
function startHost(dir: string, dnsDrainMs = 0) {
  const logs = collectLog();
  const host: TaskHost = createTaskHost({ workDir: dir, log: logs.log, exec: { pollMs: 20, logCheckMs: 50 }, outbox: { coalesceMs: 5 }, dnsDrainMs });
  cleanups.push(() => {
    host.disconnected();
    return host.close({ killTasks: false });
  });
  const frames: StatusUpdate[][] = [];
  host.connected((message: AgentMessage) => {
    if (message.type === "status") frames.push(message.updates);
  });
  const updates = (): StatusUpdate[] => frames.flat();
  /** Waits for an update of `taskId` in `state` and returns it. */
  const update = (taskId: string, state: string): Promise<StatusUpdate> =>
    waitFor(() => updates().find((u) => u.taskId === taskId && u.state === state), `${taskId} ${state}`);
  const launch = (...tasks: TaskLaunch[]): void => host.handle({ type: "launch", tasks });
  const ackAll = (): void => host.handle({ type: "ack", updateIds: updates().map((u) => u.updateId) });
  return { host, logs, frames, updates, update, launch, ackAll };
}

/**
 * The process group of a task, from the pid its shell wrote to `pid` in its sandbox; the group
 * is led by the task's wrapper, and is reaped after the test.
 */
async function taskGroup(dir: string, taskId: string): Promise<number> {
  const pid = await taskPid(sandboxPath(dir, taskId), "pid");
  const pgid = pid === undefined ? 0 : (readProcStat(pid)?.pgid ?? 0);
  expect(pgid).toBeGreaterThan(1);
  reaper.add(pgid);
  return pgid;
}

describe("task host", () => {
  test("launch: STARTING and RUNNING, then FINISHED on exit 0; the ack of the terminal update settles the task", async () => {
    const dir = workDir();
    const { host, update, updates, launch, ackAll, logs } = startHost(dir);
    launch(launchOf("web.1", { shell: "exit 0" }));
    await update("web.1", "TASK_FINISHED");
    expect(states(updates())).toEqual([
      ["web.1", "TASK_STARTING"],
      ["web.1", "TASK_RUNNING"],
      ["web.1", "TASK_FINISHED"],
    ]);
    expect(host.reports()).toEqual([{ taskId: "web.1", state: "TASK_FINISHED" }]);
    expect(logs.events("task_launched")[0]).toMatchObject({ taskId: "web.1", driver: "exec", sandbox: sandboxPath(dir, "web.1") });
    expect(logs.events("task_exited")[0]).toMatchObject({ taskId: "web.1", state: "TASK_FINISHED", code: 0 });
    ackAll();
    expect(host.reports()).toEqual([]);
    // The sandbox stays for its logs.
    expect(readFileSync(join(sandboxPath(dir, "web.1"), "stdout"), "utf8")).toBe("");
  });

  test("an exec task is recorded with its wrapper's start time before its command runs", async () => {
    const dir = workDir();
    const { update, launch } = startHost(dir);
    launch(launchOf("rec.1", { shell: "echo $$ > pid; exec sleep 30" }));
    await update("rec.1", "TASK_RUNNING");
    const wrapper = await taskGroup(dir, "rec.1");
    const db = openAgentDb(dir);
    cleanups.push(() => db.close());
    const row = db.query<{ pid: number; start_time: number }, []>("SELECT pid, start_time FROM tasks WHERE task_id = 'rec.1'").get();
    expect(row?.pid).toBe(wrapper);
    expect(row?.start_time).toBe(readProcStat(wrapper)?.startTime ?? -1);
  });

  test("an exec launch's TASK_RUNNING leaves before the wrapper's start time is read and its process recorded", async () => {
    const dir = workDir();
    const host: TaskHost = createTaskHost({ workDir: dir, log: collectLog().log, exec: { pollMs: 20, logCheckMs: 50 }, outbox: { coalesceMs: 5 } });
    cleanups.push(() => {
      host.disconnected();
      return host.close({ killTasks: false });
    });
    const db = openAgentDb(dir);
    cleanups.push(() => db.close());
    const pidOf = () => db.query<{ pid: number | null }, []>("SELECT pid FROM tasks WHERE task_id = 'early.1'").get()?.pid;
    const atSend: (number | null | undefined)[] = [];
    host.connected((message: AgentMessage) => {
      if (message.type === "status" && message.updates.some((u) => u.state === "TASK_RUNNING")) atSend.push(pidOf());
    });
    host.handle({ type: "launch", tasks: [launchOf("early.1", { shell: "echo $$ > pid; exec sleep 30" })] });
    const wrapper = await taskGroup(dir, "early.1");
    expect(atSend).toEqual([null]);
    expect(pidOf()).toBe(wrapper);
  });

  test("a task whose process cannot be recorded never runs its command, and fails with the reason", async () => {
    const dir = workDir();
    const { update, updates, launch } = startHost(dir);
    // Another connection makes the record of a process fail, as a full disk would.
    const db = openAgentDb(dir);
    cleanups.push(() => db.close());
    db.run("CREATE TRIGGER no_process BEFORE UPDATE OF pid ON tasks BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    launch(launchOf("unrec.1", { shell: "touch ran" }));
    const failed = await update("unrec.1", "TASK_FAILED");
    expect(failed.message).toContain("the agent could not record the task");
    expect(states(updates())).toEqual([
      ["unrec.1", "TASK_STARTING"],
      ["unrec.1", "TASK_RUNNING"],
      ["unrec.1", "TASK_FAILED"],
    ]);
    expect(existsSync(join(sandboxPath(dir, "unrec.1"), "ran"))).toBe(false);
  });

  test("exit 3: TASK_FAILED with the code and the end of stderr in the message", async () => {
    const { update, launch } = startHost(workDir());
    launch(launchOf("bad.1", { shell: "echo 'cannot bind port' >&2; exit 3" }));
    expect((await update("bad.1", "TASK_FAILED")).message).toBe("exited with code 3; stderr: cannot bind port");
  });

  test("a launch that cannot start: TASK_FAILED with the reason, without RUNNING", async () => {
    const { update, updates, launch } = startHost(workDir());
    launch(launchOf("nobin.1", { args: ["dcx-no-such-binary"] }), launchOf("nouser.1", { shell: "true" }, { user: "dcx-no-such-user" }));
    expect((await update("nobin.1", "TASK_FAILED")).message).toContain("cannot start 'dcx-no-such-binary'");
    expect((await update("nouser.1", "TASK_FAILED")).message).toBe("user 'dcx-no-such-user' does not exist on this agent");
    expect(updates().filter((u) => u.state === "TASK_RUNNING")).toEqual([]);
  });

  test("as root, a task with a user runs as that user and reaches its sandbox through MESOS_SANDBOX", async () => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI === "true") throw new Error("this test needs the agent to run as root");
      console.warn("SKIPPED: running as a user needs root");
      return;
    }
    const dir = workDir();
    const { update, launch } = startHost(dir);
    launch(launchOf("user.1", { shell: 'id -un > "$MESOS_SANDBOX/user.txt"; echo "$HOME" > "$MESOS_SANDBOX/home.txt"' }, { user: "nobody" }));
    await update("user.1", "TASK_FINISHED");
    expect(readFileSync(join(sandboxPath(dir, "user.1"), "user.txt"), "utf8")).toBe("nobody\n");
    expect(readFileSync(join(sandboxPath(dir, "user.1"), "home.txt"), "utf8")).toBe(`${lookupUser("nobody")?.home}\n`);
  });

  test("a container launch fails until the docker driver exists; a launch with nothing to run is an error", async () => {
    const { update, launch } = startHost(workDir());
    launch(
      launchOf(
        "docker.1",
        { shell: "true" },
        { container: { image: "nginx", forcePullImage: false, privileged: false, network: "HOST", parameters: [], portMappings: [], volumes: [] } },
      ),
    );
    launch({ ...launchOf("empty.1", { shell: "true" }), command: undefined });
    expect((await update("docker.1", "TASK_FAILED")).message).toBe("docker driver not available yet");
    expect((await update("empty.1", "TASK_ERROR")).message).toBe("the task has neither a command nor a container");
  });

  test("a second launch of a running task id is ignored", async () => {
    const dir = workDir();
    const { host, update, updates, launch, logs } = startHost(dir);
    launch(launchOf("dup.1", { shell: "echo $$ > pid; sleep 30" }));
    await update("dup.1", "TASK_RUNNING");
    const pid = await taskGroup(dir, "dup.1");
    launch(launchOf("dup.1", { shell: "exit 9" }));
    await Bun.sleep(30);
    expect(logs.events("task_duplicate")).toHaveLength(1);
    expect(updates().filter((u) => u.taskId === "dup.1")).toHaveLength(2);
    expect(processGone(pid)).toBe(false);
    expect(host.reports()).toEqual([{ taskId: "dup.1", state: "TASK_RUNNING" }]);
  });

  test("kill: TASK_KILLING at once, TASK_KILLED once the group is gone; an unknown task is TASK_LOST", async () => {
    const dir = workDir();
    const { host, update, updates, launch } = startHost(dir);
    launch(launchOf("k.1", { shell: "echo $$ > pid; sleep 300 & echo $! > child; wait" }));
    await update("k.1", "TASK_RUNNING");
    await taskGroup(dir, "k.1");
    const child = await taskPid(sandboxPath(dir, "k.1"), "child");
    host.handle({ type: "kill", taskIds: ["k.1", "ghost.1"], gracePeriodMs: 2_000 });
    expect((await update("ghost.1", "TASK_LOST")).message).toBe("unknown task");
    await update("k.1", "TASK_KILLED");
    expect(states(updates()).filter(([taskId]) => taskId === "k.1")).toEqual([
      ["k.1", "TASK_STARTING"],
      ["k.1", "TASK_RUNNING"],
      ["k.1", "TASK_KILLING"],
      ["k.1", "TASK_KILLED"],
    ]);
    await waitFor(() => pidGone(child), "the task's child to be gone", 2_000);
  });

  test("a RUNNING task the master kills keeps running through the DNS drain, then is signalled; a shutdown does not wait", async () => {
    const dir = workDir();
    const { host, update, updates, launch } = startHost(dir, 400);
    launch(launchOf("d.1", { shell: "echo $$ > pid; sleep 300" }), launchOf("d.2", { shell: "echo $$ > pid; sleep 300" }));
    await update("d.1", "TASK_RUNNING");
    await update("d.2", "TASK_RUNNING");
    const pid = await taskGroup(dir, "d.1");
    host.handle({ type: "kill", taskIds: ["d.1"], gracePeriodMs: 2_000 });
    await update("d.1", "TASK_KILLING");
    // Still there while resolvers may hand out its address (protocol/dns-lease.ts).
    await Bun.sleep(150);
    expect(processGone(pid)).toBe(false);
    expect(updates().some((u) => u.taskId === "d.1" && u.state === "TASK_KILLED")).toBe(false);
    await update("d.1", "TASK_KILLED");
    // A shutdown that kills its tasks signals them at once, whatever drain the master's kills get.
    const started = performance.now();
    host.handle({ type: "kill", taskIds: ["d.2"], gracePeriodMs: 2_000 });
    await host.close({ killTasks: true });
    expect(performance.now() - started).toBeLessThan(400);
  });

  test("a task failing its health check left DNS already: the master's kill does not wait out the drain", async () => {
    const dir = workDir();
    const { host, update, updates, launch } = startHost(dir, 60_000);
    const healthChecks = [{ protocol: "COMMAND" as const, command: "exit 1", intervalMs: 50, timeoutMs: 1_000, delayMs: 0 }];
    launch(launchOf("f.1", { shell: "sleep 300" }, { healthChecks }));
    await update("f.1", "TASK_RUNNING");
    await waitFor(() => updates().find((u) => u.taskId === "f.1" && u.healthy === false), "a failed check");
    host.handle({ type: "kill", taskIds: ["f.1"], gracePeriodMs: 2_000 });
    await update("f.1", "TASK_KILLED");
  });

  test("reconcile: the latest state of each listed task again, TASK_LOST for unknown ones; an empty list means all", async () => {
    const dir = workDir();
    const { host, update, updates, launch } = startHost(dir);
    launch(launchOf("r.1", { shell: "echo $$ > pid; sleep 30" }), launchOf("r.2", { shell: "exit 0" }));
    await update("r.1", "TASK_RUNNING");
    await update("r.2", "TASK_FINISHED");
    await taskGroup(dir, "r.1");
    const before = updates().length;
    host.handle({ type: "reconcile", taskIds: ["r.2", "nope"] });
    await waitFor(() => updates().length === before + 2, "two reconcile answers");
    expect(states(updates().slice(before))).toEqual([
      ["r.2", "TASK_FINISHED"],
      ["nope", "TASK_LOST"],
    ]);
    host.handle({ type: "reconcile", taskIds: [] });
    await waitFor(() => updates().length === before + 4, "an answer for every task");
    expect(states(updates().slice(before + 2))).toEqual([
      ["r.1", "TASK_RUNNING"],
      ["r.2", "TASK_FINISHED"],
    ]);
  });

  test("close with killTasks kills every running task and flushes the outbox", async () => {
    const dir = workDir();
    const { host, update, launch } = startHost(dir);
    launch(launchOf("s.1", { shell: "echo $$ > pid; sleep 30" }, { killGracePeriodMs: 1_000 }));
    await update("s.1", "TASK_RUNNING");
    const pid = await taskGroup(dir, "s.1");
    await host.close({ killTasks: true });
    await update("s.1", "TASK_KILLED");
    expect(processGone(pid)).toBe(true);
  });
});

describe("task host: recovery across agent restarts", () => {
  test("a new host re-attaches to a running task, resends what was not acked, and reports its exit code", async () => {
    const dir = workDir();
    const first = startHost(dir);
    first.launch(launchOf("long.1", { shell: "echo $$ > pid; while [ ! -e go ]; do sleep 0.02; done; echo done >&2; exit 7" }));
    await first.update("long.1", "TASK_RUNNING");
    const pid = await taskGroup(dir, "long.1");
    // The agent goes away; the task does not.
    first.host.disconnected();
    await first.host.close({ killTasks: false });
    expect(processGone(pid)).toBe(false);

    const second = startHost(dir);
    expect(second.host.reports()).toEqual([{ taskId: "long.1", state: "TASK_RUNNING" }]);
    await second.host.ready();
    expect(second.logs.events("task_recovered")[0]).toMatchObject({ taskId: "long.1", alive: true, pid });
    await Bun.write(join(sandboxPath(dir, "long.1"), "go"), "");
    expect((await second.update("long.1", "TASK_FAILED")).message).toBe("exited with code 7; stderr: done");
    expect(states(second.updates())).toEqual([
      ["long.1", "TASK_STARTING"],
      ["long.1", "TASK_RUNNING"],
      ["long.1", "TASK_FAILED"],
    ]);
    // The resent updates are the very same ones: the master recognises their ids.
    expect(second.updates().slice(0, 2)).toEqual(first.updates());
  });

  test("a kill under way when the agent stopped is finished by the next one", async () => {
    const dir = workDir();
    const first = startHost(dir);
    first.launch(launchOf("stubborn.1", { shell: "trap '' TERM; echo $$ > pid; while :; do sleep 0.02; done" }));
    await first.update("stubborn.1", "TASK_RUNNING");
    const pid = await taskGroup(dir, "stubborn.1");
    first.host.handle({ type: "kill", taskIds: ["stubborn.1"], gracePeriodMs: 400 });
    await first.update("stubborn.1", "TASK_KILLING");
    await first.host.close({ killTasks: false });

    const second = startHost(dir);
    await second.update("stubborn.1", "TASK_KILLED");
    expect(processGone(pid)).toBe(true);
  });

  test("a task that ended while the agent was down gets its state from the status file, or is reported vanished", async () => {
    const dir = workDir();
    const first = startHost(dir);
    first.launch(launchOf("gone.1", { shell: "echo $$ > pid; while [ ! -e go ]; do sleep 0.02; done; exit 0" }));
    first.launch(launchOf("killed.1", { shell: "echo $$ > pid; sleep 30" }));
    await first.update("gone.1", "TASK_RUNNING");
    await first.update("killed.1", "TASK_RUNNING");
    const gonePid = await taskGroup(dir, "gone.1");
    const killedPid = await taskGroup(dir, "killed.1");
    await first.host.close({ killTasks: false });
    await Bun.write(join(sandboxPath(dir, "gone.1"), "go"), "");
    // SIGKILL takes the wrapper too, so no status file is left.
    process.kill(-killedPid, "SIGKILL");
    await waitFor(() => processGone(gonePid) && processGone(killedPid), "both tasks to end");
    rmSync(join(sandboxPath(dir, "killed.1"), EXIT_STATUS_FILE), { force: true });

    const second = startHost(dir);
    expect((await second.update("gone.1", "TASK_FINISHED")).message).toBe("exited with code 0");
    expect((await second.update("killed.1", "TASK_FAILED")).message).toBe(VANISHED);
  });

  test("an acked terminal task is done: it is not reported after a restart, its record and sandbox stay", async () => {
    const dir = workDir();
    const first = startHost(dir);
    first.launch(launchOf("done.1", { shell: "echo bye" }));
    await first.update("done.1", "TASK_FINISHED");
    first.ackAll();
    await first.host.close({ killTasks: false });
    const outbox = new Outbox(openAgentDb(dir), { log: collectLog().log });
    expect(outbox.count()).toBe(0);

    const second = startHost(dir);
    expect(second.host.reports()).toEqual([]);
    expect(readFileSync(join(sandboxPath(dir, "done.1"), "stdout"), "utf8")).toBe("bye\n");
    // Asked about it, the agent still knows how it ended.
    second.host.handle({ type: "reconcile", taskIds: ["done.1"] });
    await second.update("done.1", "TASK_FINISHED");
  });
});
