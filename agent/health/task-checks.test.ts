import { describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AgentMessage, StatusUpdate, TaskLaunch } from "../../protocol/index.ts";
import { sandboxPath } from "../sandbox.ts";
import { createTaskHost } from "../task-host.ts";
import { waitFor } from "../test-support/fake-master.ts";
import { collectLog } from "../test-support/log-collector.ts";
import { testScope } from "../test-support/scope.ts";
import { hostPid, launchOf, pidGone } from "../test-support/tasks.ts";
import { TaskChecks } from "./task-checks.ts";

const scope = testScope("dcx-checks");

/** A task host whose every status update is recorded; tasks are killed after the test. */
function startHost() {
  const dir = scope.tempDir();
  const host = createTaskHost({ workDir: dir, log: collectLog().log, exec: { pollMs: 20, logCheckMs: 50 }, outbox: { coalesceMs: 1 } });
  scope.defer(() => {
    host.disconnected();
    return host.close({ killTasks: true });
  });
  const updates: StatusUpdate[] = [];
  host.connected((message: AgentMessage) => {
    if (message.type === "status") updates.push(...message.updates);
  });
  const launch = (...tasks: TaskLaunch[]) => host.handle({ type: "launch", tasks });
  const health = (taskId: string) => updates.filter((u) => u.taskId === taskId && u.healthy !== undefined);
  return { dir, host, updates, launch, health };
}

const command = (value: string, extra: Record<string, unknown> = {}) => ({
  protocol: "COMMAND" as const,
  command: value,
  intervalMs: 50,
  timeoutMs: 1000,
  delayMs: 0,
  ...extra,
});

