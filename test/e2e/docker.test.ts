import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TEST_IMAGE, containersLabelled, docker, dockerForTests } from "./docker-support.ts";
import { TestCluster } from "./cluster.ts";

interface Task {
  id: string;
  host: string;
  ports: number[];
  state: string;
}
interface App {
  tasksRunning: number;
  lastTaskFailure?: { message: string; state: string; taskId: string };
}

const dockerd = dockerForTests();

/**
 * Docker apps end to end: the control plane on workerd, a real Bun agent, real dockerd and the
 * local busybox image (scripts/docker-setup.sh). Marathon's own Docker app shapes: BRIDGE with
 * portMappings, HOST with $PORT0.
 */
describe.skipIf(dockerd.skip)("docker apps", () => {
  const cluster = new TestCluster();
  const resources = "cpus:2;mem:1024;disk:1024;ports:[31200-31299]";
  const c = (path: string) => `/c/${cluster.clusterId}${path}`;
  const tasks = async (app: string) => (await cluster.api<{ tasks: Task[] }>("GET", c(`/v2/apps/${app}/tasks`))).tasks;
  const app = async (id: string) => (await cluster.api<{ app: App }>("GET", c(`/v2/apps/${id}`))).app;
  const running = (id: string, count = 1) =>
    waitFor(
      `${count} task(s) of ${id} running`,
      async () => {
        const t = (await tasks(id)).filter((task) => task.state === "TASK_RUNNING");
        return t.length === count ? t : undefined;
      },
      60_000,
      100,
    );
  const get = async (port: number) => {
    for (let i = 0; i < 50; i++) {
      const body = await fetch(`http://127.0.0.1:${port}/`).then(
        (r) => r.text(),
        () => undefined,
      );
      if (body !== undefined) return body;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nothing answers on port ${port}`);
  };
  const startAgent = (token?: string) => cluster.startAgent("a", { token, hostname: "docker-node", resources });

  beforeAll(async () => {
    dockerd.require();
    await cluster.start();
    await cluster.signUp();
    startAgent(await cluster.joinToken());
    await waitFor("the agent", async () => (await cluster.api<{ slaves: { attributes: Record<string, string> }[] }>("GET", c("/master/slaves"))).slaves[0]);
  });
  afterAll(() => cluster.stop());

  it("the agent advertises Docker as an attribute", async () => {
    const { slaves } = await cluster.api<{ slaves: { attributes: Record<string, string> }[] }>("GET", c("/master/slaves"));
    expect(slaves[0]?.attributes.docker).toMatch(/^\d+\.\d+/);
  });

  it("a BRIDGE app answers on the host port the master assigned to its port mapping", async () => {
    await cluster.api("POST", c("/v2/apps"), {
      id: "/bridged",
      cmd: "httpd -f -p 8080 -h /www",
      cpus: 0.1,
      mem: 32,
      container: { type: "DOCKER", docker: { image: TEST_IMAGE, network: "BRIDGE" }, portMappings: [{ containerPort: 8080, hostPort: 0, protocol: "tcp" }] },
    });
    const [task] = await running("bridged");
    const port = task?.ports[0] ?? 0;
    expect(port).toBeGreaterThanOrEqual(31200);
    expect(await get(port)).toBe("dcx test image\n");
    expect(containersLabelled(`dcx.task_id=${task?.id}`, "dcx.app_id=/bridged")).toHaveLength(1);
  });

  it("a HOST-network app gets $PORT0 and serves on it", async () => {
    await cluster.api("POST", c("/v2/apps"), {
      id: "/hosted",
      cmd: 'echo "port $PORT0" > /tmp/index.html && httpd -f -p $PORT0 -h /tmp',
      cpus: 0.1,
      mem: 32,
      container: { type: "DOCKER", docker: { image: TEST_IMAGE, network: "HOST" } },
    });
    const [task] = await running("hosted");
    const port = task?.ports[0] ?? 0;
    expect(await get(port)).toBe(`port ${port}\n`);
  });

  it("a task over its memory is killed and reported OOM killed", async () => {
    await cluster.api("POST", c("/v2/apps"), {
      id: "/hungry",
      cmd: "x=$(head -c 200000000 /dev/zero | tr '\\0' a); sleep 600",
      cpus: 0.1,
      mem: 16,
      container: { type: "DOCKER", docker: { image: TEST_IMAGE } },
    });
    const failure = await waitFor("an OOM failure", async () => (await app("hungry")).lastTaskFailure, 60_000, 200);
    expect(failure).toMatchObject({ state: "TASK_FAILED", message: expect.stringContaining("OOM killed") });
    await cluster.api("DELETE", c("/v2/apps/hungry?force=true"));
  });

  it("an image that does not exist fails with a clear message", async () => {
    await cluster.api("POST", c("/v2/apps"), {
      id: "/ghost",
      cpus: 0.1,
      mem: 32,
      container: { type: "DOCKER", docker: { image: "dcx-test/does-not-exist:1" } },
    });
    const failure = await waitFor("the pull failure", async () => (await app("ghost")).lastTaskFailure, 60_000, 200);
    expect(failure).toMatchObject({ state: "TASK_FAILED", message: expect.stringContaining("could not pull image 'dcx-test/does-not-exist:1'") });
    await cluster.api("DELETE", c("/v2/apps/ghost?force=true"));
  });

  it("SIGKILL the agent and start it again: the same containers and exec tasks run on, no second container; one killed meanwhile is FAILED with its exit code", async () => {
    await cluster.api("POST", c("/v2/apps"), {
      id: "/victim",
      cmd: "sleep 600",
      cpus: 0.1,
      mem: 32,
      container: { type: "DOCKER", docker: { image: TEST_IMAGE } },
    });
    await cluster.api("POST", c("/v2/apps"), { id: "/plain", cmd: "sleep 600", cpus: 0.1, mem: 32 });
    const [bridged] = await running("bridged");
    const [victim] = await running("victim");
    const [plain] = await running("plain");
    const before = containersLabelled(`dcx.task_id=${bridged?.id}`);
    const victimContainer = containersLabelled(`dcx.task_id=${victim?.id}`)[0] ?? "";

    await cluster.agents[0]?.stop("SIGKILL");
    cluster.agents.shift();
    docker("kill", victimContainer);
    const agent = startAgent();
    await agent.waitForEvent("registered");

    const failure = await waitFor("the victim's failure", async () => (await app("victim")).lastTaskFailure, 30_000, 100);
    expect(failure).toMatchObject({ taskId: victim?.id, state: "TASK_FAILED", message: expect.stringContaining("exited with code 137") });
    const [bridgedAfter] = await running("bridged");
    expect(bridgedAfter?.id).toBe(bridged?.id);
    expect(containersLabelled(`dcx.task_id=${bridged?.id}`)).toEqual(before);
    expect(containersLabelled("dcx.app_id=/bridged")).toHaveLength(1);
    expect(await get(bridgedAfter?.ports[0] ?? 0)).toBe("dcx test image\n");
    const [plainAfter] = await running("plain");
    expect(plainAfter?.id).toBe(plain?.id);
    // The victim is replaced by a new task in a new container.
    const [replacement] = await running("victim");
    expect(replacement?.id).not.toBe(victim?.id);
  });

  it("deleting an app removes its containers", async () => {
    await cluster.api("DELETE", c("/v2/apps/bridged"));
    await waitFor("the containers to go", async () => (containersLabelled("dcx.app_id=/bridged").length === 0 ? true : undefined), 30_000, 100);
    expect(containersLabelled("dcx.app_id=/bridged")).toEqual([]);
  });
});
