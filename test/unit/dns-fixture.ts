import { buildZone, type ZoneAgent, type ZoneIndex, type ZoneInput, type ZoneTask } from "../../control/dns/zone.ts";
export { seeded } from "../support/prng.ts";

/** Shared inputs for the dns-*.test.ts files: three agents (one IPv6) and tasks in every state DNS cares about. */

export const AGENTS: ZoneAgent[] = [
  { id: "5e1c9c2a-7b7e-4a53-9a55-1f0e4c0a9e11-S1", hostname: "agent-1.local", ip: "10.0.0.1" },
  { id: "5e1c9c2a-7b7e-4a53-9a55-1f0e4c0a9e11-S2", hostname: "Agent_2", ip: "10.0.0.2" },
  { id: "5e1c9c2a-7b7e-4a53-9a55-1f0e4c0a9e11-S6", hostname: "v6", ip: "fd00::6" },
];

export function task(overrides: Partial<ZoneTask> & Pick<ZoneTask, "id" | "name">): ZoneTask {
  return {
    framework: "marathon",
    agentId: AGENTS[0]!.id,
    state: "TASK_RUNNING",
    ports: [],
    killing: false,
    healthy: null,
    ...overrides,
  };
}

/** `/shop/web` twice (two agents), plus one task per reason to stay out of DNS, plus an IPv6 one. */
export const TASKS: ZoneTask[] = [
  task({ id: "shop_web.a1", name: "web.shop", ports: [31001, 31002], portNames: ["http", undefined], protocols: ["tcp", "udp,tcp"] }),
  task({ id: "shop_web.a2", name: "web.shop", agentId: AGENTS[1]!.id, ports: [31005], portNames: ["http"], protocols: ["tcp"] }),
  task({ id: "killing.1", name: "killing", killing: true, ports: [31010] }),
  task({ id: "killstate.1", name: "killstate", state: "TASK_KILLING" }),
  task({ id: "sick.1", name: "sick", healthy: false }),
  task({ id: "healthy.1", name: "healthy", healthy: true }),
  task({ id: "staging.1", name: "staging", state: "TASK_STAGING" }),
  task({ id: "orphan.1", name: "orphan", agentId: "gone-S9" }),
  task({ id: "db.1", name: "db", agentId: AGENTS[2]!.id, ports: [31020] }),
];

export const INPUT: ZoneInput = {
  serial: 42,
  masterHost: { name: "dcx.example.com", ips: ["192.0.2.10"], port: 8443 },
  agents: AGENTS,
  tasks: TASKS,
  frameworks: ["marathon", "metronome"],
};

export function fixtureZone(overrides: Partial<ZoneInput> = {}): Promise<ZoneIndex> {
  return buildZone({ ...INPUT, ...overrides });
}
