import { afterEach, describe, expect, it, vi } from "vitest";
import { newUuids } from "../../control/cluster/frameworks/external/status.ts";

/** The bytes `newUuids` draws, fixed: each id must be what `btoa` writes for its 16 bytes. */
function drawn(count: number): Uint8Array {
  const bytes = new Uint8Array(16 * count);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) % 256;
  // Every byte value, and the extremes, at every position of an id.
  bytes.set(Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? 0 : 255)));
  return bytes;
}

describe("newUuids", () => {
  afterEach(() => vi.restoreAllMocks());

  it("writes each update id's 16 random bytes in standard Base64, as btoa does", () => {
    const bytes = drawn(5000);
    vi.spyOn(crypto, "getRandomValues").mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
      const target = array as unknown as Uint8Array;
      target.set(bytes.subarray(0, target.length));
      return array;
    });
    const ids = newUuids(300);
    expect(ids).toHaveLength(300);
    ids.forEach((id, i) => expect(id).toBe(btoa(String.fromCharCode(...bytes.subarray(16 * i, 16 * i + 16)))));
  });

  it("draws a new id for every update, past one draw's 4,096", () => {
    const ids = newUuids(5000);
    expect(new Set(ids).size).toBe(5000);
    expect(ids.every((id) => /^[A-Za-z0-9+/]{22}==$/.test(id))).toBe(true);
  });
});
