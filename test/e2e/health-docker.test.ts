import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";
import { TEST_IMAGE, dockerForTests } from "./docker-support.ts";

interface Task {
  id: string;
  ports: number[];
  healthCheckResults: { alive: boolean; lastFailureCause: string | null }[];
}

const dockerd = dockerForTests();

/**
 * Health checks of Docker tasks end to end: an HTTP check reaches a BRIDGE container through
 * the host port published for its mapping, and a COMMAND check runs inside the container (the
 * Engine API's exec), where the sandbox is mounted at MESOS_SANDBOX.
 */
describe.skipIf(dockerd.skip)("health checks of docker tasks", () => {
  const cluster = new TestCluster();
  const c = (path: string) => `/c/${cluster.clusterId}${path}`;
  const tasks = async (id: string) => (await cluster.api<{ tasks: Task[] }>("GET", c(`/v2/apps/${id}/tasks`))).tasks;
  const counts = async (id: string) => (await cluster.api<{ app: { tasksHealthy: number; tasksUnhealthy: number } }>("GET", c(`/v2/apps/${id}`))).app;
  const check = { intervalSeconds: 1, timeoutSeconds: 1, gracePeriodSeconds: 0, maxConsecutiveFailures: 0, delaySeconds: 0 };

  beforeAll(async () => {
    dockerd.require();
    await cluster.start();
    await cluster.signUp();
    cluster.startAgent("a", { token: await cluster.joinToken(), hostname: "docker-node", resources: "cpus:2;mem:1024;disk:1024;ports:[31500-31599]" });
    await waitFor("the agent", async () => (await cluster.api<{ slaves: unknown[] }>("GET", c("/master/slaves"))).slaves[0]);
  });
  afterAll(() => cluster.stop());

  it("an HTTP check on a BRIDGE container passes through its published port", async () => {
    await cluster.api("POST", c("/v2/apps"), {
      id: "/bridged",
      cmd: "httpd -f -p 8080 -h /www",
      cpus: 0.1,
      mem: 32,
      container: { type: "DOCKER", docker: { image: TEST_IMAGE, network: "BRIDGE" }, portMappings: [{ containerPort: 8080, hostPort: 0 }] },
      healthChecks: [{ protocol: "MESOS_HTTP", path: "/", portIndex: 0, ...check }],
    });
    await waitFor("the container healthy", async () => ((await counts("bridged")).tasksHealthy === 1 ? true : undefined), 60_000, 200);
    const [task] = await tasks("bridged");
    expect(task?.healthCheckResults[0]?.alive).toBe(true);
  });

  it("a COMMAND check runs inside the container: failing until its file appears in the sandbox", async () => {
    await cluster.api("POST", c("/v2/apps"), {
      id: "/probed",
      cmd: "sleep 600",
      cpus: 0.1,
      mem: 32,
      container: { type: "DOCKER", docker: { image: TEST_IMAGE } },
      healthChecks: [{ protocol: "COMMAND", command: { value: 'test -d /www && test -f "$MESOS_SANDBOX/ok"' }, ...check }],
    });
    const [task] = await waitFor(
      "the command's failure",
      async () => ((await counts("probed")).tasksUnhealthy === 1 ? tasks("probed") : undefined),
      60_000,
      200,
    );
    expect(task?.healthCheckResults[0]?.lastFailureCause).toBe("command exited with code 1");
    writeFileSync(join(cluster.dir, "a", "sandboxes", task?.id ?? "", "ok"), "");
    await waitFor("the command to pass", async () => ((await counts("probed")).tasksHealthy === 1 ? true : undefined), 30_000, 200);
    expect((await tasks("probed")).map((t) => t.id)).toEqual([task?.id]);
  });
});
