import { describe, expect, it } from "vitest";
import { valueEquals, formatAttribute } from "../../control/cluster/allocator/constraints.ts";
import {
  DECLINED,
  place,
  ROLE_NOT_ACCEPTED,
  type AgentSnapshot,
  type Constraint,
  type PlacedTask,
  type PlacementPlan,
  type PlacementSnapshot,
  type TaskRequest,
} from "../../control/cluster/allocator/place.ts";
import { hostAccessOf, REFUSED_ACCESS } from "../../protocol/host-access.ts";
import { seeded } from "../support/prng.ts";

// ---- builders -------------------------------------------------------------------------------

function agent(id: string, over: Partial<AgentSnapshot> = {}): AgentSnapshot {
  return {
    id,
    hostname: `${id}.example`,
    attributes: {},
    total: { cpus: 4, mem: 4096, disk: 10000, gpus: 0, ports: [[31000, 31099]] },
    used: { cpus: 0, mem: 0, disk: 0, gpus: 0 },
    usedPorts: [],
    ...over,
  };
}

function request(group: string, count: number, over: Partial<TaskRequest> = {}): TaskRequest {
  return { framework: "marathon", group, count, cpus: 1, mem: 128, disk: 0, gpus: 0, ports: [], constraints: [], ...over };
}

function snapshot(agents: AgentSnapshot[], over: Partial<PlacementSnapshot> = {}): PlacementSnapshot {
  return { now: 1_000_000, agents, placed: [], frameworks: [{ name: "marathon", role: "*", weight: 1 }], ...over };
}

function agentsNamed(n: number, over: Partial<AgentSnapshot> = {}): AgentSnapshot[] {
  return Array.from({ length: n }, (_, i) => agent(`a${String(i).padStart(4, "0")}`, over));
}

function perAgent(plan: PlacementPlan): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of plan.placements) out.set(p.agentId, (out.get(p.agentId) ?? 0) + 1);
  return out;
}

function placedCount(plan: PlacementPlan, framework: string): number {
  return plan.placements.filter((p) => p.framework === framework).length;
}

// ---- an independent, naive checker of every plan invariant ----------------------------------

const SCALARS = ["cpus", "mem", "disk", "gpus"] as const;
const within = (x: number, limit: number): boolean => x <= limit + 1e-9 * Math.max(1, limit);

function fieldValue(a: AgentSnapshot, field: string): string | undefined {
  if (field === "hostname" || field === "@hostname") return a.hostname;
  const raw = a.attributes[field];
  return raw === undefined ? undefined : formatAttribute(raw);
}

/** Marathon's rules written the slow, obvious way: `tasks` are the agents of the group's tasks so far. */
function naiveAllows(c: Constraint, a: AgentSnapshot, tasks: AgentSnapshot[]): boolean {
  const v = fieldValue(a, c.field);
  if (v === undefined) return c.operator === "UNLIKE";
  const values = tasks.map((t) => fieldValue(t, c.field)).filter((x): x is string => x !== undefined);
  const n = values.filter((x) => x === v).length;
  const re = (): RegExp => new RegExp(`^(?:${c.value ?? ""})$`);
  switch (c.operator) {
    case "LIKE":
      return re().test(v);
    case "UNLIKE":
      return !re().test(v);
    case "IS":
      return valueEquals(c.field.endsWith("hostname") ? a.hostname : a.attributes[c.field], c.value ?? "");
    case "UNIQUE":
      return n === 0;
    case "MAX_PER":
      return n < Number(c.value);
    case "CLUSTER":
      if (c.value) return valueEquals(c.field.endsWith("hostname") ? a.hostname : a.attributes[c.field], c.value);
      return values.length === 0 || values[0] === v;
    case "GROUP_BY": {
      if (n === 0) return true;
      const counts = new Map<string, number>();
      for (const x of values) counts.set(x, (counts.get(x) ?? 0) + 1);
      return counts.size >= Number(c.value ?? 0) && n === Math.min(...counts.values());
    }
  }
}

interface Replay {
  used: Map<string, Record<(typeof SCALARS)[number], number>>;
  ports: Map<string, Set<number>>;
  tasks: Map<string, AgentSnapshot[]>;
}

