import { describe, expect, it } from "vitest";
import { dominantShare, FairShare } from "../../control/cluster/allocator/drf.ts";

const TOTAL = { cpus: 100, mem: 1000, disk: 0, gpus: 0 };
const res = (cpus: number, mem = 0) => ({ cpus, mem, disk: 0, gpus: 0 });

describe("dominantShare", () => {
  it("is the largest share over resources the cluster has", () => {
    expect(dominantShare(res(10, 500), TOTAL)).toBe(0.5);
    expect(dominantShare(res(30, 100), TOTAL)).toBe(0.3);
    // The cluster has no disk or gpus: asking for them does not count (nothing to share).
    expect(dominantShare({ cpus: 0, mem: 0, disk: 5, gpus: 1 }, TOTAL)).toBe(0);
  });
});

describe("FairShare", () => {
  it("picks the lowest weighted dominant share, ties by name", () => {
    const fair = new FairShare(TOTAL, [
      { name: "b", role: "rb", weight: 1 },
      { name: "a", role: "ra", weight: 1 },
    ]);
    expect(fair.pick(["b", "a"])).toBe("a");
    fair.charge("a", res(10));
    expect(fair.pick(["a", "b"])).toBe("b");
    fair.charge("b", res(0, 200));
    expect(fair.share("b")).toBe(0.2);
    expect(fair.pick(["a", "b"])).toBe("a");
    expect(fair.pick(["b"])).toBe("b");
    expect(fair.pick([])).toBeUndefined();
  });

  it("divides the share by the weight", () => {
    const fair = new FairShare(TOTAL, [
      { name: "heavy", role: "r1", weight: 2 },
      { name: "light", role: "r2", weight: 1 },
    ]);
    fair.charge("heavy", res(30));
    fair.charge("light", res(20));
    expect(fair.share("heavy")).toBeCloseTo(0.15);
    expect(fair.pick(["heavy", "light"])).toBe("heavy");
  });

  it("orders roles first, then frameworks inside the role", () => {
    const fair = new FairShare(TOTAL, [
      { name: "a1", role: "ra", weight: 1 },
      { name: "a2", role: "ra", weight: 1 },
      { name: "b", role: "rb", weight: 1 },
    ]);
    fair.charge("a1", res(10));
    fair.charge("b", res(15));
    // Role ra holds 10, rb 15: ra's turn, and inside ra the empty a2 goes first.
    expect(fair.pick(["a1", "a2", "b"])).toBe("a2");
    fair.charge("a2", res(10));
    // Now ra holds 20 and rb 15: b's turn, although a1 and a2 each hold less than b.
    expect(fair.pick(["a1", "a2", "b"])).toBe("b");
  });

  it("gives frameworks it was not told about role '*' and weight 1, and ignores bad weights", () => {
    const fair = new FairShare(TOTAL, [{ name: "zero", role: "rz", weight: 0 }]);
    fair.charge("unknown", res(10));
    fair.charge("zero", res(10));
    expect(fair.share("unknown")).toBeCloseTo(0.1);
    expect(fair.share("zero")).toBeCloseTo(0.1);
  });
});
