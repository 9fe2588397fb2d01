import { describe, expect, it } from "vitest";
import type { TaskLaunch } from "../../protocol/messages.ts";
import { type Account, type TestSocket, call, joinAgent, signUp } from "./helpers.ts";

const post = (a: Account, path: string, json: unknown) => call(`/c/${a.cluster.id}${path}`, { method: "POST", token: a.token, json });
const get = async <T>(a: Account, path: string) => (await (await call(`/c/${a.cluster.id}${path}`, { token: a.token })).json()) as T;

interface Queue {
  queue: { count: number; processedOffersSummary: { rejectSummaryLastOffers: { reason: string; declined: number }[] } }[];
}

/** The next launch frame, skipping pongs and other frames. */
async function launchFrame(socket: TestSocket, timeoutMs: number): Promise<TaskLaunch[]> {
  return (await socket.nextOfType<{ tasks?: TaskLaunch[] }>("launch", timeoutMs)).tasks ?? [];
}

const RESOURCES = { cpus: 4, mem: 4096, disk: 1000, gpus: 0, ports: [[31000, 31100]] };

describe("Docker apps", () => {
  it("wait with 'no Docker' on agents without Docker, then launch on one that has it with resolved port mappings", async () => {
    const account = await signUp();
    const plain = await joinAgent(account, { hostname: "plain", resources: RESOURCES, attributes: {} });
    const definition = {
      id: "/shop/web",
      cpus: 0.5,
      mem: 64,
      networks: [{ mode: "container/bridge" }],
      container: {
        type: "DOCKER",
        docker: { image: "dcx-test/busybox:1" },
        portMappings: [
          { containerPort: 80, name: "http" },
          { containerPort: 53, hostPort: 31053, protocol: "udp,tcp" },
        ],
        volumes: [{ containerPath: "/data", hostPath: "/srv/web", mode: "RO" }],
      },
    };
    expect((await post(account, "/v2/apps", definition)).status).toBe(201);

    const reasons = async () => (await get<Queue>(account, "/v2/queue")).queue[0]?.processedOffersSummary.rejectSummaryLastOffers ?? [];
    // Marathon's reason names: an agent that cannot run the container fails like a constraint.
    await expect
      .poll(async () => (await reasons()).find((r) => r.reason === "UnfulfilledConstraint"))
      .toEqual({ reason: "UnfulfilledConstraint", declined: 1, processed: 1 });
    const [deployment] = await get<{ waiting: { reasons: Record<string, number> } }[]>(account, "/v2/deployments?embed=waiting");
    expect(deployment?.waiting.reasons).toEqual({ "agent does not run Docker": 1 });
    const { app } = await get<{ app: { networks: unknown; container: { portMappings: unknown[] } } }>(account, "/v2/apps/shop/web");
    expect(app.networks).toEqual([{ mode: "container/bridge" }]);

    const docker = await joinAgent(account, { hostname: "docker", resources: RESOURCES, attributes: { docker: "28.2.2" } });
    const [task] = await launchFrame(docker.socket, 8000);
    expect(task?.ports).toHaveLength(2);
    const dynamic = task?.ports[0] ?? 0;
    expect(dynamic).toBeGreaterThanOrEqual(31000);
    expect(task?.ports[1]).toBe(31053);
    expect(task?.container).toEqual({
      image: "dcx-test/busybox:1",
      forcePullImage: false,
      privileged: false,
      network: "BRIDGE",
      parameters: [],
      portMappings: [
        { hostPort: dynamic, containerPort: 80, protocol: "tcp" },
        { hostPort: 31053, containerPort: 53, protocol: "udp,tcp" },
      ],
      volumes: [{ containerPath: "/data", hostPath: "/srv/web", mode: "RO" }],
    });
    expect(task?.env).toMatchObject({
      HOST: "docker",
      PORT0: String(dynamic),
      PORT_80: String(dynamic),
      PORT_HTTP: String(dynamic),
      PORT_53: "31053",
      PORTS: `${dynamic},31053`,
    });
    expect(plain.socket.frames.some((f) => f.includes('"launch"'))).toBe(false);
  });
});