function feasible(snap: PlacementSnapshot, r: TaskRequest, a: AgentSnapshot, state: Replay): boolean {
  const until = a.refusedUntil?.[r.framework];
  if (until !== undefined && snap.now < until) return false;
  const used = state.used.get(a.id);
  if (!used || !SCALARS.every((s) => within(used[s] + r[s], a.total[s]))) return false;
  const taken = state.ports.get(a.id) ?? new Set<number>();
  const offered = (p: number): boolean => a.total.ports.some(([b = 0, e = -1]) => p >= b && p <= e);
  const exact = r.ports.filter((p) => p !== 0);
  if (exact.some((p) => taken.has(p) || !offered(p))) return false;
  let free = 0;
  for (const [b = 0, e = -1] of a.total.ports) for (let p = b; p <= e; p++) if (!taken.has(p)) free++;
  if (free < r.ports.length) return false;
  const tasks = state.tasks.get(`${r.framework}/${r.group}`) ?? [];
  return r.constraints.every((c) => naiveAllows(c, a, tasks));
}

function utilisation(r: TaskRequest, a: AgentSnapshot, state: Replay): number {
  const used = state.used.get(a.id);
  return Math.max(0, ...SCALARS.filter((s) => a.total[s] > 0).map((s) => ((used?.[s] ?? 0) + r[s]) / a.total[s]));
}

/** The documented rank: GROUP_BY load, utilisation after, tasks of the group on the agent, agent id. */
function rankOf(r: TaskRequest, a: AgentSnapshot, state: Replay): [number, number, number, string] {
  const tasks = state.tasks.get(`${r.framework}/${r.group}`) ?? [];
  const load = r.constraints
    .filter((c) => c.operator === "GROUP_BY")
    .reduce((n, c) => n + tasks.filter((t) => fieldValue(t, c.field) === fieldValue(a, c.field)).length, 0);
  return [load, utilisation(r, a, state), tasks.filter((t) => t.id === a.id).length, a.id];
}

/**
 * No feasible agent outranks the chosen one. Utilisations within 1e-12 are a tie; between that
 * and 1e-6 the order is left to `place`'s rounding and not judged.
 */
function expectBest(snap: PlacementSnapshot, r: TaskRequest, chosen: AgentSnapshot, state: Replay): void {
  const [load, util, count, id] = rankOf(r, chosen, state);
  for (const other of snap.agents) {
    if (other === chosen || !feasible(snap, r, other, state)) continue;
    const [l, u, c, i] = rankOf(r, other, state);
    if (l === load && Math.abs(u - util) > 1e-12 && Math.abs(u - util) <= 1e-6) continue;
    const better = l !== load ? l < load : Math.abs(u - util) > 1e-12 ? u < util : c !== count ? c < count : i < id;
    expect(
      better,
      `${other.id} outranks ${chosen.id} for ${r.group}: ${JSON.stringify([l, u, c, i])} vs ${JSON.stringify([load, util, count, id])} ${JSON.stringify(r)}`,
    ).toBe(false);
  }
}

/**
 * Replays `plan` placement by placement and checks every invariant: capacity, ports, refuse
 * filters, constraints (at the moment of each placement), counts conserved, and that an
 * unplaced request really fits no agent at the end (when its group is its own).
 */
