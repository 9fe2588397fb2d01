import { describe, expect, it } from "vitest";
import { CandidateHeap, Ranker } from "../../control/cluster/allocator/candidates.ts";

describe("Ranker", () => {
  const ranker = new Ranker(1000);

  it("orders by utilisation, then group count, then agent", () => {
    expect(ranker.rank(0.2, 5, 999)).toBeLessThan(ranker.rank(0.3, 0, 0));
    expect(ranker.rank(0.3, 0, 999)).toBeLessThan(ranker.rank(0.3, 1, 0));
    expect(ranker.rank(0.3, 1, 3)).toBeLessThan(ranker.rank(0.3, 1, 4));
  });

  it("treats float noise as a tie, so the group count decides", () => {
    expect(ranker.rank(0.1 + 0.2, 0, 7)).toBeLessThan(ranker.rank(0.3, 1, 0));
    expect(ranker.rank(0.8999999999999999, 0, 7)).toBeLessThan(ranker.rank(0.9, 1, 0));
  });

  it("keeps ranks exact integers and distinct up to a full agent with many tasks", () => {
    const top = ranker.rank(1 + 1e-12, 70_000, 999);
    expect(Number.isSafeInteger(top)).toBe(true);
    expect(ranker.rank(1, 65_534, 999)).toBeLessThan(top);
    expect(new Ranker(100_000).rank(1, 65_535, 99_999)).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
  });
});

describe("CandidateHeap", () => {
  it("yields agents in rank order", () => {
    const heap = new CandidateHeap(8);
    const ranks = [50, 10, 70, 30, 20, 60, 40, 0];
    ranks.forEach((rank, agent) => heap.push(agent, rank, 0));
    const order: number[] = [];
    for (let agent = heap.peek(); agent >= 0; agent = heap.peek()) {
      order.push(agent);
      heap.pop();
    }
    expect(order).toEqual([7, 1, 4, 3, 6, 0, 5, 2]);
  });

  it("re-ranks the top and knows which entries are stale", () => {
    const heap = new CandidateHeap(3);
    heap.push(0, 1, 0);
    heap.push(1, 2, 0);
    heap.push(2, 3, 0);
    expect(heap.fresh(0, 1)).toBe(false);
    heap.rerankTop(5, 1);
    expect(heap.fresh(0, 1)).toBe(true);
    expect(heap.peek()).toBe(1);
    heap.pop();
    heap.pop();
    expect(heap.peek()).toBe(0);
    heap.pop();
    expect(heap.peek()).toBe(-1);
  });
});
