import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import type { StatusUpdate, TaskLaunch } from "../protocol/index.ts";
import { containerSpec } from "./drivers/docker-container.ts";
import { lookupUser } from "./drivers/users.ts";
import { DEFAULT_POLICY, allowedPath, vetLaunch } from "./policy.ts";
import type { AgentPolicy } from "./policy.ts";
import { sandboxPath } from "./sandbox.ts";
import { createTaskHost } from "./task-host.ts";
import { waitFor } from "./test-support/fake-master.ts";
import { collectLog } from "./test-support/log-collector.ts";
import { requirement } from "./test-support/requirement.ts";
import { testScope } from "./test-support/scope.ts";
import { launchOf } from "./test-support/tasks.ts";

const scope = testScope("dcx-policy");
const asRoot = requirement("root", process.getuid?.() === 0 ? undefined : "running tasks as another user needs the agent to run as root");

type Container = NonNullable<TaskLaunch["container"]>;

/** A docker launch with `container` fields over harmless defaults. */
function docker(container: Partial<Container> = {}): TaskLaunch {
  const base: Container = { image: "busybox", forcePullImage: false, privileged: false, network: "HOST", parameters: [], portMappings: [], volumes: [] };
  return launchOf("docker.1", { shell: "true" }, { container: { ...base, ...container } });
}

function refusal(launch: TaskLaunch, policy: Partial<AgentPolicy> = {}, root = true): string | undefined {
  return vetLaunch(launch, { ...DEFAULT_POLICY, ...policy }, root).refusal;
}

const volume = (hostPath: string) => ({ containerPath: "/data", hostPath, mode: "RW" as const });

