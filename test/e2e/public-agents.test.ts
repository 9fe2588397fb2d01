import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";
import { taskAnswer } from "./tools.ts";

interface Task {
  id: string;
  slaveId: string;
  state: string;
  ports: number[];
  ipAddresses: { ipAddress: string }[];
}
interface Slave {
  id: string;
  hostname: string;
  attributes: Record<string, unknown>;
  reserved_resources: Record<string, unknown>;
}

const FIXTURE = join(ROOT, "test", "e2e", "fixtures", "echo-server.mjs");

/**
 * Public and private agents end to end: the control plane on workerd, a real Bun agent started
 * with `--public` beside a private one, and real task processes serving HTTP placed by
 * `acceptedResourceRoles`.
 */
describe("a --public agent beside a private one", () => {
  const cluster = new TestCluster();
  const c = () => `/c/${cluster.clusterId}`;
  const slaves = async () => (await cluster.api<{ slaves: Slave[] }>("GET", `${c()}/master/slaves`)).slaves;
  const agentOf = async (hostname: string) => (await slaves()).find((s) => s.hostname === hostname)?.id;
  const running = (id: string, count: number) =>
    waitFor(
      `${id} to run ${count} tasks`,
      async () => {
        const { tasks } = await cluster.api<{ tasks: Task[] }>("GET", `${c()}/v2/apps${id}/tasks`);
        return tasks.length === count && tasks.every((t) => t.state === "TASK_RUNNING") ? tasks : undefined;
      },
      60_000,
      200,
    );

  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
    const token = await cluster.joinToken();
    cluster.startAgent("private", { token, hostname: "private-a", advertiseIp: "127.0.0.2", resources: "cpus:2;mem:2048;disk:1024;ports:[31000-31099]" });
    cluster.startAgent("public", {
      token,
      hostname: "public-a",
      advertiseIp: "127.0.0.3",
      resources: "cpus:2;mem:2048;disk:1024;ports:[31100-31199]",
      extraArgs: ["--public"],
    });
    await waitFor("two agents", async () => ((await slaves()).length === 2 ? true : undefined));
  }, 120_000);
  afterAll(() => cluster.stop());

  it("the public agent registers with role slave_public and public_ip:true; the private one without", async () => {
    const byHost = new Map((await slaves()).map((s) => [s.hostname, s]));
    expect(byHost.get("public-a")).toMatchObject({ attributes: { public_ip: "true" }, reserved_resources: { slave_public: { cpus: 2 } } });
    expect(byHost.get("private-a")?.reserved_resources).toEqual({});
    expect(byHost.get("private-a")?.attributes).not.toHaveProperty("public_ip");
  });

  it('an app with acceptedResourceRoles ["slave_public"] runs on the public agent only, and one without on the private agent only', async () => {
    const app = (id: string, extra: Record<string, unknown>) =>
      cluster.api("POST", `${c()}/v2/apps`, { id, cmd: `exec node ${FIXTURE} dcx-e2e-roles`, cpus: 0.1, mem: 64, instances: 2, ...extra });
    await app("/edge", { acceptedResourceRoles: ["slave_public"] });
    await app("/inner", {});
    const [publicId, privateId] = [await agentOf("public-a"), await agentOf("private-a")];
    const edge = await running("/edge", 2);
    const inner = await running("/inner", 2);
    expect(edge.map((t) => t.slaveId)).toEqual([publicId, publicId]);
    expect(inner.map((t) => t.slaveId)).toEqual([privateId, privateId]);
    for (const t of [...edge, ...inner]) expect(await taskAnswer(t)).toBe(`${t.id} hello`);
  });
});
