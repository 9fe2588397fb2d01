import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { collectLog } from "../test-support/log-collector.ts";
import { TEST_IMAGE, dockerForTests } from "../test-support/docker.ts";
import { testScope } from "../test-support/scope.ts";
import { launchOf } from "../test-support/tasks.ts";
import { DockerClient, DockerError } from "./docker-api.ts";
import { CONTAINER_SANDBOX, LABEL_AGENT, LABEL_APP, LABEL_TASK } from "./docker-container.ts";
import { DEFAULT_POLICY, vetLaunch } from "../policy.ts";
import { DockerDriver } from "./docker.ts";
import { TaskStartError } from "./driver.ts";
import type { RunningTask } from "./driver.ts";
import type { TaskLaunch } from "../../protocol/index.ts";

const docker = await dockerForTests();
const scope = testScope("dcx-docker");
const client = new DockerClient();
const AGENT_ID = `agent-test-${process.pid}`;
const T = 30_000;

function driver(): DockerDriver {
  const d = new DockerDriver({ log: collectLog().log, agentId: () => AGENT_ID, logCheckMs: 20 });
  scope.defer(() => d.close());
  return d;
}

async function ready(): Promise<DockerDriver> {
  docker.require();
  const d = driver();
  await d.probe();
  return d;
}

let counter = 0;
function containerLaunch(
  command: TaskLaunch["command"],
  container: Partial<NonNullable<TaskLaunch["container"]>> = {},
  extra: Partial<TaskLaunch> = {},
): TaskLaunch {
  const taskId = `docker-test-${process.pid}-${++counter}.instance-x._app.1`;
  const base = launchOf(taskId, command ?? { shell: "true" }, { env: { MARATHON_APP_ID: "/shop/web", PORT0: "31000" }, ...extra });
  return {
    ...base,
    command,
    container: { image: TEST_IMAGE, forcePullImage: false, privileged: false, network: "HOST", parameters: [], portMappings: [], volumes: [], ...container },
  };
}

/** Starts a launch; the container is force-removed after the test whatever happens. */
async function start(d: DockerDriver, launch: TaskLaunch): Promise<{ task: RunningTask; sandbox: string }> {
  const sandbox = join(scope.tempDir(), "sandbox");
  const task = await d.start(launch, sandbox);
  scope.defer(() => client.remove(task.containerId ?? "").catch(() => undefined));
  return { task, sandbox };
}

