import { describe, expect, it } from "vitest";
import { NO_DOCKER, place, type AgentSnapshot, type PlacementSnapshot, type TaskRequest } from "../../control/cluster/allocator/place.ts";
import { DOCKER_ATTRIBUTE } from "../../protocol/resources.ts";

/** Placement by driver: a task that needs Docker only goes to agents advertising the `docker` attribute. */

function agent(id: string, attributes: AgentSnapshot["attributes"] = {}, cpus = 4): AgentSnapshot {
  return {
    id,
    hostname: `${id}.example`,
    attributes,
    total: { cpus, mem: 4096, disk: 10000, gpus: 0, ports: [[31000, 31099]] },
    used: { cpus: 0, mem: 0, disk: 0, gpus: 0 },
    usedPorts: [],
  };
}

function request(group: string, count: number, over: Partial<TaskRequest> = {}): TaskRequest {
  return { framework: "marathon", group, count, cpus: 1, mem: 128, disk: 0, gpus: 0, ports: [], constraints: [], ...over };
}

function snapshot(agents: AgentSnapshot[]): PlacementSnapshot {
  return { now: 1_000_000, agents, placed: [], frameworks: [{ name: "marathon", role: "*", weight: 1 }] };
}

const DOCKER = { [DOCKER_ATTRIBUTE]: "28.2.2" };

describe("place: drivers", () => {
  it("puts Docker tasks only on agents with Docker, even when others are emptier", () => {
    const agents = [agent("a1"), agent("a2", DOCKER, 2), agent("a3")];
    const plan = place(snapshot(agents), [request("web", 2, { driver: "docker" })]);
    expect(plan.placements.map((p) => p.agentId)).toEqual(["a2", "a2"]);
    expect(plan.unplaced).toEqual([]);
  });

  it("keeps a Docker task waiting on a cluster without Docker and says why for every agent", () => {
    const plan = place(snapshot([agent("a1"), agent("a2")]), [request("web", 3, { driver: "docker" })]);
    expect(plan.placements).toEqual([]);
    expect(plan.unplaced).toEqual([
      {
        request: 0,
        framework: "marathon",
        group: "web",
        count: 3,
        reasons: { [NO_DOCKER]: 2 },
        declinedBy: [
          { agentId: "a1", reasons: [NO_DOCKER] },
          { agentId: "a2", reasons: [NO_DOCKER] },
        ],
      },
    ]);
    expect(NO_DOCKER).toMatch(/Docker/);
  });

  it("counts the Docker shortfall beside the other reasons of each agent", () => {
    const agents = [agent("a1", {}, 4), agent("a2", DOCKER, 0.5)];
    const plan = place(snapshot(agents), [request("web", 1, { driver: "docker" })]);
    expect(plan.unplaced[0]?.reasons).toEqual({ [NO_DOCKER]: 1, "insufficient cpus": 1 });
  });

  it("combines the driver with the app's constraints", () => {
    const agents = [agent("a1", { ...DOCKER, rack: "r1" }), agent("a2", { ...DOCKER, rack: "r2" }), agent("a3", { rack: "r2" })];
    const plan = place(snapshot(agents), [request("web", 2, { driver: "docker", constraints: [{ field: "rack", operator: "IS", value: "r2" }] })]);
    expect(plan.placements.map((p) => p.agentId)).toEqual(["a2", "a2"]);
  });

  it("runs exec tasks anywhere, with or without Docker", () => {
    const agents = [agent("a1", DOCKER), agent("a2")];
    for (const driver of [undefined, "exec"] as const) {
      const plan = place(snapshot(agents), [request("web", 2, driver === undefined ? {} : { driver })]);
      expect(new Set(plan.placements.map((p) => p.agentId))).toEqual(new Set(["a1", "a2"]));
    }
  });
});
