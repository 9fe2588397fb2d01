import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Agent } from "./agent.ts";
import { readProcStat } from "./drivers/proc.ts";
import { sandboxPath } from "./sandbox.ts";
import { FakeMaster, waitFor } from "./test-support/fake-master.ts";
import type { MasterSession } from "./test-support/fake-master.ts";
import { collectLog } from "./test-support/log-collector.ts";
import { launchOf, processGone, states, statusFrames, taskPid } from "./test-support/tasks.ts";
import { testScope } from "./test-support/scope.ts";
import { testAgentConfig } from "./test-support/agent-config.ts";

/**
 * End to end on the agent side: a real Agent (connection, task host, exec driver, outbox) and
 * real task processes, against the fake master; then a real agent process killed and restarted.
 */

const MAIN = join(import.meta.dir, "main.ts");
const { reaper, defer, tempDir } = testScope("dcx-flow");

function fakeMaster(): FakeMaster {
  const master = new FakeMaster({ pingIntervalMs: 50 });
  defer(() => master.stop());
  return master;
}

const updatesOf = (session: MasterSession) => statusFrames(session).flat();

/** Waits until `session` received `count` updates in `state`. */
function received(session: MasterSession, state: string, count = 1) {
  return waitFor(() => updatesOf(session).filter((u) => u.state === state).length >= count, `${count} × ${state}`);
}

/** The process group of a task, from the pid its shell wrote to `pid`; reaped after the test. */
async function taskGroup(workDir: string, taskId: string): Promise<number> {
  const pid = await taskPid(sandboxPath(workDir, taskId), "pid");
  const pgid = pid === undefined ? 0 : (readProcStat(pid)?.pgid ?? 0);
  expect(pgid).toBeGreaterThan(1);
  reaper.add(pgid);
  return pgid;
}

describe("tasks end to end, with the fake master", () => {
  test("a lone exec launch reports TASK_STARTING and TASK_RUNNING together, in one frame", async () => {
    const master = fakeMaster();
    const workDir = tempDir();
    const agent = Agent.create(testAgentConfig(master.url, workDir, { resources: { cpus: 2, mem: 1024 }, killTasksOnExit: true }), { log: collectLog().log });
    void agent.run();
    defer(() => agent.stop());
    const session = await master.registered(0);
    master.send(session, { type: "launch", tasks: [launchOf("solo.1", { shell: "echo $$ > pid; sleep 300" })] });
    await received(session, "TASK_RUNNING");
    await taskGroup(workDir, "solo.1");
    // The driver starts the process without waiting on I/O, so both updates leave at the end of
    // that turn: no second frame held back by the coalescing window.
    expect(statusFrames(session).map((frame) => frame.map((u) => u.state))).toEqual([["TASK_STARTING", "TASK_RUNNING"]]);
  });

  test("launch → coalesced STARTING/RUNNING, ack, kill → KILLING/KILLED, then a reconnect reports nothing left", async () => {
    const master = fakeMaster();
    const workDir = tempDir();
    const agent = Agent.create(testAgentConfig(master.url, workDir, { resources: { cpus: 2, mem: 1024 } }), { log: collectLog().log });
    void agent.run();
    defer(() => agent.stop());
    const session = await master.registered(0);
    const ids = ["web.1", "web.2", "web.3", "web.4", "web.5"];
    master.send(session, { type: "launch", tasks: ids.map((id) => launchOf(id, { shell: "echo $$ > pid; sleep 300" }, { env: { HOST: "h" } })) });
    await received(session, "TASK_RUNNING", ids.length);
    for (const id of ids) await taskGroup(workDir, id);
    // Ten updates; frame by frame that would be ten frames.
    expect(statusFrames(session).length).toBeLessThanOrEqual(3);
    expect(states(updatesOf(session)).filter(([, state]) => state === "TASK_STARTING")).toEqual(ids.map((id) => [id, "TASK_STARTING"]));

    master.send(session, { type: "ack", updateIds: updatesOf(session).map((u) => u.updateId) });
    master.send(session, { type: "kill", taskIds: ids, gracePeriodMs: 2_000 });
    await received(session, "TASK_KILLED", ids.length);
    // The five KILLINGs go out coalesced; the KILLEDs follow as the tasks end, which takes each
    // task its own time (a namespaced task's pid 1, then its unshare, must exit).
    const killingFrames = statusFrames(session).filter((frame) => frame.some((u) => u.state === "TASK_KILLING"));
    expect(killingFrames.length).toBeLessThanOrEqual(2);
    expect(killingFrames.flat().filter((u) => u.state === "TASK_KILLING")).toHaveLength(ids.length);
    for (const id of ids)
      expect(
        states(updatesOf(session))
          .filter(([taskId]) => taskId === id)
          .map(([, state]) => state),
      ).toEqual(["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_KILLED"]);

    master.send(session, { type: "ack", updateIds: updatesOf(session).map((u) => u.updateId) });
    await Bun.sleep(50);
    session.ws?.close(1012, "master restarting");
    const second = await master.registered(1);
    expect(second.registers[0]?.tasks).toEqual([]);
    await Bun.sleep(50);
    expect(statusFrames(second)).toEqual([]);
  });

  test("a launch frame with a task the agent cannot read: that task fails alone (TASK_ERROR naming the field), the others run", async () => {
    const master = fakeMaster();
    const workDir = tempDir();
    const collected = collectLog();
    const agent = Agent.create(testAgentConfig(master.url, workDir, { resources: { cpus: 2, mem: 1024 } }), { log: collected.log });
    void agent.run();
    defer(() => agent.stop());
    const session = await master.registered(0);
    const first = launchOf("batch.1", { shell: "echo $$ > pid; sleep 300" });
    const third = launchOf("batch.3", { shell: "echo $$ > pid; sleep 300" });
    // The middle task carries a field this agent does not know (as from a newer master) and a negative grace.
    const bad = { ...launchOf("batch.2", { shell: "sleep 300" }), killGracePeriodMs: -1, fromTheFuture: true };
    master.send(session, { type: "launch", tasks: [first, bad, third] });
    await received(session, "TASK_RUNNING", 2);
    await received(session, "TASK_ERROR", 1);
    for (const id of ["batch.1", "batch.3"]) await taskGroup(workDir, id);
    const updates = updatesOf(session);
    expect(
      updates
        .filter((u) => u.state === "TASK_RUNNING")
        .map((u) => u.taskId)
        .sort(),
    ).toEqual(["batch.1", "batch.3"]);
    const error = updates.filter((u) => u.taskId === "batch.2");
    expect(error.map((u) => u.state)).toEqual(["TASK_ERROR"]);
    expect(error[0]?.message).toContain("/killGracePeriodMs");
    expect(collected.events("task_launch_refused").map((e) => e.taskId)).toEqual(["batch.2"]);
  });
});

