import { describe, expect, test } from "bun:test";
import { BACKOFF_BASE_MS, Backoff, MAX_MASTER_WAIT_MS, backoffCeiling, fullJitterDelay } from "./backoff.ts";

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

describe("the master's reconnect window and retry-after", () => {
  test("the first delay after a reset is drawn from the master's window, later ones double from it", () => {
    const backoff = new Backoff({ capMs: 30_000, random: () => 0.999999 });
    backoff.setWindow(8_000);
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([7_999, 15_999, 29_999, 29_999]);
    backoff.reset();
    expect(backoff.next()).toBe(7_999);
  });

  test("a window beyond the cap is honoured whole, and a window under the base leaves the base", () => {
    const backoff = new Backoff({ capMs: 1_000, random: () => 0.999999 });
    backoff.setWindow(60_000);
    expect(backoff.next()).toBe(59_999);
    backoff.setWindow(100);
    backoff.reset();
    expect(backoff.next()).toBe(BACKOFF_BASE_MS - 1);
  });

  test("the first delay is spread over the whole window, not taken at once", () => {
    const delays = Array.from({ length: 500 }, () => {
      const backoff = new Backoff({ capMs: 30_000 });
      backoff.setWindow(10_000);
      return backoff.next();
    });
    expect(Math.max(...delays)).toBeLessThan(10_000);
    expect(delays.filter((d) => d < 5_000).length).toBeGreaterThan(150);
    expect(delays.filter((d) => d >= 5_000).length).toBeGreaterThan(150);
  });

  test("a window or a retry-after past MAX_MASTER_WAIT_MS is cut to it: a master gone wrong cannot keep the agent away for days", () => {
    const backoff = new Backoff({ capMs: 30_000, random: () => 0.999999 });
    backoff.setWindow(86_400_000);
    expect(backoff.next()).toBe(MAX_MASTER_WAIT_MS - 1);
    expect(new Backoff({ capMs: 30_000, random: () => 0 }).retryAfter(86_400_000)).toBe(MAX_MASTER_WAIT_MS);
  });

  test("retry-after is honoured with at most a tenth (at most a second) added, and leaves the attempts alone", () => {
    const backoff = new Backoff({ capMs: 30_000, random: () => 0.999999 });
    expect(backoff.retryAfter(2_000)).toBe(2_199);
    expect(backoff.retryAfter(60_000)).toBe(60_999);
    expect(new Backoff({ capMs: 30_000, random: () => 0 }).retryAfter(2_000)).toBe(2_000);
    expect(backoff.attempts).toBe(0);
  });
});
