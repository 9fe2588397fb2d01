import { describe, expect, test } from "bun:test";
import type { Answer, Packet } from "@leichtgewicht/dns-packet";
import { AnswerCache, cacheKey, cacheTtlSeconds } from "./answer-cache.ts";

const question = { name: "web.marathon.mesos", type: "A" as const, class: "IN" as const };

function response(rcode: number, answers: Answer[] = [], authorities: Answer[] = []): Packet {
  return { type: "response", id: 0, flags: rcode, questions: [question], answers, authorities };
}

const a = (ttl: number, data = "10.0.0.1"): Answer => ({ type: "A", name: "web.marathon.mesos", ttl, data });
const soa = (ttl: number, minimum: number): Answer => ({ type: "SOA", name: "mesos", ttl, data: { mname: "ns.mesos", rname: "root.mesos", minimum } });

describe("cacheTtlSeconds", () => {
  test("the smallest TTL in the answer section, capped", () => {
    expect(cacheTtlSeconds(response(0, [a(30), a(7), a(600)]), 60)).toBe(7);
    expect(cacheTtlSeconds(response(0, [a(600)]), 60)).toBe(60);
  });

  test("an HTTP max-age below the TTL wins; max-age 0 means do not cache", () => {
    expect(cacheTtlSeconds(response(0, [a(30)]), 60, 2)).toBe(2);
    expect(cacheTtlSeconds(response(0, [a(30)]), 60, 0)).toBe(0);
  });

  test("negative answers: the smaller of the SOA's TTL and MINIMUM (RFC 2308); without SOA, not cached", () => {
    expect(cacheTtlSeconds(response(3, [], [soa(60, 5)]), 60)).toBe(5);
    expect(cacheTtlSeconds(response(0, [], [soa(3, 5)]), 60)).toBe(3);
    expect(cacheTtlSeconds(response(3), 60)).toBe(0);
  });

  test("SERVFAIL, REFUSED and other errors are never cached", () => {
    for (const rcode of [1, 2, 4, 5]) expect(cacheTtlSeconds(response(rcode, [a(30)], [soa(60, 5)]), 60)).toBe(0);
  });
});

describe("AnswerCache", () => {
  test("the key ignores case and a trailing dot but not type or class", () => {
    expect(cacheKey({ name: "Web.Marathon.MESOS.", type: "A" })).toBe(cacheKey(question));
    expect(cacheKey({ ...question, type: "AAAA" })).not.toBe(cacheKey(question));
    expect(cacheKey({ ...question, class: "CH" })).not.toBe(cacheKey(question));
  });

  test("an entry lives for its TTL and reports its age in whole seconds", () => {
    let now = 0;
    const cache = new AnswerCache({ now: () => now });
    expect(cache.put("k", response(0, [a(10)]))).toBe(10_000);
    now = 2_999;
    expect(cache.get("k")?.ageSeconds).toBe(2);
    now = 9_999;
    expect(cache.get("k")?.ageSeconds).toBe(9);
    now = 10_000;
    expect(cache.get("k")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  test("the control plane's DNS lease bounds an entry below its TTL, and a lease of 0 (a confirmed negative) is not stored", () => {
    let now = 0;
    const cache = new AnswerCache({ now: () => now });
    expect(cache.put("k", response(0, [a(10)]), 10, 400)).toBe(400);
    now = 399;
    expect(cache.get("k")).toBeDefined();
    now = 400;
    expect(cache.get("k")).toBeUndefined();
    expect(cache.put("nx", response(3), undefined, 0)).toBe(0);
    expect(cache.get("nx")).toBeUndefined();
  });

  test("uncacheable answers are not stored", () => {
    const cache = new AnswerCache();
    expect(cache.put("k", response(2))).toBe(0);
    expect(cache.get("k")).toBeUndefined();
  });

  test("beyond the entry cap the least recently used entry goes", () => {
    const cache = new AnswerCache({ maxEntries: 3 });
    for (const key of ["a", "b", "c"]) cache.put(key, response(0, [a(30)]));
    expect(cache.get("a")).toBeDefined();
    cache.put("d", response(0, [a(30)]));
    expect(cache.size).toBe(3);
    expect(cache.get("b")).toBeUndefined();
    expect(["a", "c", "d"].map((key) => cache.get(key) !== undefined)).toEqual([true, true, true]);
  });
});
