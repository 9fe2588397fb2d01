import { describe, expect, test } from "bun:test";
import { USER_CACHE_MS, lookupUser } from "./users.ts";

describe("lookupUser", () => {
  test("a user found is remembered for USER_CACHE_MS, then looked up again", () => {
    // Far ahead of every real lookup, so whatever other tests cached has expired.
    const base = performance.now() + 1e9;
    const first = lookupUser("root", base);
    expect(first).toEqual({ name: "root", uid: 0, gid: 0, home: expect.any(String) });
    // The same object: no second `getent` for the second question of a launch.
    expect(lookupUser("root", base + USER_CACHE_MS - 1)).toBe(first);
    const later = lookupUser("root", base + USER_CACHE_MS + 1);
    expect(later).not.toBe(first);
    expect(later).toEqual(first);
  });

  test("an unknown or malformed name is undefined, and never remembered", () => {
    const base = performance.now() + 2e9;
    expect(lookupUser("dcx-no-such-user-4711", base)).toBeUndefined();
    expect(lookupUser("dcx-no-such-user-4711", base + 1)).toBeUndefined();
    expect(lookupUser("-o", base)).toBeUndefined();
  });
});
