import { describe, expect, it } from "vitest";
import { formatAttribute, valueEquals } from "../../control/cluster/allocator/constraints.ts";
import { place, type AgentSnapshot, type Constraint, type PlacedTask, type PlacementPlan, type TaskRequest } from "../../control/cluster/allocator/place.ts";

function agent(id: string, attributes: Record<string, string | number> = {}, cpus = 8): AgentSnapshot {
  return {
    id,
    hostname: id,
    attributes,
    total: { cpus, mem: 65536, disk: 0, gpus: 0, ports: [] },
    used: { cpus: 0, mem: 0, disk: 0, gpus: 0 },
    usedPorts: [],
  };
}

function request(count: number, constraints: Constraint[], group = "/app"): TaskRequest {
  return { framework: "marathon", group, count, cpus: 0.5, mem: 64, disk: 0, gpus: 0, ports: [], constraints };
}

function run(agents: AgentSnapshot[], requests: TaskRequest[], placed: PlacedTask[] = []): PlacementPlan {
  return place({ now: 0, agents, placed, frameworks: [{ name: "marathon", role: "*", weight: 1 }] }, requests);
}

/** Agents the plan used, in placement order. */
function hosts(plan: PlacementPlan): string[] {
  return plan.placements.map((p) => p.agentId);
}

function tally(plan: PlacementPlan, attributeOf: (agentId: string) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of hosts(plan)) out[attributeOf(id)] = (out[attributeOf(id)] ?? 0) + 1;
  return out;
}

/** Three racks of two agents; r1's agents are four times the size of the others. */
const RACKS = [
  agent("a1", { rack: "r1" }, 32),
  agent("a2", { rack: "r1" }, 32),
  agent("b1", { rack: "r2" }),
  agent("b2", { rack: "r2" }),
  agent("c1", { rack: "r3" }),
  agent("c2", { rack: "r3" }),
];
const rackOf = (id: string): string => String(RACKS.find((a) => a.id === id)?.attributes.rack);

describe("attribute values", () => {
  it("formats numbers at thousandths and leaves text alone", () => {
    expect(formatAttribute(3)).toBe("3");
    expect(formatAttribute(2.5)).toBe("2.5");
    expect(formatAttribute(1.23456)).toBe("1.235");
    expect(formatAttribute(3.0004)).toBe("3");
    expect(formatAttribute("3.000")).toBe("3.000");
  });

  it("compares a numeric attribute with a numeric value at thousandths, text exactly", () => {
    expect(valueEquals(3, "3")).toBe(true);
    expect(valueEquals(3, "3.000")).toBe(true);
    expect(valueEquals(3.0004, "3")).toBe(true);
    expect(valueEquals(3.001, "3")).toBe(false);
    expect(valueEquals("3.000", "3")).toBe(false);
    expect(valueEquals("3.000", "3.000")).toBe(true);
    expect(valueEquals(undefined, "3")).toBe(false);
  });
});

describe("UNIQUE", () => {
  it("puts at most one task per hostname, also under @hostname", () => {
    for (const field of ["hostname", "@hostname"]) {
      const plan = run([agent("h1"), agent("h2")], [request(3, [{ field, operator: "UNIQUE" }])]);
      expect(hosts(plan).sort()).toEqual(["h1", "h2"]);
      expect(plan.unplaced[0]?.reasons).toEqual({ [`constraint ${field}:UNIQUE`]: 2 });
    }
  });

  it("puts at most one task per attribute value and counts tasks already placed", () => {
    const placed: PlacedTask[] = [{ agentId: "a1", framework: "marathon", group: "/app" }];
    const plan = run(RACKS, [request(3, [{ field: "rack", operator: "UNIQUE" }])], placed);
    expect(tally(plan, rackOf)).toEqual({ r2: 1, r3: 1 });
    expect(plan.unplaced[0]).toMatchObject({ count: 1, reasons: { "constraint rack:UNIQUE": 6 } });
  });

  it("counts only tasks of the same group and framework", () => {
    const placed: PlacedTask[] = [
      { agentId: "h1", framework: "marathon", group: "/other" },
      { agentId: "h1", framework: "jobs", group: "/app" },
    ];
    const plan = run([agent("h1")], [request(1, [{ field: "hostname", operator: "UNIQUE" }])], placed);
    expect(hosts(plan)).toEqual(["h1"]);
  });

  it("turns down agents that lack the attribute", () => {
    const plan = run([agent("x1"), agent("x2", { rack: "r1" })], [request(2, [{ field: "rack", operator: "UNIQUE" }])]);
    expect(hosts(plan)).toEqual(["x2"]);
    expect(plan.unplaced[0]?.reasons).toEqual({ "constraint rack:UNIQUE": 2 });
  });
});