/** Runs `bun agent/main.ts` against `master` on `workDir`. */
function spawnAgent(master: FakeMaster, workDir: string, env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      DCX_MASTER: master.url,
      DCX_CLUSTER: "c1",
      DCX_TOKEN: "join-1",
      DCX_WORK_DIR: workDir,
      DCX_HOSTNAME: "h",
      DCX_BACKOFF_MAX_MS: "50",
      ...env,
    },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  defer(() => {
    if (proc.exitCode === null) proc.kill("SIGKILL");
  });
  return proc;
}

describe("tasks across agent processes", () => {
  test("a SIGKILLed agent leaves its task running; the next agent re-attaches, resends, and reports the exit code", async () => {
    const master = fakeMaster();
    const workDir = tempDir();
    const first = spawnAgent(master, workDir);
    const session = await master.registered(0);
    master.send(session, { type: "launch", tasks: [launchOf("job.1", { shell: "echo $$ > pid; while [ ! -e go ]; do sleep 0.02; done; exit 7" })] });
    await received(session, "TASK_RUNNING");
    const group = await taskGroup(workDir, "job.1");
    first.kill("SIGKILL");
    await first.exited;
    expect(processGone(group)).toBe(false);

    spawnAgent(master, workDir);
    const next = await master.registered(1);
    expect(next.registers[0]?.tasks).toEqual([{ taskId: "job.1", state: "TASK_RUNNING" }]);
    await Bun.write(join(sandboxPath(workDir, "job.1"), "go"), "");
    await received(next, "TASK_FAILED");
    const updates = updatesOf(next);
    expect(states(updates)).toEqual([
      ["job.1", "TASK_STARTING"],
      ["job.1", "TASK_RUNNING"],
      ["job.1", "TASK_FAILED"],
    ]);
    // The unacked updates come again with their ids, so the master can drop the repeats.
    expect(updates.slice(0, 2).map((u) => u.updateId)).toEqual(updatesOf(session).map((u) => u.updateId));
    expect(updates[2]?.message).toBe("exited with code 7");
  });

  test("SIGTERM leaves tasks running; with DCX_KILL_TASKS_ON_EXIT they are killed and reported before the agent exits", async () => {
    const master = fakeMaster();
    const keepDir = tempDir();
    const keep = spawnAgent(master, keepDir);
    const session = await master.registered(0);
    master.send(session, { type: "launch", tasks: [launchOf("stay.1", { shell: "echo $$ > pid; sleep 300" })] });
    await received(session, "TASK_RUNNING");
    const keptGroup = await taskGroup(keepDir, "stay.1");

    const killingDir = tempDir();
    const killing = spawnAgent(master, killingDir, { DCX_KILL_TASKS_ON_EXIT: "1" });
    const killingSession = await master.registered(1);
    master.send(killingSession, { type: "launch", tasks: [launchOf("go.1", { shell: "echo $$ > pid; sleep 300" }, { killGracePeriodMs: 1_000 })] });
    await received(killingSession, "TASK_RUNNING");
    const killedGroup = await taskGroup(killingDir, "go.1");

    keep.kill("SIGTERM");
    killing.kill("SIGTERM");
    expect(await keep.exited).toBe(0);
    expect(await killing.exited).toBe(0);
    expect(states(updatesOf(killingSession)).map(([, state]) => state)).toEqual(["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_KILLED"]);
    expect(processGone(killedGroup)).toBe(true);
    expect(processGone(keptGroup)).toBe(false);
    expect(states(updatesOf(session)).map(([, state]) => state)).toEqual(["TASK_STARTING", "TASK_RUNNING"]);
    await waitFor(() => session.closed, "the first agent's close");
    expect(session.closed?.code).toBe(1000);
  });
});