function checkPlan(snap: PlacementSnapshot, requests: TaskRequest[], plan: PlacementPlan): void {
  const byId = new Map(snap.agents.map((a) => [a.id, a]));
  const state: Replay = { used: new Map(), ports: new Map(), tasks: new Map() };
  for (const a of snap.agents) {
    state.used.set(a.id, { ...a.used });
    state.ports.set(a.id, new Set(a.usedPorts));
  }
  for (const t of snap.placed) {
    const a = byId.get(t.agentId);
    const key = `${t.framework}/${t.group}`;
    if (a) state.tasks.set(key, [...(state.tasks.get(key) ?? []), a]);
  }
  for (const p of plan.placements) {
    const r = requests[p.request];
    const a = byId.get(p.agentId);
    if (!r || !a) throw new Error(`placement names an unknown request or agent: ${JSON.stringify(p)}`);
    expect(feasible(snap, r, a, state), `placement of ${r.group} on ${a.id} was not feasible`).toBe(true);
    expectBest(snap, r, a, state);
    expect(p.hostPorts.length).toBe(r.ports.length);
    const taken = state.ports.get(a.id) ?? new Set<number>();
    p.hostPorts.forEach((port, i) => {
      if (r.ports[i] !== 0) expect(port).toBe(r.ports[i]);
      expect(taken.has(port), `port ${port} twice on ${a.id}`).toBe(false);
      expect(a.total.ports.some(([b = 0, e = -1]) => port >= b && port <= e)).toBe(true);
      taken.add(port);
    });
    const used = state.used.get(a.id);
    if (used) for (const s of SCALARS) used[s] += r[s];
    const key = `${r.framework}/${r.group}`;
    state.tasks.set(key, [...(state.tasks.get(key) ?? []), a]);
  }
  for (const a of snap.agents) {
    const used = state.used.get(a.id);
    for (const s of SCALARS) expect(within(used?.[s] ?? 0, a.total[s]), `${s} over-committed on ${a.id}`).toBe(true);
  }
  requests.forEach((r, i) => {
    const placed = plan.placements.filter((p) => p.request === i).length;
    const unplaced = plan.unplaced.filter((u) => u.request === i).reduce((n, u) => n + u.count, 0);
    expect(placed + unplaced).toBe(Math.max(0, r.count));
    const ownGroup = requests.filter((o) => o.framework === r.framework && o.group === r.group).length === 1;
    if (unplaced > 0 && ownGroup) {
      expect(
        snap.agents.some((a) => feasible(snap, r, a, state)),
        `request ${i} unplaced yet fits`,
      ).toBe(false);
    }
  });
}

// ---- random snapshots ---------------------------------------------------------------------------

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

function randomAgent(random: () => number, i: number): AgentSnapshot {
  const cpus = pick(random, [0.5, 1, 2, 4]);
  const mem = pick(random, [256, 512, 1024]);
  const base = 31000 + Math.floor(random() * 3);
  const ports: number[][] = random() < 0.15 ? [] : [[base, base + Math.floor(random() * 4)]];
  if (random() < 0.3) ports.push([32000, 32001]);
  const attributes: Record<string, string | number> = {};
  if (random() < 0.85) attributes.rack = pick(random, ["r1", "r2", "r3"]);
  if (random() < 0.7) attributes.level = pick(random, [1, 2, 2.5, 3]);
  return agent(`ag${i}`, {
    hostname: pick(random, [`h${i}`, `h${i}`, "shared"]),
    attributes,
    total: { cpus, mem, disk: 1000, gpus: pick(random, [0, 0, 1, 2]), ports },
    used: { cpus: pick(random, [0, 0, 0.1, 0.3]) * cpus, mem: pick(random, [0, 128]), disk: 0, gpus: 0 },
    usedPorts: random() < 0.5 ? [base, 32001] : [],
    refusedUntil: random() < 0.1 ? { a: 1_000_000 + pick(random, [-1, 0, 1]) } : undefined,
  });
}

const CONSTRAINTS: Constraint[] = [
  { field: "hostname", operator: "UNIQUE" },
  { field: "rack", operator: "UNIQUE" },
  { field: "rack", operator: "CLUSTER" },
  { field: "rack", operator: "CLUSTER", value: "r2" },
  { field: "rack", operator: "GROUP_BY" },
  { field: "rack", operator: "GROUP_BY", value: "3" },
  { field: "rack", operator: "LIKE", value: "r[12]" },
  { field: "rack", operator: "UNLIKE", value: "r1" },
  { field: "level", operator: "IS", value: "2.5" },
  { field: "level", operator: "MAX_PER", value: "2" },
  { field: "@hostname", operator: "MAX_PER", value: "1" },
];

function randomRequest(random: () => number, i: number): TaskRequest {
  const constraints = CONSTRAINTS.filter(() => random() < 0.12);
  return request(`g${i}`, 1 + Math.floor(random() * 6), {
    framework: pick(random, ["a", "b", "c"]),
    cpus: pick(random, [0.1, 0.2, 0.3, 0.5, 1]),
    mem: pick(random, [32, 64, 128]),
    gpus: random() < 0.15 ? 1 : 0,
    ports: pick(random, [[], [], [0], [0, 0], [31001], [31001, 0], [32000, 0, 0]]),
    constraints,
  });
}