describe("CLUSTER", () => {
  it("with a value, uses only agents with that value", () => {
    const plan = run(RACKS, [request(4, [{ field: "rack", operator: "CLUSTER", value: "r2" }])]);
    expect(tally(plan, rackOf)).toEqual({ r2: 4 });
  });

  it("without a value, pins the value of the first task placed in the plan", () => {
    // Equal agents: without the pin, spreading would use every rack.
    const equal = RACKS.map((a) => ({ ...a, total: { ...a.total, cpus: 8 } }));
    const plan = run(equal, [request(5, [{ field: "rack", operator: "CLUSTER" }])]);
    expect(tally(plan, rackOf)).toEqual({ r1: 5 });
  });

  it("without a value, follows the group's first running task", () => {
    const placed: PlacedTask[] = [{ agentId: "c2", framework: "marathon", group: "/app" }];
    const plan = run(RACKS, [request(3, [{ field: "rack", operator: "CLUSTER" }])], placed);
    expect(tally(plan, rackOf)).toEqual({ r3: 3 });
  });

  it("pins by hostname too, and waits when that host is full", () => {
    const placed: PlacedTask[] = [{ agentId: "b1", framework: "marathon", group: "/app" }];
    const agents = RACKS.map((a) => (a.id === "b1" ? { ...a, used: { cpus: 7.5, mem: 0, disk: 0, gpus: 0 } } : a));
    const plan = run(agents, [request(2, [{ field: "hostname", operator: "CLUSTER" }])], placed);
    expect(hosts(plan)).toEqual(["b1"]);
    expect(plan.unplaced[0]?.reasons).toEqual({ "constraint hostname:CLUSTER": 5, "insufficient cpus": 1 });
  });
});

