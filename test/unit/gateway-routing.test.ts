import { describe, expect, it } from "vitest";
import { gatewayFor, gatewayName, gatewayOfSession, gatewaysNeeded, parseGatewayName, sessionIdFor } from "../../control/gateway/wire.ts";

const agents = Array.from({ length: 4000 }, (_, i) => `0f6c2a9e-1c7e-4e59-9a53-6d0c1b2f3a4d-S${i}`);

describe("gateway routing (rendezvous hashing)", () => {
  it("sends the same agent to the same gateway for a given count, and spreads agents evenly", () => {
    const counts = new Array<number>(8).fill(0);
    for (const id of agents) {
      const n = gatewayFor(id, 8);
      expect(gatewayFor(id, 8)).toBe(n);
      counts[n] = (counts[n] ?? 0) + 1;
    }
    // 500 each on average: every gateway within 20% of it.
    for (const c of counts) expect(Math.abs(c - 500)).toBeLessThan(100);
  });

  it("growing from G to G+1 gateways moves only the agents the new gateway wins, about 1/(G+1)", () => {
    for (const g of [1, 2, 5, 9]) {
      const moved = agents.filter((id) => gatewayFor(id, g) !== gatewayFor(id, g + 1));
      // Every agent that moves, moves to the new gateway.
      for (const id of moved) expect(gatewayFor(id, g + 1)).toBe(g);
      expect(Math.abs(moved.length / agents.length - 1 / (g + 1))).toBeLessThan(0.04);
    }
  });

  it("one gateway (or none configured) is gateway 0", () => {
    expect(gatewayFor("any", 1)).toBe(0);
    expect(gatewayFor("any", 0)).toBe(0);
  });

  it("names gateways per cluster, and session ids name their gateway", () => {
    const name = gatewayName("c-1:x", 3);
    expect(parseGatewayName(name)).toEqual({ clusterId: "c-1:x", n: 3 });
    expect(parseGatewayName("c-1")).toBeUndefined();
    const session = sessionIdFor(12);
    expect(gatewayOfSession(session)).toBe(12);
    expect(gatewayOfSession(crypto.randomUUID())).toBeUndefined();
  });

  it("adds gateways as the cluster passes G x the per-gateway share, and never removes one", () => {
    expect(gatewaysNeeded(0, 1000, 1)).toBe(1);
    expect(gatewaysNeeded(1000, 1000, 1)).toBe(1);
    expect(gatewaysNeeded(1001, 1000, 1)).toBe(2);
    expect(gatewaysNeeded(10_000, 1000, 2)).toBe(10);
    expect(gatewaysNeeded(10, 1000, 4)).toBe(4);
  });
});