function randomCase(random: () => number): { snap: PlacementSnapshot; requests: TaskRequest[] } {
  const agents = Array.from({ length: 1 + Math.floor(random() * 10) }, (_, i) => randomAgent(random, i));
  const requests = Array.from({ length: 1 + Math.floor(random() * 6) }, (_, i) => randomRequest(random, i));
  const placed: PlacedTask[] = [];
  for (const r of requests) {
    if (random() < 0.3) placed.push({ agentId: pick(random, agents).id, framework: r.framework, group: r.group });
  }
  const frameworks = [
    { name: "a", role: "ra", weight: 1 },
    { name: "b", role: "rb", weight: 2 },
    { name: "c", role: "ra", weight: 1 },
  ];
  return { snap: { now: 1_000_000, agents, placed, frameworks }, requests };
}

// ---- tests ------------------------------------------------------------------------------------

describe("place: capacity is never over-committed", () => {
  it("fills a 1-cpu agent with exactly ten 0.1-cpu instances despite float sums", () => {
    const plan = place(snapshot([agent("a1", { total: { cpus: 1, mem: 4096, disk: 0, gpus: 0, ports: [] } })]), [request("web", 11, { cpus: 0.1, mem: 1 })]);
    expect(plan.placements).toHaveLength(10);
    expect(plan.unplaced).toEqual([
      {
        request: 0,
        framework: "marathon",
        group: "web",
        count: 1,
        reasons: { "insufficient cpus": 1 },
        declinedBy: [{ agentId: "a1", reasons: ["insufficient cpus"] }],
      },
    ]);
  });

  it("fits 0.1 + 0.2 cpus on an agent with 0.3 cpus", () => {
    const plan = place(snapshot([agent("a1", { total: { cpus: 0.3, mem: 4096, disk: 0, gpus: 0, ports: [] } })]), [
      request("x", 1, { cpus: 0.1 }),
      request("y", 1, { cpus: 0.2 }),
    ]);
    expect(plan.placements).toHaveLength(2);
  });

  it("counts what agents already use and refuses each scalar that is short", () => {
    const agents = [
      agent("a1", { used: { cpus: 3.5, mem: 0, disk: 0, gpus: 0 } }),
      agent("a2", { used: { cpus: 0, mem: 4000, disk: 0, gpus: 0 } }),
      agent("a3", { used: { cpus: 3.5, mem: 4000, disk: 0, gpus: 0 } }),
    ];
    const plan = place(snapshot(agents), [request("web", 1, { cpus: 1, mem: 200, gpus: 1 })]);
    expect(plan.placements).toEqual([]);
    expect(plan.unplaced[0]?.reasons).toEqual({ "insufficient cpus": 2, "insufficient mem": 2, "insufficient gpus": 3 });
  });

  it("keeps every invariant over 500 random snapshots (seeded)", () => {
    const random = seeded(20240611);
    let placements = 0;
    let unplaced = 0;
    for (let run = 0; run < 500; run++) {
      const { snap, requests } = randomCase(random);
      const plan = place(snap, requests);
      checkPlan(snap, requests, plan);
      placements += plan.placements.length;
      unplaced += plan.unplaced.length;
    }
    // The generator must exercise both outcomes, or the checks above prove little.
    expect(placements).toBeGreaterThan(1000);
    expect(unplaced).toBeGreaterThan(100);
  });

  it("keeps every invariant on bigger clusters with many interleaved requests (seeded)", () => {
    const random = seeded(99);
    for (let run = 0; run < 30; run++) {
      const agents = Array.from({ length: 20 + Math.floor(random() * 40) }, (_, i) => randomAgent(random, i));
      const requests = Array.from({ length: 1 + Math.floor(random() * 30) }, (_, i) => ({
        ...randomRequest(random, i),
        count: 1 + Math.floor(random() * 25),
      }));
      const snap: PlacementSnapshot = { now: 1_000_000, agents, placed: [], frameworks: [] };
      checkPlan(snap, requests, place(snap, requests));
    }
  });

  it("is deterministic and independent of the agents' input order", () => {
    const random = seeded(7);
    for (let run = 0; run < 50; run++) {
      const { snap, requests } = randomCase(random);
      const reversed = { ...snap, agents: [...snap.agents].reverse() };
      expect(place(reversed, requests)).toEqual(place(snap, requests));
    }
  });
});

