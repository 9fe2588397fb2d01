import { describe, expect, it } from "vitest";
import { AuthCache } from "../../control/accounts/auth-cache.ts";

const options = { ttlMs: 5_000, staleMs: 10_000, missTtlMs: 1_000, maxEntries: 3 };
type Token = { expiresAt: number };
const expiresAt = (v: Token) => v.expiresAt;

/** A `background` that keeps the work it is given, to be awaited by the test. */
function backgroundWork() {
  const work: Promise<unknown>[] = [];
  return { work, background: (p: Promise<unknown>) => void work.push(p) };
}

describe("AuthCache", () => {
  it("serves a hit for the TTL, a miss for less, and never past the value's own expiry", async () => {
    const cache = new AuthCache<Token>(options);
    let loads = 0;
    const load = (value: Token | null) => async () => (loads++, value);
    expect(await cache.get("a", load({ expiresAt: 1e12 }), { expiresAt, now: 0 })).toEqual({ expiresAt: 1e12 });
    await cache.get("a", load(null), { expiresAt, now: 4_999 });
    expect(loads).toBe(1);
    expect(await cache.get("a", load(null), { expiresAt, now: 5_000 })).toBeNull();
    expect(loads).toBe(2);
    await cache.get("a", load(null), { now: 5_999 });
    expect(loads).toBe(2);
    await cache.get("a", load(null), { now: 6_000 });
    expect(loads).toBe(3);
    // A token that expires in 2 s is not served from the cache after that.
    await cache.get("b", load({ expiresAt: 2_000 }), { expiresAt, now: 0 });
    await cache.get("b", load({ expiresAt: 2_000 }), { expiresAt, now: 2_000 });
    expect(loads).toBe(5);
  });

  it("a load that raced a forget is not stored", async () => {
    const cache = new AuthCache<string>(options);
    let release: (v: string) => void = () => {};
    const first = cache.get("k", () => new Promise<string>((resolve) => (release = resolve)), { now: 0 });
    cache.forget("k");
    release("old");
    expect(await first).toBe("old");
    expect(await cache.get("k", async () => "new", { now: 1 })).toBe("new");
  });

  it("forgets by value and keeps at most maxEntries, the oldest going first", async () => {
    const cache = new AuthCache<string>(options);
    for (const key of ["a", "b", "c", "d"]) await cache.get(key, async () => `user-${key}`, { now: 0 });
    let loads = 0;
    await cache.get("a", async () => (loads++, "user-a"), { now: 1 });
    expect(loads).toBe(1);
    cache.forgetWhere((_key, value) => value === "user-c");
    await cache.get("c", async () => (loads++, "user-c"), { now: 1 });
    await cache.get("d", async () => (loads++, "user-d"), { now: 1 });
    expect(loads).toBe(2);
  });

  it("refreshes a hit past half its TTL behind the answer, so steady use never waits on a load", async () => {
    const cache = new AuthCache<string>(options);
    const { work, background } = backgroundWork();
    let loads = 0;
    const load = async () => (loads++, `v${loads}`);
    await cache.get("k", load, { now: 0, background });
    // Before half the TTL: a plain hit.
    expect(await cache.get("k", load, { now: 2_499, background })).toBe("v1");
    expect(work).toHaveLength(0);
    // Past it: the old value answers at once, one refresh runs in the background (not two).
    let release: () => void = () => {};
    const slowLoad = () => new Promise<string>((resolve) => (release = () => resolve(`v${++loads}`)));
    expect(await cache.get("k", slowLoad, { now: 2_500, background })).toBe("v1");
    expect(await cache.get("k", slowLoad, { now: 2_600, background })).toBe("v1");
    expect(work).toHaveLength(1);
    release();
    await Promise.all(work);
    expect(loads).toBe(2);
    // The refreshed entry counts its TTL from the refresh's start: good until 7,500, not 10,000.
    expect(await cache.get("k", load, { now: 7_499 })).toBe("v2");
    expect(await cache.get("k", load, { now: 7_500 })).toBe("v3");
    // Without a background to run it, no refresh starts.
    expect(await cache.get("k", load, { now: 10_500 })).toBe("v3");
    expect(loads).toBe(3);
  });

  it("a refresh that finds the credential revoked ends its use; one that fails leaves the entry to expire", async () => {
    const cache = new AuthCache<string>(options);
    const { work, background } = backgroundWork();
    await cache.get("gone", async () => "user", { now: 0 });
    await cache.get("gone", async () => null, { now: 3_000, background });
    await Promise.all(work);
    expect(await cache.get("gone", async () => "loaded again", { now: 3_001 })).toBeNull();

    await cache.get("flaky", async () => "user", { now: 0 });
    await cache.get("flaky", () => Promise.reject(new Error("D1 unavailable")), { now: 3_000, background });
    await Promise.all(work);
    expect(await cache.get("flaky", async () => "reloaded", { now: 4_999 })).toBe("user");
    expect(await cache.get("flaky", async () => "reloaded", { now: 5_000 })).toBe("reloaded");
  });

  it("past the TTL, a hit answers one request while it is read again, and none past the stale window or its expiry", async () => {
    const cache = new AuthCache<Token>(options);
    const { work, background } = backgroundWork();
    let release: (v: Token | null) => void = () => {};
    const slowLoad = () => new Promise<Token | null>((resolve) => (release = resolve));
    await cache.get("k", async () => ({ expiresAt: 1e12 }), { expiresAt, now: 0 });
    // The first request past the TTL is answered from the cache and starts the read…
    expect(await cache.get("k", slowLoad, { expiresAt, now: 6_000, background })).toEqual({ expiresAt: 1e12 });
    expect(work).toHaveLength(1);
    // …the next, while that read is in flight, waits for a load of its own.
    let ownLoads = 0;
    expect(await cache.get("k", async () => (ownLoads++, null), { expiresAt, now: 6_001, background })).toBeNull();
    expect(ownLoads).toBe(1);
    release(null);
    await Promise.all(work);

    // Past the stale window (TTL + staleMs), nothing stale answers.
    await cache.get("late", async () => ({ expiresAt: 1e12 }), { now: 0 });
    expect(await cache.get("late", async () => null, { expiresAt, now: 15_000, background })).toBeNull();
    // Nor past the value's own expiry, nor a remembered miss.
    await cache.get("expiring", async () => ({ expiresAt: 5_500 }), { expiresAt, now: 0 });
    expect(await cache.get("expiring", async () => null, { expiresAt, now: 5_500, background })).toBeNull();
    expect(await cache.get("expiring", async () => ({ expiresAt: 1e12 }), { expiresAt, now: 6_600, background })).toEqual({ expiresAt: 1e12 });
    expect(work).toHaveLength(1);
  });

  it("a refresh waits refreshDelayMs before it reads, off the request's own work", async () => {
    const cache = new AuthCache<string>({ ...options, refreshDelayMs: 30 });
    const { work, background } = backgroundWork();
    let loads = 0;
    await cache.get("k", async () => "v1", { now: 0 });
    expect(await cache.get("k", async () => (loads++, "v2"), { now: 3_000, background })).toBe("v1");
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(loads).toBe(0);
    await Promise.all(work);
    expect(loads).toBe(1);
    expect(await cache.get("k", async () => "v3", { now: 3_001 })).toBe("v2");
  });

  it("a refresh that raced a forget is not stored", async () => {
    const cache = new AuthCache<string>(options);
    const { work, background } = backgroundWork();
    let release: (v: string) => void = () => {};
    await cache.get("k", async () => "old", { now: 0 });
    await cache.get("k", () => new Promise<string>((resolve) => (release = resolve)), { now: 3_000, background });
    cache.forget("k");
    release("stale");
    await Promise.all(work);
    expect(await cache.get("k", async () => "fresh", { now: 3_001 })).toBe("fresh");
  });
});