async function gone(id: string): Promise<boolean> {
  try {
    await client.inspect(id);
    return false;
  } catch (error) {
    return error instanceof DockerError && error.status === 404;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

describe("docker driver", () => {
  test.skipIf(docker.skip)(
    "probe: available, with the daemon's version as the `docker` attribute; a dead socket says why",
    async () => {
      const d = await ready();
      expect(d.fingerprint()).toMatchObject({ name: "docker", available: true, attributes: { docker: expect.stringMatching(/^\d+\.\d+/) } });
      const dead = new DockerDriver({ log: collectLog().log, agentId: () => AGENT_ID, socket: "/nonexistent/docker.sock" });
      expect(await dead.probe()).toMatchObject({ available: false, reason: expect.stringContaining("/nonexistent/docker.sock") });
    },
    T,
  );

  test.skipIf(docker.skip)(
    "cmd runs under /bin/sh -c with the task's env and labels; output lands in the sandbox; the exit code is kept and the container removed",
    async () => {
      const d = await ready();
      const launch = containerLaunch({ shell: 'echo "sandbox=$MESOS_SANDBOX app=$MARATHON_APP_ID"; echo oops >&2; sleep 1; exit 3' });
      const { task, sandbox } = await start(d, launch);
      const info = await client.inspect(task.containerId ?? "");
      expect(info.Config.Labels).toMatchObject({ [LABEL_TASK]: launch.taskId, [LABEL_AGENT]: AGENT_ID, [LABEL_APP]: "/shop/web" });
      expect(await d.wait(task)).toEqual({ kind: "exited", code: 3, stderrTail: "oops" });
      expect(readFileSync(join(sandbox, "stdout"), "utf8")).toBe(`sandbox=${CONTAINER_SANDBOX} app=/shop/web\n`);
      expect(await gone(task.containerId ?? "")).toBe(true);
    },
    T,
  );

  test.skipIf(docker.skip)(
    "runCommand (COMMAND health checks) runs inside the container with its env; a hung command times out",
    async () => {
      const d = await ready();
      const { task } = await start(d, containerLaunch({ shell: "sleep 30" }));
      const launch = containerLaunch({ shell: "sleep 30" });
      expect(await d.runCommand(task, launch, 'echo "in $MESOS_SANDBOX for $MARATHON_APP_ID" >&2; exit 3', 5000)).toEqual({
        code: 3,
        timedOut: false,
        output: `in ${CONTAINER_SANDBOX} for /shop/web`,
      });
      expect(await d.runCommand(task, launch, "test -d /www", 5000)).toMatchObject({ code: 0, timedOut: false });
      expect(await d.runCommand(task, launch, "sleep 55 & sleep 56", 300)).toMatchObject({ code: null, timedOut: true });
      // The hung check and what it started are killed, not left behind at every interval.
      const ps = await d.runCommand(task, launch, "ps", 5000);
      expect(ps.output).not.toMatch(/sleep 5[56]/);
      await d.stop(task, 0);
    },
    T,
  );

  test.skipIf(docker.skip)(
    "args go to the image's entrypoint; the sandbox is mounted at MESOS_SANDBOX",
    async () => {
      const d = await ready();
      const { task, sandbox } = await start(d, containerLaunch({ args: ["sh", "-c", `echo written > ${CONTAINER_SANDBOX}/out.txt`] }));
      expect(await d.wait(task)).toMatchObject({ kind: "exited", code: 0 });
      expect(readFileSync(join(sandbox, "out.txt"), "utf8")).toBe("written\n");
    },
    T,
  );

  test.skipIf(docker.skip)(
    "BRIDGE: the container port answers on its host port; cpus and mem become a CPU quota and a memory limit",
    async () => {
      const d = await ready();
      const hostPort = await freePort();
      const launch = containerLaunch(
        { shell: "httpd -f -p 8080 -h /www" },
        { network: "BRIDGE", portMappings: [{ hostPort, containerPort: 8080, protocol: "tcp" }] },
        { resources: { cpus: 0.5, mem: 64, disk: 0, gpus: 0 } },
      );
      const { task } = await start(d, launch);
      let body = "";
      for (let i = 0; i < 50 && body === ""; i++) {
        body = await fetch(`http://127.0.0.1:${hostPort}/`).then(
          (r) => r.text(),
          () => "",
        );
        if (body === "") await Bun.sleep(100);
      }
      expect(body).toBe("dcx test image\n");
      const raw = (await (await fetch(`http://docker/containers/${task.containerId}/json`, { unix: "/var/run/docker.sock" } as RequestInit)).json()) as {
        HostConfig: { Memory: number; CpuQuota: number; CpuPeriod: number; NetworkMode: string };
      };
      expect(raw.HostConfig).toMatchObject({ Memory: 64 * 1024 * 1024, CpuQuota: 50_000, CpuPeriod: 100_000, NetworkMode: "bridge" });
      await d.stop(task, 1000);
      expect(await gone(task.containerId ?? "")).toBe(true);
    },
    T,
  );

  test.skipIf(docker.skip)(
    "a container over its memory is OOM-killed and says so",
    async () => {
      const d = await ready();
      const { task } = await start(
        d,
        containerLaunch({ shell: "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived" }, {}, { resources: { cpus: 0.5, mem: 16, disk: 0, gpus: 0 } }),
      );
      const status = await d.wait(task);
      expect(status).toMatchObject({ kind: "exited", oomKilled: true });
    },
    T,
  );

  test.skipIf(docker.skip)(
    "an image that does not exist fails the start with Docker's reason; an unsupported parameter is named",
    async () => {
      const d = await ready();
      const missing = containerLaunch({ shell: "true" }, { image: "dcx-test/does-not-exist:1" });
      const error = await d.start(missing, join(scope.tempDir(), "s")).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskStartError);
      expect((error as Error).message).toContain("could not pull image 'dcx-test/does-not-exist:1'");
      const progress: string[] = [];
      await d.start(missing, join(scope.tempDir(), "s"), (m) => progress.push(m)).catch(() => undefined);
      expect(progress).toEqual(["pulling image dcx-test/does-not-exist:1"]);
      const bad = containerLaunch({ shell: "true" }, { parameters: [{ key: "memory-swappiness", value: "0" }] });
      expect(((await d.start(bad, join(scope.tempDir(), "s")).catch((e: unknown) => e)) as Error).message).toContain(
        "docker parameter 'memory-swappiness' is not supported",
      );
    },
    T,
  );

  test.skipIf(docker.skip)(
    "a volume's host path swapped for a symlink after the launch was vetted is refused before the container is created",
    async () => {
      docker.require();
      const root = scope.tempDir();
      const allowed = join(root, "allowed");
      mkdirSync(join(allowed, "data"), { recursive: true });
      const policy = { ...DEFAULT_POLICY, allowHostPaths: [allowed] };
      const d = new DockerDriver({
        log: collectLog().log,
        agentId: () => AGENT_ID,
        recheck: (launch) => {
          const vetted = vetLaunch(launch, policy, true);
          if (vetted.launch === undefined) throw new TaskStartError(vetted.refusal);
          return vetted.launch;
        },
      });
      scope.defer(() => d.close());
      const launch = containerLaunch({ shell: "true" }, { volumes: [{ containerPath: "/data", hostPath: join(allowed, "data"), mode: "RW" }] });
      const vetted = vetLaunch(launch, policy, true).launch;
      expect(vetted).toBeDefined();
      // Meanwhile (an image pull can take minutes) the directory becomes a link out of the allowed prefix.
      rmSync(join(allowed, "data"), { recursive: true });
      symlinkSync("/etc", join(allowed, "data"));
      const error = await d.start(vetted as TaskLaunch, join(root, "sandbox")).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskStartError);
      expect((error as Error).message).toContain("(resolves to '/etc')");
      expect(await client.list({ [LABEL_TASK]: launch.taskId })).toEqual([]);
    },
    T,
  );

  test.skipIf(docker.skip)(
    "stop: the grace, then the container is gone",
    async () => {
      const d = await ready();
      const { task } = await start(d, containerLaunch({ shell: "trap 'echo term; exit 0' TERM; while true; do sleep 0.1; done" }));
      await Bun.sleep(300);
      await d.stop(task, 2000);
      expect(await d.wait(task)).toMatchObject({ kind: "exited", code: 0 });
      expect(await gone(task.containerId ?? "")).toBe(true);
    },
    T,
  );

  test.skipIf(docker.skip)(
    "recovery: a new driver re-attaches to the same running container; one that died meanwhile gives its real exit code",
    async () => {
      const first = await ready();
      const { task: alive, sandbox } = await start(
        first,
        containerLaunch({ shell: "echo before; while [ ! -e $MESOS_SANDBOX/go ]; do sleep 0.05; done; echo after; exit 5" }),
      );
      const { task: dying } = await start(first, containerLaunch({ shell: "sleep 600" }));
      first.close();
      await client.kill(dying.containerId ?? "");
      await client.wait(dying.containerId ?? "");

      const second = await ready();
      const found = await second.recover(alive);
      expect(found).toMatchObject({ alive: true, task: { containerId: alive.containerId } });
      const dead = await second.recover(dying);
      expect(dead).toEqual({ alive: false, status: { kind: "exited", code: 137, stderrTail: "" } });
      expect(await gone(dying.containerId ?? "")).toBe(true);
      await Bun.write(join(sandbox, "go"), "");
      expect(await second.wait(found.alive ? found.task : alive)).toMatchObject({ kind: "exited", code: 5 });
      // The log is whole: what was written before the restart is there once.
      expect(readFileSync(join(sandbox, "stdout"), "utf8")).toBe("before\nafter\n");
    },
    T,
  );

  test.skipIf(docker.skip)(
    "a container removed behind the agent's back is reported, not waited on forever",
    async () => {
      const d = await ready();
      const { task } = await start(d, containerLaunch({ shell: "sleep 600" }));
      await client.remove(task.containerId ?? "");
      expect(await d.wait(task)).toMatchObject({ kind: "exited", code: 137 });
      const again = await ready();
      expect(await again.recover(task)).toMatchObject({ alive: false, status: { kind: "unknown", reason: expect.stringContaining("removed") } });
    },
    T,
  );

  test.skipIf(docker.skip)(
    "strays: this agent's containers that no task knows are removed; others' are not",
    async () => {
      const d = await ready();
      const { task } = await start(d, containerLaunch({ shell: "sleep 600" }));
      const other = new DockerDriver({ log: collectLog().log, agentId: () => `${AGENT_ID}-other`, logCheckMs: 20 });
      scope.defer(() => other.close());
      await other.probe();
      const { task: theirs } = await start(other, containerLaunch({ shell: "sleep 600" }));
      expect(await d.removeStrays(new Set())).toBe(1);
      expect(await gone(task.containerId ?? "")).toBe(true);
      expect(await gone(theirs.containerId ?? "")).toBe(false);
      expect(existsSync("/var/run/docker.sock")).toBe(true);
    },
    T,
  );
});