describe("place: spreading", () => {
  it("puts 4 instances on 4 equal agents on 4 different agents", () => {
    const plan = place(snapshot(agentsNamed(4)), [request("web", 4)]);
    expect(new Set(plan.placements.map((p) => p.agentId)).size).toBe(4);
  });

  it("prefers the agent with the lowest utilisation after placement", () => {
    const agents = [
      agent("a1", { used: { cpus: 2, mem: 0, disk: 0, gpus: 0 } }),
      agent("a2", { used: { cpus: 1, mem: 0, disk: 0, gpus: 0 } }),
      agent("a3", { used: { cpus: 0, mem: 3000, disk: 0, gpus: 0 } }),
    ];
    const plan = place(snapshot(agents), [request("web", 1)]);
    expect(plan.placements[0]?.agentId).toBe("a2");
  });

  it("breaks a utilisation tie by fewest tasks of the group, then by agent id", () => {
    const agents = [agent("a1"), agent("a2"), agent("a3")];
    const placed: PlacedTask[] = [{ agentId: "a1", framework: "marathon", group: "web" }];
    const plan = place(snapshot(agents, { placed }), [request("web", 1, { cpus: 0, mem: 0 })]);
    expect(plan.placements[0]?.agentId).toBe("a2");
  });
});

describe("place: DRF across frameworks", () => {
  const cpuCluster = (n: number): AgentSnapshot[] => agentsNamed(n, { total: { cpus: 4, mem: 1e6, disk: 0, gpus: 0, ports: [] } });
  const frameworks = (wa: number, wb: number, roleB = "rb") => [
    { name: "a", role: "ra", weight: wa },
    { name: "b", role: roleB, weight: wb },
  ];

  it("gives two equal frameworks with equal demand equal dominant shares", () => {
    const plan = place(snapshot(cpuCluster(10), { frameworks: frameworks(1, 1) }), [
      request("x", 100, { framework: "a" }),
      request("y", 100, { framework: "b" }),
    ]);
    expect(placedCount(plan, "a")).toBe(20);
    expect(placedCount(plan, "b")).toBe(20);
  });

  it("gives a framework of weight 2 twice the share of one of weight 1", () => {
    const plan = place(snapshot(cpuCluster(15), { frameworks: frameworks(2, 1) }), [
      request("x", 100, { framework: "a" }),
      request("y", 100, { framework: "b" }),
    ]);
    expect(placedCount(plan, "a")).toBe(40);
    expect(placedCount(plan, "b")).toBe(20);
  });

  it("compares dominant shares, not cpus: a mem-heavy framework gets fewer, bigger instances", () => {
    // One big agent, so packing plays no part: DRF alone decides. a's dominant resource is cpus,
    // b's is mem; equal shares s satisfy 100 s + 0.1 × 250 s = 100 cpus, so s = 0.8.
    const agents = [agent("big", { total: { cpus: 100, mem: 100_000, disk: 0, gpus: 0, ports: [] } })];
    const plan = place(snapshot(agents, { frameworks: frameworks(1, 1) }), [
      request("cpu", 1000, { framework: "a", cpus: 1, mem: 10 }),
      request("mem", 1000, { framework: "b", cpus: 0.1, mem: 400 }),
    ]);
    expect(Math.abs(placedCount(plan, "a") - 80)).toBeLessThanOrEqual(1);
    expect(Math.abs(placedCount(plan, "b") - 200)).toBeLessThanOrEqual(2);
  });

  it("counts resources of tasks already placed towards a framework's share", () => {
    const placed: PlacedTask[] = Array.from({ length: 10 }, (_, i) => ({
      agentId: `a000${i % 5}`,
      framework: "a",
      group: "old",
      resources: { cpus: 1, mem: 0, disk: 0, gpus: 0 },
    }));
    const agents = cpuCluster(10).map((a, i) => (i < 5 ? { ...a, used: { cpus: 2, mem: 0, disk: 0, gpus: 0 } } : a));
    const plan = place(snapshot(agents, { placed, frameworks: frameworks(1, 1) }), [
      request("x", 100, { framework: "a" }),
      request("y", 100, { framework: "b" }),
    ]);
    expect(placedCount(plan, "a") + 10).toBe(placedCount(plan, "b"));
  });

  it("does not let a framework with a huge request starve one with a small request", () => {
    const plan = place(snapshot(cpuCluster(5), { frameworks: frameworks(1, 1) }), [
      request("huge", 10_000, { framework: "a" }),
      request("small", 3, { framework: "b" }),
    ]);
    expect(placedCount(plan, "b")).toBe(3);
    expect(placedCount(plan, "a")).toBe(17);
  });

  it("serves the apps of one framework round-robin so a big app does not starve a small one", () => {
    const plan = place(snapshot(cpuCluster(2)), [request("big", 1000), request("small", 2), request("mid", 3)]);
    const groups = plan.placements.map((p) => p.group);
    expect(groups.slice(0, 6)).toEqual(["big", "small", "mid", "big", "small", "mid"]);
    expect(groups.filter((g) => g === "small")).toHaveLength(2);
    expect(groups.filter((g) => g === "mid")).toHaveLength(3);
    expect(plan.unplaced).toEqual([expect.objectContaining({ group: "big", count: 997 })]);
  });

  it("shares between roles first: two frameworks of one role together get what a lone role gets", () => {
    const plan = place(snapshot(cpuCluster(15), { frameworks: [...frameworks(1, 1), { name: "c", role: "ra", weight: 1 }] }), [
      request("x", 100, { framework: "a" }),
      request("y", 100, { framework: "b" }),
      request("z", 100, { framework: "c" }),
    ]);
    expect(placedCount(plan, "b")).toBe(30);
    expect(placedCount(plan, "a")).toBe(15);
    expect(placedCount(plan, "c")).toBe(15);
  });

  it("moves on to the next framework when the lowest-share one cannot place anything", () => {
    const agents = [agent("a1", { total: { cpus: 4, mem: 4096, disk: 0, gpus: 0, ports: [] } })];
    const plan = place(snapshot(agents, { frameworks: frameworks(1, 1) }), [
      request("gpu", 2, { framework: "a", gpus: 1 }),
      request("cpu", 2, { framework: "b" }),
    ]);
    expect(placedCount(plan, "b")).toBe(2);
    expect(plan.unplaced).toEqual([expect.objectContaining({ group: "gpu", count: 2, reasons: { "insufficient gpus": 1 } })]);
  });
});

