import { describe, expect, it } from "vitest";
import { AuthCache } from "../../control/accounts/auth-cache.ts";

const options = { ttlMs: 5_000, missTtlMs: 1_000, maxEntries: 3 };

describe("AuthCache", () => {
  it("serves a hit for the TTL, a miss for less, and never past the value's own expiry", async () => {
    const cache = new AuthCache<{ expiresAt: number }>(options);
    let loads = 0;
    const load = (value: { expiresAt: number } | null) => async () => (loads++, value);
    expect(await cache.get("a", load({ expiresAt: 1e12 }), (v) => v.expiresAt, 0)).toEqual({ expiresAt: 1e12 });
    await cache.get("a", load(null), (v) => v.expiresAt, 4_999);
    expect(loads).toBe(1);
    expect(await cache.get("a", load(null), (v) => v.expiresAt, 5_000)).toBeNull();
    expect(loads).toBe(2);
    await cache.get("a", load(null), undefined, 5_999);
    expect(loads).toBe(2);
    await cache.get("a", load(null), undefined, 6_000);
    expect(loads).toBe(3);
    // A token that expires in 2 s is not served from the cache after that.
    await cache.get("b", load({ expiresAt: 2_000 }), (v) => v.expiresAt, 0);
    await cache.get("b", load({ expiresAt: 2_000 }), (v) => v.expiresAt, 2_000);
    expect(loads).toBe(5);
  });

  it("a load that raced a forget is not stored", async () => {
    const cache = new AuthCache<string>(options);
    let release: (v: string) => void = () => {};
    const first = cache.get("k", () => new Promise<string>((resolve) => (release = resolve)), undefined, 0);
    cache.forget("k");
    release("old");
    expect(await first).toBe("old");
    expect(await cache.get("k", async () => "new", undefined, 1)).toBe("new");
  });

  it("forgets by value and keeps at most maxEntries, the oldest going first", async () => {
    const cache = new AuthCache<string>(options);
    for (const key of ["a", "b", "c", "d"]) await cache.get(key, async () => `user-${key}`, undefined, 0);
    let loads = 0;
    await cache.get("a", async () => (loads++, "user-a"), undefined, 1);
    expect(loads).toBe(1);
    cache.forgetWhere((_key, value) => value === "user-c");
    await cache.get("c", async () => (loads++, "user-c"), undefined, 1);
    await cache.get("d", async () => (loads++, "user-d"), undefined, 1);
    expect(loads).toBe(2);
  });
});
