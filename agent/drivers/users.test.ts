import { describe, expect, test } from "bun:test";
import { USER_CACHE_MS, USER_STALE_MS, lookupUser, refreshUser } from "./users.ts";

describe("lookupUser", () => {
  test("a user found is remembered for USER_CACHE_MS; then answered at once while looked up again in the background", async () => {
    // Far ahead of every real lookup, so whatever other tests cached has expired.
    const base = performance.now() + 1e9;
    const first = lookupUser("root", base);
    expect(first).toEqual({ name: "root", uid: 0, gid: 0, home: expect.any(String) });
    // The same object: no second `getent` for the second question of a launch.
    expect(lookupUser("root", base + USER_CACHE_MS - 1)).toBe(first);
    // Past USER_CACHE_MS the launch still gets its answer at once, and `getent` asks again behind it.
    const stale = base + USER_CACHE_MS + 1;
    expect(lookupUser("root", stale)).toBe(first);
    await refreshUser("root", stale);
    const refreshed = lookupUser("root", stale + 1);
    expect(refreshed).not.toBe(first);
    expect(refreshed).toEqual(first);
    // Past USER_STALE_MS nothing remembered is used: the lookup is made on the spot.
    const fresh = lookupUser("root", stale + USER_STALE_MS);
    expect(fresh).not.toBe(refreshed);
    expect(fresh).toEqual(first);
  });

  test("a background lookup of an unknown name remembers nothing", async () => {
    const base = performance.now() + 3e9;
    expect(await refreshUser("dcx-no-such-user-4712", base)).toBeUndefined();
    expect(lookupUser("dcx-no-such-user-4712", base + 1)).toBeUndefined();
  });

  test("an unknown or malformed name is undefined, and never remembered", () => {
    const base = performance.now() + 2e9;
    expect(lookupUser("dcx-no-such-user-4711", base)).toBeUndefined();
    expect(lookupUser("dcx-no-such-user-4711", base + 1)).toBeUndefined();
    expect(lookupUser("-o", base)).toBeUndefined();
  });
});