describe("place: host ports", () => {
  const ported = (ranges: number[][], usedPorts: number[] = []): AgentSnapshot =>
    agent("a1", { total: { cpus: 64, mem: 1e6, disk: 0, gpus: 0, ports: ranges }, usedPorts });

  it("hands out the lowest free ports of the ranges, skipping ports in use, distinct per instance", () => {
    const plan = place(
      snapshot([
        ported(
          [
            [31000, 31003],
            [31010, 31020],
          ],
          [31001],
        ),
      ]),
      [request("web", 3, { ports: [0, 0] })],
    );
    expect(plan.placements.map((p) => p.hostPorts)).toEqual([
      [31000, 31002],
      [31003, 31010],
      [31011, 31012],
    ]);
  });

  it("uses an exact port (requirePorts) once per agent and moves the next instance elsewhere", () => {
    const agents = [ported([[8000, 9000]]), { ...ported([[8000, 9000]]), id: "a2", hostname: "a2" }];
    const plan = place(snapshot(agents), [request("web", 3, { ports: [8080] })]);
    expect(plan.placements.map((p) => [p.agentId, p.hostPorts])).toEqual([
      ["a1", [8080]],
      ["a2", [8080]],
    ]);
    expect(plan.unplaced[0]?.reasons).toEqual({ "port 8080 in use": 2 });
  });

  it("never gives a dynamic port that an exact port of the same instance takes", () => {
    const plan = place(snapshot([ported([[31000, 31001]])]), [request("web", 1, { ports: [0, 31000] })]);
    expect(plan.placements[0]?.hostPorts).toEqual([31001, 31000]);
  });

  it("refuses an exact port the agent does not offer or already uses", () => {
    const agents = [ported([[31000, 32000]]), { ...ported([[8000, 9000]], [8080]), id: "a2" }];
    const plan = place(snapshot(agents), [request("web", 1, { ports: [8080] })]);
    expect(plan.unplaced[0]?.reasons).toEqual({ "port 8080 not offered": 1, "port 8080 in use": 1 });
  });

  it("reports an exhausted range as 'no free ports'", () => {
    const plan = place(snapshot([ported([[31000, 31002]], [31001])]), [request("web", 3, { ports: [0] })]);
    expect(plan.placements.map((p) => p.hostPorts)).toEqual([[31000], [31002]]);
    expect(plan.unplaced[0]).toMatchObject({ count: 1, reasons: { "no free ports": 1 } });
  });

  it("rejects a request that asks for the same exact port twice", () => {
    const plan = place(snapshot([ported([[8000, 9000]])]), [request("web", 2, { ports: [8080, 8080] })]);
    expect(plan.unplaced).toEqual([expect.objectContaining({ count: 2, reasons: { "port 8080 requested twice": 1 } })]);
  });
});

