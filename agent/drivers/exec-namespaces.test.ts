import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StatusUpdate, TaskLaunch } from "../../protocol/index.ts";
import { DEFAULT_POLICY } from "../policy.ts";
import { sandboxPath } from "../sandbox.ts";
import { createTaskHost } from "../task-host.ts";
import { waitFor } from "../test-support/fake-master.ts";
import { collectLog } from "../test-support/log-collector.ts";
import { requirement } from "../test-support/requirement.ts";
import { testScope } from "../test-support/scope.ts";
import { fileText, launchOf } from "../test-support/tasks.ts";
import { detectNamespaces, taskNamespaces } from "./exec-namespaces.ts";
import { ExecDriver } from "./exec.ts";

const scope = testScope("dcx-ns");
const support = detectNamespaces();
const namespaces = requirement("PID and mount namespaces", support.enabled ? undefined : `exec tasks get no namespaces here: ${support.reason}`);

/**
 * A task host on a fresh work dir (holding a pretend identity), as the agent runs it. Root
 * tasks are allowed so the hiding is shown not to rest on file modes (a root task could still
 * unmount the tmpfs; that is what --allow-root-tasks accepts).
 */
function agent(exec: { namespaces?: boolean } = {}) {
  const workDir = scope.tempDir();
  writeFileSync(join(workDir, "identity.json"), '{"credential":"agent-secret"}', { mode: 0o600 });
  const logs = collectLog();
  const tasks = createTaskHost({
    workDir,
    log: logs.log,
    exec: { pollMs: 20, logCheckMs: 50, ...exec },
    outbox: { coalesceMs: 5 },
    policy: { ...DEFAULT_POLICY, allowRootTasks: true },
  });
  scope.defer(() => tasks.close({ killTasks: true }));
  const updates: StatusUpdate[] = [];
  tasks.connected((message) => {
    if (message.type === "status") updates.push(...message.updates);
  });
  const update = (taskId: string, state: string) => waitFor(() => updates.find((u) => u.taskId === taskId && u.state === state), `${taskId} ${state}`);
  const launch = (...launches: TaskLaunch[]) => tasks.handle({ type: "launch", tasks: launches });
  return { workDir, logs, updates, update, launch };
}

/** What a task sees of the machine, written to files in its sandbox. */
const LOOK = [
  "ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' ' > pids",
  "cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' ' > cmdlines",
  'ls -a "$WORK" | tr "\\n" " " > workdir',
  'ls -a "$WORK/sandboxes" | tr "\\n" " " > sandboxes',
  'cat "$WORK/identity.json" > identity 2>&1 || echo refused > identity',
  'cat "$WORK/sandboxes/$OTHER/secret" > stolen 2>&1 || echo refused > stolen',
  "echo done > looked",
].join("; ");

describe("exec tasks in their own PID and mount namespaces", () => {
  test.skipIf(namespaces.skip)("a task sees only its own processes, and of the work dir only its own sandbox; even as root", async () => {
    namespaces.require();
    const { workDir, update, launch } = agent();
    launch(launchOf("victim.1", { shell: "echo top-secret > secret; sleep 30" }));
    await update("victim.1", "TASK_RUNNING");
    await fileText(sandboxPath(workDir, "victim.1"), "secret");
    const env = { WORK: workDir, OTHER: "victim.1" };
    launch(launchOf("nosy.1", { shell: `${LOOK}; sleep 30` }, { env, user: "root" }));
    const sandbox = sandboxPath(workDir, "nosy.1");
    await fileText(sandbox, "looked");
    const read = (name: string) => readFileSync(join(sandbox, name), "utf8").trim();
    // Pid 1 is the task's wrapper; the agent (this test runner) and the other task are not there.
    expect(read("pids").split(" ").map(Number).length).toBeLessThan(8);
    expect(read("pids").startsWith("1 ")).toBe(true);
    expect(read("cmdlines")).not.toContain("bun");
    expect(read("cmdlines")).not.toContain("top-secret");
    expect(read("workdir")).toBe(". .. sandboxes");
    expect(read("sandboxes")).toBe(". .. nosy.1");
    expect(read("identity")).toBe("refused");
    expect(read("stolen")).toBe("refused");
    // The other task's sandbox and the agent's files are still there for the agent.
    expect(readFileSync(join(sandboxPath(workDir, "victim.1"), "secret"), "utf8")).toBe("top-secret\n");
  });

  test.skipIf(namespaces.skip)("a COMMAND health check runs inside the task's namespaces, in its sandbox, as its user", async () => {
    namespaces.require();
    const { workDir, updates, launch } = agent();
    const check = {
      protocol: "COMMAND" as const,
      command: 'cat /proc/1/cmdline | tr "\\0" " " > check-pid1; id -un > check-user; ls /proc | grep -cE "^[0-9]+$" > check-count',
      intervalMs: 50,
      timeoutMs: 2000,
      delayMs: 0,
    };
    launch(launchOf("checked.1", { shell: "sleep 30" }, { healthChecks: [check] }));
    const sandbox = sandboxPath(workDir, "checked.1");
    await waitFor(() => updates.find((u) => u.taskId === "checked.1" && u.healthy === true), "a passing check", 15_000);
    expect(await fileText(sandbox, "check-pid1")).toStartWith("/bin/sh -c trap : TERM");
    expect(await fileText(sandbox, "check-user")).toBe("nobody");
    expect(Number(await fileText(sandbox, "check-count"))).toBeLessThan(8);
  });

  test.skipIf(namespaces.skip)("a check waits while pid 1 is still unshare's forked copy, whose /proc is still the host's", async () => {
    namespaces.require();
    // Held in that state: the child of `unshare --fork` runs unshare again, as pid 1 of the new
    // namespace (its argv[0] stays unshare's until it execs, as a task's pid 1 does for an instant).
    const held = Bun.spawn(["/usr/bin/unshare", "--pid", "--fork", "--", "/usr/bin/unshare", "--fork", "--", "sleep", "30"]);
    const entered = Bun.spawn(["/usr/bin/unshare", "--pid", "--fork", "--", "sleep", "30"]);
    scope.defer(() => {
      held.kill("SIGKILL");
      entered.kill("SIGKILL");
    });
    const childOf = (pid: number) => Number(readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/)[0] || 0);
    await waitFor(
      () => childOf(held.pid) > 0 && childOf(entered.pid) > 0 && readFileSync(`/proc/${childOf(entered.pid)}/cmdline`, "utf8").startsWith("sleep"),
      "both namespaces' pid 1",
    );
    expect(taskNamespaces(held.pid)).toBe("pending");
    // Once pid 1 runs something else, the check may enter it.
    expect(taskNamespaces(entered.pid)).toBe(childOf(entered.pid));
  });

  test.skipIf(namespaces.skip)("the agent's isolation line says tasks get pid and mount namespaces; turned off, tasks see the host again", async () => {
    namespaces.require();
    const on = collectLog();
    new ExecDriver({ log: on.log }).close();
    expect(on.events("isolation")[0]).toMatchObject({ namespaces: "pid,mount" });
    const { workDir, logs, update, launch } = agent({ namespaces: false });
    expect(logs.events("isolation")[0]).toMatchObject({ namespaces: "none (turned off)" });
    launch(launchOf("open.1", { shell: `cat /proc/${process.pid}/cmdline > agent-cmdline; echo done > looked` }));
    await update("open.1", "TASK_FINISHED");
    expect(readFileSync(join(sandboxPath(workDir, "open.1"), "agent-cmdline"), "utf8")).toContain("bun");
  });
});
