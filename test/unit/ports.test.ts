import { describe, expect, it } from "vitest";
import {
  AgentPorts,
  assignServicePorts,
  mergeRanges,
  portNeed,
  SERVICE_PORT_RANGE,
  ServicePortError,
  type PortNeed,
} from "../../control/cluster/allocator/ports.ts";

function need(requested: number[]): PortNeed {
  const n = portNeed(requested);
  if (typeof n === "string") throw new Error(n);
  return n;
}

describe("portNeed", () => {
  it("splits exact and dynamic ports", () => {
    expect(portNeed([0, 8080, 0])).toEqual({ exact: [8080], dynamic: 2, total: 3 });
    expect(portNeed([])).toEqual({ exact: [], dynamic: 0, total: 0 });
  });

  it("refuses an exact port asked for twice", () => {
    expect(portNeed([8080, 0, 8080])).toBe("port 8080 requested twice");
  });
});

describe("mergeRanges", () => {
  it("sorts, merges overlapping and touching ranges, and drops empty ones", () => {
    expect(
      mergeRanges([
        [31005, 31010],
        [31000, 31004],
        [31008, 31020],
        [40000, 39999],
        [50000, 50000],
      ]),
    ).toEqual([
      [31000, 31020],
      [50000, 50000],
    ]);
  });
});

describe("AgentPorts", () => {
  it("hands out the lowest free ports across ranges and never one twice", () => {
    const ports = new AgentPorts(
      [
        [100, 102],
        [200, 201],
      ],
      [101],
    );
    const given = [0, 1, 2, 3].map(() => ports.take([0], need([0]))[0]);
    expect(given).toEqual([100, 102, 200, 201]);
    expect(ports.fits(need([0]))).toBe(false);
    expect(ports.refusal(need([0]))).toBe("no free ports");
  });

  it("counts ports in use only inside the ranges, and counts overlapping ranges once", () => {
    const ports = new AgentPorts(
      [
        [100, 101],
        [101, 101],
      ],
      [5, 100, 100],
    );
    expect(ports.fits(need([0]))).toBe(true);
    expect(ports.fits(need([0, 0]))).toBe(false);
  });

  it("takes exact ports before dynamic ones so they never collide", () => {
    const ports = new AgentPorts([[100, 101]], []);
    expect(ports.take([0, 100], need([0, 100]))).toEqual([101, 100]);
    expect(ports.fits(need([0]))).toBe(false);
  });

  it("skips a port taken exactly when the cursor reaches it", () => {
    const ports = new AgentPorts([[100, 103]], []);
    ports.take([101], need([101]));
    expect(ports.take([0, 0], need([0, 0]))).toEqual([100, 102]);
  });

  it("says why an exact port cannot be given", () => {
    const ports = new AgentPorts([[100, 110]], [105]);
    expect(ports.refusal(need([99]))).toBe("port 99 not offered");
    expect(ports.refusal(need([105]))).toBe("port 105 in use");
    expect(ports.refusal(need([106, 0]))).toBeUndefined();
    expect(ports.fits(need([105]))).toBe(false);
    expect(ports.fits(need([99]))).toBe(false);
  });

  it("gives nothing on an agent without port ranges", () => {
    const ports = new AgentPorts([], []);
    expect(ports.fits(need([]))).toBe(true);
    expect(ports.fits(need([0]))).toBe(false);
  });
});

describe("assignServicePorts", () => {
  it("gives 0 the next free ports of 10000-20000 and keeps nonzero ones", () => {
    expect(SERVICE_PORT_RANGE).toEqual([10000, 20000]);
    expect(assignServicePorts([0, 0], new Set())).toEqual([10000, 10001]);
    expect(assignServicePorts([0, 80, 0], new Set([10000, 10002]))).toEqual([10001, 80, 10003]);
  });

  it("does not give a dynamic port that a nonzero port of the same app asks for", () => {
    expect(assignServicePorts([0, 10000], new Set())).toEqual([10001, 10000]);
  });

  it("throws on a nonzero port already taken or asked for twice, naming its position", () => {
    const taken = (): unknown => assignServicePorts([0, 10005], new Set([10005]));
    expect(taken).toThrow(ServicePortError);
    expect(taken).toThrow("service port 10005 is already in use");
    try {
      assignServicePorts([9000, 9000], new Set());
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ServicePortError);
      expect(err).toMatchObject({ index: 1, port: 9000 });
    }
  });

  it("throws when the range is exhausted", () => {
    expect(assignServicePorts([0], new Set([10]), [10, 11])).toEqual([11]);
    expect(() => assignServicePorts([0, 0], new Set([10]), [10, 11])).toThrow(/no free service port left in 10-11/);
  });

  it("leaves the taken set alone", () => {
    const taken = new Set([10000]);
    assignServicePorts([0, 0], taken);
    expect([...taken]).toEqual([10000]);
  });
});