describe("place: refuse filters", () => {
  it("does not offer a declined agent to that framework until the filter expires", () => {
    const agents = [agent("a1", { refusedUntil: { marathon: 2000 } }), agent("a2", { refusedUntil: { jobs: 9999 } })];
    const before = place(snapshot(agents, { now: 1999 }), [request("web", 2)]);
    expect(before.placements.map((p) => p.agentId)).toEqual(["a2", "a2"]);
    const at = place(snapshot(agents, { now: 2000 }), [request("web", 2)]);
    expect(at.placements.map((p) => p.agentId).sort()).toEqual(["a1", "a2"]);
  });

  it("counts declined agents in the unplaced reasons", () => {
    const agents = [agent("a1", { refusedUntil: { marathon: 5000 } }), agent("a2", { total: { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: [] } })];
    const plan = place(snapshot(agents, { now: 0 }), [request("web", 1)]);
    expect(plan.unplaced[0]?.reasons).toEqual({ [DECLINED]: 1, "insufficient cpus": 1, "insufficient mem": 1 });
    // Marathon never sees an offer its refuse filter holds back: only a2 is among the unused offers.
    expect(plan.unplaced[0]?.declinedBy).toEqual([{ agentId: "a2", reasons: ["insufficient cpus", "insufficient mem"] }]);
  });
});

describe("place: unplaced reports", () => {
  it("reports UNIQUE hostname with 3 instances on 2 agents as 2 placed and 1 waiting", () => {
    const plan = place(snapshot(agentsNamed(2)), [request("web", 3, { constraints: [{ field: "hostname", operator: "UNIQUE" }] })]);
    expect(plan.placements).toHaveLength(2);
    expect(plan.unplaced).toEqual([
      {
        request: 0,
        framework: "marathon",
        group: "web",
        count: 1,
        reasons: { "constraint hostname:UNIQUE": 2 },
        declinedBy: plan.placements.map((p) => ({ agentId: p.agentId, reasons: ["constraint hostname:UNIQUE"] })),
      },
    ]);
  });

  it("says nothing about requests with nothing left to place", () => {
    const plan = place(snapshot(agentsNamed(1)), [request("web", 0), request("job", -3)]);
    expect(plan).toEqual({ placements: [], unplaced: [] });
  });

  it("reports an invalid request against every agent instead of throwing", () => {
    const plan = place(snapshot(agentsNamed(3)), [request("web", 2, { cpus: -1 })]);
    expect(plan.unplaced[0]?.reasons).toEqual({ "invalid request: cpus must be a non-negative number": 3 });
  });

  it("places nothing and gives no agent reasons on an empty cluster", () => {
    const plan = place(snapshot([]), [request("web", 2)]);
    expect(plan).toEqual({ placements: [], unplaced: [{ request: 0, framework: "marathon", group: "web", count: 2, reasons: {}, declinedBy: [] }] });
  });
});

describe("place: scale", () => {
  it("places 10,000 instances over 1,000 agents (time printed, not asserted)", () => {
    const random = seeded(42);
    const agents = Array.from({ length: 1000 }, (_, i) =>
      agent(`agent-${String(i).padStart(4, "0")}`, {
        attributes: { rack: `r${i % 20}`, zone: i % 3 },
        total: { cpus: pick(random, [16, 32, 64]), mem: 131072, disk: 500000, gpus: 0, ports: [[31000, 32000]] },
      }),
    );
    const requests = Array.from({ length: 200 }, (_, i) =>
      request(`/app-${i}`, 50, {
        framework: i % 4 === 0 ? "jobs" : "marathon",
        cpus: pick(random, [0.1, 0.25, 0.5, 1]),
        mem: pick(random, [64, 128, 512]),
        ports: i % 2 === 0 ? [0] : [0, 0],
        constraints: i % 10 === 0 ? [{ field: "hostname", operator: "UNIQUE" }] : i % 10 === 1 ? [{ field: "rack", operator: "GROUP_BY" }] : [],
      }),
    );
    const snap = snapshot(agents, {
      frameworks: [
        { name: "marathon", role: "*", weight: 1 },
        { name: "jobs", role: "jobs", weight: 1 },
      ],
    });
    const timed = (): [PlacementPlan, number] => {
      const started = performance.now();
      const plan = place(snap, requests);
      return [plan, performance.now() - started];
    };
    const [plan, cold] = timed();
    const [again, warm] = timed();
    console.log(`place: 10,000 instances over 1,000 agents in ${cold.toFixed(1)} ms (cold), ${warm.toFixed(1)} ms (warm)`);
    expect(again).toEqual(plan);
    expect(plan.placements).toHaveLength(10_000);
    const load = perAgent(plan);
    expect(Math.max(...load.values())).toBeLessThanOrEqual(20);
  });
});

