import { describe, expect, test } from "bun:test";
import { BACKOFF_BASE_MS, Backoff, backoffCeiling, fullJitterDelay } from "./backoff.ts";

describe("backoff", () => {
  test("the window doubles from the base until the cap", () => {
    const ceilings = Array.from({ length: 8 }, (_, attempt) => backoffCeiling(attempt, BACKOFF_BASE_MS, 30_000));
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  test("full jitter spans the whole window: from 0 to just under the ceiling", () => {
    expect(fullJitterDelay(3, 500, 30_000, () => 0)).toBe(0);
    expect(fullJitterDelay(3, 500, 30_000, () => 0.999999)).toBe(3999);
    expect(fullJitterDelay(3, 500, 30_000, () => 0.5)).toBe(2000);
  });

  test("random delays stay within [0, min(cap, base·2^n)] and actually vary", () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const ceiling = backoffCeiling(attempt, 500, 5_000);
      const delays = Array.from({ length: 500 }, () => fullJitterDelay(attempt, 500, 5_000));
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...delays)).toBeLessThanOrEqual(ceiling);
      // With 500 uniform draws, landing all on one side of the midpoint has odds of 2^-500.
      expect(delays.some((d) => d < ceiling / 2) && delays.some((d) => d > ceiling / 2)).toBe(true);
    }
  });

  test("the cap holds however many attempts failed", () => {
    const backoff = new Backoff({ capMs: 1_000, random: () => 0.999999 });
    const delays = Array.from({ length: 2_000 }, () => backoff.next());
    expect(delays.slice(0, 3)).toEqual([499, 999, 999]);
    expect(delays.every((d) => Number.isFinite(d) && d <= 1_000)).toBe(true);
    expect(backoff.attempts).toBe(2_000);
  });

  test("reset starts over from the base window", () => {
    const backoff = new Backoff({ capMs: 30_000, random: () => 0.999999 });
    for (let i = 0; i < 5; i++) backoff.next();
    expect(backoff.next()).toBe(15_999);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(499);
  });
});