describe("agent policy: docker", () => {
  test("a privileged container is refused, naming --allow-privileged; allowed with it", () => {
    expect(refusal(docker({ privileged: true }))).toBe("privileged containers are refused by this agent; start it with --allow-privileged");
    expect(refusal(docker({ privileged: true }), { allowPrivileged: true })).toBeUndefined();
    expect(refusal(docker())).toBeUndefined();
  });

  test("cap-add is refused unless --allow-capabilities lists the capability (in any spelling) or ALL", () => {
    const capAdd = (value: string) => docker({ parameters: [{ key: "cap-add", value }] });
    expect(refusal(capAdd("NET_ADMIN"))).toBe(
      "docker parameter cap-add 'NET_ADMIN': added capabilities are refused by this agent; start it with --allow-capabilities NET_ADMIN",
    );
    expect(refusal(capAdd("cap_net_admin"), { allowCapabilities: ["NET_ADMIN"] })).toBeUndefined();
    expect(refusal(capAdd("SYS_ADMIN"), { allowCapabilities: ["NET_ADMIN"] })).toContain("--allow-capabilities SYS_ADMIN");
    expect(refusal(capAdd("ALL"), { allowCapabilities: ["NET_ADMIN"] })).toContain("--allow-capabilities ALL");
    expect(refusal(capAdd("SYS_ADMIN"), { allowCapabilities: ["ALL"] })).toBeUndefined();
    expect(refusal(docker({ parameters: [{ key: "cap-drop", value: "ALL" }] }))).toBeUndefined();
  });

  test("parameters that share a host namespace, mount host paths or lift confinement are refused by name", () => {
    const cases: [string, string, RegExp][] = [
      ["--pid", "host", /'pid' is refused by this agent: it shares a host namespace/],
      ["net", "host", /'net' is refused/],
      ["userns", "host", /'userns' is refused/],
      ["ipc", "host", /'ipc' is refused/],
      ["security-opt", "seccomp=unconfined", /'security-opt' is refused.*confinement/],
      ["-v", "/:/host", /'v' is refused.*--allow-host-paths/],
      ["volume", "/etc:/etc", /'volume' is refused/],
      ["mount", "type=bind,src=/,dst=/host", /'mount' is refused/],
      ["privileged", "true", /'privileged' is refused.*--allow-privileged/],
      ["device-cgroup-rule", "a *:* rwm", /'device-cgroup-rule' is refused/],
    ];
    for (const [key, value, message] of cases) {
      // Allowing everything else does not open these: no flag turns them on.
      expect(refusal(docker({ parameters: [{ key, value }] }), { allowPrivileged: true, allowCapabilities: ["ALL"], allowHostPaths: ["/"] })).toMatch(message);
    }
  });

  test("device is refused unless --allow-devices covers its host path", () => {
    const device = (value: string) => docker({ parameters: [{ key: "device", value }] });
    expect(refusal(device("/dev/null:/dev/x"))).toMatch(
      /device '\/dev\/null:\/dev\/x': '\/dev\/null' is not under a path this agent allows; start it with --allow-devices/,
    );
    expect(refusal(device("/dev/null"), { allowDevices: ["/dev/null"] })).toBeUndefined();
    expect(refusal(device("/dev/zero"), { allowDevices: ["/dev/null"] })).toContain("--allow-devices");
  });

  test("an allowed device is handed on by its resolved path, so the path checked is the path Docker opens", () => {
    const root = scope.tempDir();
    symlinkSync("/dev/null", join(root, "null-link"));
    const vetted = vetLaunch(
      docker({ parameters: [{ key: "device", value: `${join(root, "null-link")}:/dev/n:r` }] }),
      { ...DEFAULT_POLICY, allowDevices: ["/dev/null"] },
      true,
    );
    expect(vetted.launch?.container?.parameters).toEqual([{ key: "device", value: "/dev/null:/dev/n:r" }]);
  });

  test("an allowed device reaches the container's spec as Docker's device mapping", () => {
    const spec = (value: string) => containerSpec(docker({ parameters: [{ key: "device", value }] }), { sandbox: "/tmp/s", agentId: "a1" }).HostConfig.Devices;
    expect(spec("/dev/fuse")).toEqual([{ PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm" }]);
    expect(spec("/dev/null:/dev/n:r")).toEqual([{ PathOnHost: "/dev/null", PathInContainer: "/dev/n", CgroupPermissions: "r" }]);
    expect(() => spec("/dev/null:/dev/n:x")).toThrow("expected HOST_PATH[:CONTAINER_PATH[:rwm]]");
  });

  test("a volume is refused unless its resolved host path is under an allowed prefix; the resolved path is what gets mounted", () => {
    const root = scope.tempDir();
    const allowed = join(root, "allowed");
    mkdirSync(join(allowed, "data"), { recursive: true });
    mkdirSync(join(root, "allowed2"));
    symlinkSync("/etc", join(allowed, "escape"));
    symlinkSync(join(allowed, "data"), join(root, "inside-link"));
    symlinkSync(join(root, "nowhere"), join(allowed, "dangling"));
    const policy = { allowHostPaths: [allowed] };
    expect(refusal(docker({ volumes: [volume("/etc")] }))).toBe(
      "volume /data: host path '/etc' is not under a path this agent allows; start it with --allow-host-paths naming it or a parent",
    );
    expect(refusal(docker({ volumes: [volume(join(allowed, "escape"))] }), policy)).toContain("(resolves to '/etc')");
    expect(refusal(docker({ volumes: [volume(join(allowed, "escape", "shadow"))] }), policy)).toContain("resolves to '/etc/shadow'");
    expect(refusal(docker({ volumes: [volume(`${allowed}/../etc`)] }), policy)).toContain("must be an absolute path without . or .. segments");
    expect(refusal(docker({ volumes: [volume(join(root, "allowed2"))] }), policy)).toContain("is not under a path this agent allows");
    expect(refusal(docker({ volumes: [volume(join(allowed, "dangling", "x"))] }), policy)).toContain("symlink to nothing");
    const vetted = vetLaunch(
      docker({ volumes: [volume(join(root, "inside-link")), volume(join(allowed, "new", "dir"))] }),
      { ...DEFAULT_POLICY, ...policy },
      true,
    );
    expect(vetted.launch?.container?.volumes.map((v) => v.hostPath)).toEqual([join(allowed, "data"), join(allowed, "new", "dir")]);
    // A symlinked prefix counts by what it points at.
    symlinkSync(allowed, join(root, "prefix-link"));
    expect(allowedPath(join(allowed, "data"), [join(root, "prefix-link")])).toEqual({ path: join(allowed, "data") });
  });
});

test("the agent's work dir and docker socket are never mounted, whatever a broad --allow-host-paths allows", () => {
  const root = scope.tempDir();
  const workDir = join(root, "var", "lib", "dcx");
  mkdirSync(join(workDir, "sandboxes", "other-task"), { recursive: true });
  mkdirSync(join(root, "var", "lib", "app-data"), { recursive: true });
  const socket = join(root, "run", "docker.sock");
  mkdirSync(join(root, "run"));
  symlinkSync(workDir, join(root, "var", "lib", "app-data", "sneaky"));
  const broad = { ...DEFAULT_POLICY, allowHostPaths: [join(root, "var", "lib"), join(root, "run")] };
  const guarded = [workDir, socket];
  const vet = (hostPath: string) => vetLaunch(docker({ volumes: [volume(hostPath)] }), broad, true, guarded).refusal;
  // The work dir itself, inside it, a parent holding it, a link into it, and the socket.
  for (const path of [workDir, join(workDir, "sandboxes", "other-task"), join(root, "var", "lib"), join(root, "var", "lib", "app-data", "sneaky"), socket]) {
    expect(vet(path), path).toContain("would expose the agent's own");
  }
  expect(vet(join(root, "var", "lib", "app-data"))).toBeUndefined();
});

describe("agent policy: exec tasks as root", () => {
  test("a root user, or a root --task-user for tasks without one, is refused naming --allow-root-tasks; allowed with it", () => {
    const root = launchOf("root.1", { shell: "true" }, { user: "root" });
    expect(refusal(root)).toBe("user 'root' is root: tasks running as root are refused by this agent; start it with --allow-root-tasks");
    expect(refusal(root, { allowRootTasks: true })).toBeUndefined();
    const bare = launchOf("bare.1", { shell: "true" });
    expect(refusal(bare)).toBeUndefined();
    expect(refusal(bare, { taskUser: "root" })).toBe(
      "tasks without a user run as 'root' (--task-user), which is root: tasks running as root are refused by this agent; start it with --allow-root-tasks",
    );
    // An agent that is not root cannot run anything as root: nothing to refuse.
    expect(refusal(root, {}, false)).toBeUndefined();
  });
});

describe("agent policy: enforced by the task host", () => {
  function host(policy: Partial<AgentPolicy> = {}) {
    const dir = scope.tempDir();
    const tasks = createTaskHost({
      workDir: dir,
      log: collectLog().log,
      exec: { pollMs: 20, logCheckMs: 50 },
      outbox: { coalesceMs: 5 },
      policy: { ...DEFAULT_POLICY, ...policy },
    });
    scope.defer(() => tasks.close({ killTasks: true }));
    const updates: StatusUpdate[] = [];
    tasks.connected((message) => {
      if (message.type === "status") updates.push(...message.updates);
    });
    const update = (taskId: string, state: string) => waitFor(() => updates.find((u) => u.taskId === taskId && u.state === state), `${taskId} ${state}`);
    return { dir, updates, update, launch: (launch: TaskLaunch) => tasks.handle({ type: "launch", tasks: [launch] }) };
  }

  test("a refused launch ends in TASK_ERROR naming the flag, and nothing starts", async () => {
    const { update, updates, launch } = host();
    launch(docker({ privileged: true }));
    expect((await update("docker.1", "TASK_ERROR")).message).toBe("privileged containers are refused by this agent; start it with --allow-privileged");
    expect(updates.filter((u) => u.state !== "TASK_ERROR")).toEqual([]);
  });

  test.skipIf(asRoot.skip)("as root: a work dir behind a directory others cannot search is reported at start", () => {
    asRoot.require();
    const parent = join(scope.tempDir(), "private");
    mkdirSync(parent, { mode: 0o700 });
    const logs = collectLog();
    const tasks = createTaskHost({ workDir: join(parent, "work"), log: logs.log, policy: DEFAULT_POLICY });
    scope.defer(() => tasks.close({ killTasks: true }));
    expect(logs.events("work_dir_unreachable")).toEqual([expect.objectContaining({ dir: parent })]);
    const widened = scope.tempDir();
    chmodSync(widened, 0o711);
    const open = collectLog();
    const fine = createTaskHost({ workDir: join(widened, "work"), log: open.log, policy: DEFAULT_POLICY });
    scope.defer(() => fine.close({ killTasks: true }));
    expect(open.events("work_dir_unreachable")).toEqual([]);
  });

  test.skipIf(asRoot.skip)("as root: a task without a user runs as nobody in a sandbox it owns; user root is TASK_ERROR unless allowed", async () => {
    asRoot.require();
    const strict = host();
    strict.launch(launchOf("plain.1", { shell: 'id -u > uid.txt; touch "$MESOS_SANDBOX/made-by-task"' }));
    strict.launch(launchOf("root.1", { shell: "id -u > uid.txt" }, { user: "root" }));
    await strict.update("plain.1", "TASK_FINISHED");
    const nobody = lookupUser("nobody");
    const sandbox = sandboxPath(strict.dir, "plain.1");
    expect(readFileSync(join(sandbox, "uid.txt"), "utf8").trim()).toBe(String(nobody?.uid));
    expect(statSync(sandbox).uid).toBe(nobody?.uid ?? -1);
    expect(statSync(join(sandbox, "made-by-task")).uid).toBe(nobody?.uid ?? -1);
    expect((await strict.update("root.1", "TASK_ERROR")).message).toContain("--allow-root-tasks");
    const lax = host({ allowRootTasks: true });
    lax.launch(launchOf("root.2", { shell: "id -u > uid.txt" }, { user: "root" }));
    await lax.update("root.2", "TASK_FINISHED");
    expect(readFileSync(join(sandboxPath(lax.dir, "root.2"), "uid.txt"), "utf8").trim()).toBe("0");
  });
});