describe("place: agent roles (acceptedResourceRoles)", () => {
  const agents = [agent("private-1"), agent("public-1", { role: "slave_public" }), agent("private-2", { role: "*" })];
  const where = (roles: readonly string[] | undefined): Set<string> =>
    new Set(place(snapshot(agents), [request("/web", 6, roles === undefined ? {} : { roles })]).placements.map((p) => p.agentId));

  it("without accepted roles, only private agents take the task (DC/OS's default)", () => {
    expect(where(undefined)).toEqual(new Set(["private-1", "private-2"]));
  });

  it('["slave_public"] goes to public agents only', () => {
    expect(where(["slave_public"])).toEqual(new Set(["public-1"]));
  });

  it('["*"] goes to private agents only', () => {
    expect(where(["*"])).toEqual(new Set(["private-1", "private-2"]));
  });

  it("both roles may use every agent", () => {
    expect(where(["slave_public", "*"])).toEqual(new Set(["private-1", "public-1", "private-2"]));
  });

  it("a task no agent's role admits waits, with the role as the reason", () => {
    const plan = place(snapshot([agent("private-1")]), [request("/edge", 2, { roles: ["slave_public"] })]);
    expect(plan.placements).toEqual([]);
    expect(plan.unplaced).toEqual([
      {
        request: 0,
        framework: "marathon",
        group: "/edge",
        count: 2,
        reasons: { [ROLE_NOT_ACCEPTED]: 1 },
        declinedBy: [{ agentId: "private-1", reasons: [ROLE_NOT_ACCEPTED] }],
      },
    ]);
  });
});

describe("place: what agents allow of their host (allowances)", () => {
  const none = { privileged: false, rootTasks: false, capabilities: [], hostPaths: [], devices: [] };
  const agents = [
    agent("strict", { allowances: none }),
    agent("lenient", { allowances: { ...none, privileged: true, capabilities: ["NET_ADMIN"], hostPaths: ["/srv/data"] } }),
    agent("unsaid"),
  ];
  const where = (task: Parameters<typeof hostAccessOf>[0]): Set<string> =>
    new Set(place(snapshot(agents), [request("/t", 6, { hostAccess: hostAccessOf(task) })]).placements.map((p) => p.agentId));

  it("a task that stays in its sandbox goes anywhere", () => {
    expect(where({ parameters: [{ key: "env", value: "A=1" }], volumes: [{}] })).toEqual(new Set(["strict", "lenient", "unsaid"]));
  });

  it("privileged, an allowed capability or an allowed host path goes to the agents that allow it, and to those that did not say", () => {
    expect(where({ privileged: true })).toEqual(new Set(["lenient", "unsaid"]));
    expect(where({ parameters: [{ key: "cap-add", value: "cap_net_admin" }] })).toEqual(new Set(["lenient", "unsaid"]));
    expect(where({ volumes: [{ hostPath: "/srv/data/db" }] })).toEqual(new Set(["lenient", "unsaid"]));
  });

  it("a path outside the allowed prefix, or spelled with .., is not allowed by its spelling", () => {
    expect(where({ volumes: [{ hostPath: "/srv/database" }] })).toEqual(new Set(["unsaid"]));
    expect(where({ volumes: [{ hostPath: "/srv/data/../../etc" }] })).toEqual(new Set(["unsaid"]));
  });

  it("a task no agent allows waits, with the missing allowance as the reason", () => {
    const plan = place(snapshot(agents.slice(0, 2)), [request("/root", 1, { hostAccess: hostAccessOf({ user: "root", privileged: true }) })]);
    expect(plan.placements).toEqual([]);
    expect(plan.unplaced[0]?.reasons).toEqual({ [REFUSED_ACCESS.privileged]: 1, [REFUSED_ACCESS.root]: 1 });
  });
});