describe("GROUP_BY", () => {
  it("spreads evenly over three racks even when one rack is much bigger", () => {
    const plan = run(RACKS, [request(9, [{ field: "rack", operator: "GROUP_BY" }])]);
    expect(tally(plan, rackOf)).toEqual({ r1: 3, r2: 3, r3: 3 });
  });

  it("without the constraint, the big rack would take most (so the test above can fail)", () => {
    const plan = run(RACKS, [request(9, [])]);
    expect(tally(plan, rackOf).r1 ?? 0).toBeGreaterThan(3);
  });

  it("fills the emptiest racks first when tasks already run unevenly", () => {
    const placed: PlacedTask[] = [
      { agentId: "a1", framework: "marathon", group: "/app" },
      { agentId: "a2", framework: "marathon", group: "/app" },
    ];
    const plan = run(RACKS, [request(4, [{ field: "rack", operator: "GROUP_BY" }])], placed);
    expect(tally(plan, rackOf)).toEqual({ r2: 2, r3: 2 });
  });

  it("with n larger than the racks present, places one per rack and waits for more racks", () => {
    const plan = run(RACKS, [request(5, [{ field: "rack", operator: "GROUP_BY", value: "4" }])]);
    expect(tally(plan, rackOf)).toEqual({ r1: 1, r2: 1, r3: 1 });
    expect(plan.unplaced[0]).toMatchObject({ count: 2, reasons: { "constraint rack:GROUP_BY:4": 6 } });
  });

  it("does not pile onto other racks when the emptiest rack with tasks is full (Marathon waits)", () => {
    const agents = RACKS.map((a) => (rackOf(a.id) === "r3" ? { ...a, used: { cpus: 7.6, mem: 0, disk: 0, gpus: 0 } } : a));
    const placed: PlacedTask[] = ["a1", "b1", "c1"].map((agentId) => ({ agentId, framework: "marathon", group: "/app" }));
    const plan = run(agents, [request(4, [{ field: "rack", operator: "GROUP_BY" }])], placed);
    expect(tally(plan, rackOf)).toEqual({ r1: 1, r2: 1 });
    expect(plan.unplaced[0]?.count).toBe(2);
  });

  it("spreads evenly over hostnames, big agents included", () => {
    const plan = run(RACKS, [request(12, [{ field: "hostname", operator: "GROUP_BY" }])]);
    expect(Object.values(tally(plan, (id) => id))).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it("ignores a rack with no tasks whose agents are full", () => {
    const agents = RACKS.map((a) => (rackOf(a.id) === "r3" ? { ...a, used: { cpus: 8, mem: 0, disk: 0, gpus: 0 } } : a));
    const plan = run(agents, [request(6, [{ field: "rack", operator: "GROUP_BY" }])]);
    expect(tally(plan, rackOf)).toEqual({ r1: 3, r2: 3 });
  });
});

describe("LIKE and UNLIKE", () => {
  const hostsNamed = [agent("web-1"), agent("web-2"), agent("web"), agent("db-1")];

  it("LIKE matches the whole value (anchored regex)", () => {
    const anchored = run(hostsNamed, [request(4, [{ field: "hostname", operator: "LIKE", value: "web" }])]);
    expect(new Set(hosts(anchored))).toEqual(new Set(["web"]));
    const pattern = run(hostsNamed, [request(4, [{ field: "hostname", operator: "LIKE", value: "web-.*" }])]);
    expect(new Set(hosts(pattern))).toEqual(new Set(["web-1", "web-2"]));
  });

  it("LIKE on an attribute; an agent without it is turned down", () => {
    const agents = [agent("x1", { rack: "r1" }), agent("x2", { rack: "r10" }), agent("x3")];
    const plan = run(agents, [request(3, [{ field: "rack", operator: "LIKE", value: "r[0-9]" }])]);
    expect(new Set(hosts(plan))).toEqual(new Set(["x1"]));
  });

  it("UNLIKE excludes whole matches only, and accepts agents without the attribute", () => {
    const agents = [agent("x1", { rack: "r1" }), agent("x2", { rack: "r10" }), agent("x3")];
    const plan = run(agents, [request(6, [{ field: "rack", operator: "UNLIKE", value: "r1" }])]);
    expect(new Set(hosts(plan))).toEqual(new Set(["x2", "x3"]));
  });

  it("UNLIKE on hostnames", () => {
    const plan = run(hostsNamed, [request(4, [{ field: "hostname", operator: "UNLIKE", value: "web.*" }])]);
    expect(new Set(hosts(plan))).toEqual(new Set(["db-1"]));
  });

  it("LIKE on a numeric attribute matches its formatted value", () => {
    const agents = [agent("x1", { level: 2.5 }), agent("x2", { level: 3 })];
    const plan = run(agents, [request(2, [{ field: "level", operator: "LIKE", value: "2\\.5" }])]);
    expect(new Set(hosts(plan))).toEqual(new Set(["x1"]));
  });

  it("reports an invalid regex instead of throwing", () => {
    const plan = run(hostsNamed, [request(1, [{ field: "hostname", operator: "LIKE", value: "(" }])]);
    expect(plan.unplaced[0]?.reasons).toEqual({ "constraint hostname:LIKE:( (invalid regex)": 4 });
  });
});

describe("MAX_PER", () => {
  it("puts at most 2 tasks per rack", () => {
    const plan = run(RACKS, [request(8, [{ field: "rack", operator: "MAX_PER", value: "2" }])]);
    expect(tally(plan, rackOf)).toEqual({ r1: 2, r2: 2, r3: 2 });
    expect(plan.unplaced[0]).toMatchObject({ count: 2, reasons: { "constraint rack:MAX_PER:2": 6 } });
  });

  it("counts tasks already placed", () => {
    const placed: PlacedTask[] = [{ agentId: "h1", framework: "marathon", group: "/app" }];
    const plan = run([agent("h1"), agent("h2")], [request(3, [{ field: "hostname", operator: "MAX_PER", value: "2" }])], placed);
    expect(hosts(plan).sort()).toEqual(["h1", "h2", "h2"]);
  });

  it("reports a value that is not a whole number", () => {
    const plan = run([agent("h1")], [request(1, [{ field: "hostname", operator: "MAX_PER", value: "two" }])]);
    expect(plan.unplaced[0]?.reasons).toEqual({ "constraint hostname:MAX_PER:two (value must be a whole number)": 1 });
  });
});

describe("IS", () => {
  it("matches text exactly", () => {
    const agents = [agent("x1", { zone: "us-east-1a" }), agent("x2", { zone: "us-east-1" })];
    const plan = run(agents, [request(2, [{ field: "zone", operator: "IS", value: "us-east-1" }])]);
    expect(new Set(hosts(plan))).toEqual(new Set(["x2"]));
  });

  it("matches a numeric attribute 3 with '3' and '3.000', but not text '3.000' with '3'", () => {
    const agents = [agent("num", { level: 3 }), agent("text", { level: "3.000" }), agent("other", { level: 3.5 })];
    const loose = run(agents, [request(3, [{ field: "level", operator: "IS", value: "3" }])]);
    expect(new Set(hosts(loose))).toEqual(new Set(["num"]));
    const padded = run(agents, [request(3, [{ field: "level", operator: "IS", value: "3.000" }])]);
    expect(new Set(hosts(padded))).toEqual(new Set(["num", "text"]));
  });

  it("matches a hostname", () => {
    const plan = run([agent("h1"), agent("h2")], [request(2, [{ field: "hostname", operator: "IS", value: "h2" }])]);
    expect(hosts(plan)).toEqual(["h2", "h2"]);
  });

  it("turns down agents without the attribute, with a reason", () => {
    const plan = run([agent("x1")], [request(1, [{ field: "level", operator: "IS", value: "3" }])]);
    expect(plan.unplaced[0]?.reasons).toEqual({ "constraint level:IS:3": 1 });
  });
});

describe("several constraints", () => {
  it("must all hold", () => {
    const plan = run(RACKS, [
      request(6, [
        { field: "rack", operator: "UNLIKE", value: "r1" },
        { field: "hostname", operator: "UNIQUE" },
      ]),
    ]);
    expect(hosts(plan).sort()).toEqual(["b1", "b2", "c1", "c2"]);
    expect(plan.unplaced[0]?.reasons).toEqual({ "constraint rack:UNLIKE:r1": 2, "constraint hostname:UNIQUE": 4 });
  });

  it("are evaluated per group: two apps with UNIQUE hostname share the hosts", () => {
    const unique: Constraint[] = [{ field: "hostname", operator: "UNIQUE" }];
    const plan = run([agent("h1"), agent("h2")], [request(2, unique, "/a"), request(2, unique, "/b")]);
    expect(plan.placements).toHaveLength(4);
    expect(plan.unplaced).toEqual([]);
  });
});