describe("health checks on the agent", () => {
  test("a COMMAND check runs in the sandbox with the task's env: every failure is reported, a pass once", async () => {
    const { dir, launch, health } = startHost();
    launch(
      launchOf(
        "cmd.1",
        { shell: "sleep 30" },
        { env: { PORT0: "31999" }, healthChecks: [command('test "$PORT0" = 31999 && test -f "$MESOS_SANDBOX/healthy"')] },
      ),
    );
    const failures = await waitFor(() => health("cmd.1").length >= 3 && health("cmd.1"), "three failures");
    expect(failures.every((u) => u.healthy === false && u.state === "TASK_RUNNING" && u.healthCheck === 0)).toBe(true);
    expect(failures[0]?.message).toBe("command exited with code 1");
    writeFileSync(join(sandboxPath(dir, "cmd.1"), "healthy"), "");
    await waitFor(() => health("cmd.1").some((u) => u.healthy), "a pass");
    const passed = health("cmd.1").length;
    await Bun.sleep(300);
    // Six more probes have passed meanwhile, and said nothing.
    expect(health("cmd.1").length).toBe(passed);
    rmSync(join(sandboxPath(dir, "cmd.1"), "healthy"));
    await waitFor(() => health("cmd.1").at(-1)?.healthy === false, "a failure after passing");
  });

  test("a COMMAND past its timeout fails, and what it started is killed", async () => {
    const { dir, launch, health } = startHost();
    launch(
      launchOf(
        "slow.1",
        { shell: "sleep 30" },
        // Three seconds: on a loaded machine the check's shell has taken over a second to write its child's pid.
        { healthChecks: [command('sleep 30 & echo $! > "$MESOS_SANDBOX/child"; wait', { timeoutMs: 3000, intervalMs: 10_000 })] },
      ),
    );
    const [failed] = await waitFor(() => health("slow.1").length > 0 && health("slow.1"), "a timeout", 10_000);
    expect(failed?.message).toBe("command timed out after 3000 ms");
    // The check ran in the task's PID namespace (where there is one): its `$!` is not the host's pid.
    const child = hostPid(sandboxPath(dir, "slow.1"), Number(await Bun.file(join(sandboxPath(dir, "slow.1"), "child")).text()));
    await waitFor(() => pidGone(child), "the check's child to be killed");
  }, 20_000);

  test("delayMs holds the first probe; the second check reports under its own index", async () => {
    const { launch, health } = startHost();
    launch(launchOf("two.1", { shell: "sleep 30" }, { healthChecks: [command("true", { delayMs: 60_000 }), command("exit 2")] }));
    await waitFor(() => health("two.1").length >= 2, "two failures");
    expect(new Set(health("two.1").map((u) => u.healthCheck))).toEqual(new Set([1]));
  });

  test("a task being killed stops its checks", async () => {
    const { host, updates, launch, health } = startHost();
    launch(launchOf("kill.1", { shell: "sleep 30" }, { healthChecks: [command("exit 1")] }));
    await waitFor(() => health("kill.1").length > 0, "a failure");
    host.handle({ type: "kill", taskIds: ["kill.1"], gracePeriodMs: 1000 });
    await waitFor(() => updates.find((u) => u.taskId === "kill.1" && u.state === "TASK_KILLED"), "TASK_KILLED");
    const after = updates.length;
    await Bun.sleep(200);
    expect(updates.length).toBe(after);
    expect(updates.filter((u) => u.taskId === "kill.1" && u.healthy !== undefined).every((u) => u.state === "TASK_RUNNING")).toBe(true);
  });

  test("a readiness check reports each change and stops once ready", async () => {
    const { updates, launch } = startHost();
    // Stand-ins for the task's endpoints: one warms up (503, then 200), one counts its probes.
    let ready = false;
    let probes = 0;
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(ready ? "ok" : "warming", { status: ready ? 200 : 503 }) });
    scope.defer(() => server.stop(true));
    const counting = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (probes++, new Response("ok")) });
    scope.defer(() => counting.stop(true));
    const check = (name: string, port: number) => ({
      name,
      protocol: "HTTP" as const,
      port,
      path: "/",
      intervalMs: 50,
      timeoutMs: 500,
      httpStatusCodesForReady: [200],
      preserveLastResponse: true,
    });
    launch(launchOf("ready.1", { shell: "sleep 30" }, { readinessChecks: [check("warm", server.port ?? 0), check("count", counting.port ?? 0)] }));
    const readiness = () =>
      updates.filter((u) => u.readiness !== undefined).map((u) => [u.readiness?.name, u.readiness?.ready, u.readiness?.lastResponse?.body]);
    await waitFor(() => readiness().some(([name]) => name === "warm"), "the first readiness result");
    await Bun.sleep(200);
    ready = true;
    await waitFor(() => readiness().some(([name, isReady]) => name === "warm" && isReady), "ready");
    expect(readiness().filter(([name]) => name === "warm")).toEqual([
      ["warm", false, "warming"],
      ["warm", true, "ok"],
    ]);
    expect(readiness().filter(([name]) => name === "count")).toEqual([["count", true, "ok"]]);
    await Bun.sleep(200);
    expect(probes).toBe(1);
  });
});

describe("results without a session", () => {
  test("are dropped rather than queued, and the first result once the session is back goes out whatever it is", async () => {
    let online = false;
    const sent: Record<string, unknown>[] = [];
    let attempts = 0;
    const launch = launchOf("offline.1", { shell: "sleep 30" }, { healthChecks: [command("true", { intervalMs: 20 })] });
    const checks = new TaskChecks(
      launch,
      { runCommand: async () => ({ code: 0, timedOut: false, output: "" }) },
      (status) => {
        attempts++;
        if (online) sent.push(status);
        return online;
      },
      collectLog().log,
    );
    scope.defer(() => checks.stop());
    checks.start();
    await waitFor(() => attempts >= 3, "passes tried while offline");
    expect(sent).toEqual([]);
    online = true;
    await waitFor(() => sent.length > 0, "the pass once online");
    await Bun.sleep(100);
    expect(sent).toEqual([{ healthy: true, healthCheck: 0 }]);
  });
});
