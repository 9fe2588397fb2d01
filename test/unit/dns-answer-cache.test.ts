import * as dnsPacket from "@leichtgewicht/dns-packet";
import { describe, expect, it } from "vitest";
import { AnswerCache, MAX_CACHE_BYTES, MAX_ROTATIONS } from "../../control/dns/answer-cache.ts";
import type { DnsRecord } from "../../control/dns/records.ts";
import { resolve, type DnsAnswer } from "../../control/dns/resolve.ts";
import { decodeQuery, encodeQuery, encodeResponse, messageId, type DnsQuery } from "../../control/dns/wire.ts";
import { fixtureZone, seeded } from "./dns-fixture.ts";

const zoneP = fixtureZone();

function decoded(bytes: Uint8Array): DnsQuery {
  const d = decodeQuery(bytes);
  if (!d.ok) throw new Error(d.reason);
  return d.query;
}

async function answerTo(bytes: Uint8Array): Promise<DnsAnswer<DnsRecord>> {
  const r = resolve(await zoneP, decoded(bytes), seeded(3));
  if (r.outside) throw new Error("outside");
  return r;
}

const a = (n: number): DnsRecord => ({ name: "big.marathon.mesos", type: "A", ttl: 5, data: `10.1.${n >> 8}.${n & 0xff}` });
const positive = (answers: DnsRecord[]): DnsAnswer<DnsRecord> => ({ rcode: "NOERROR", authoritative: true, answers, authorities: [], additionals: [] });

describe("AnswerCache", () => {
  it("answers the same bytes under any id: the id written in, the records in turn first, each answer what encodeResponse makes", async () => {
    const cache = new AnswerCache();
    const bytes = encodeQuery("web-shop.marathon.mesos", "A", 1);
    const answer = await answerTo(bytes);
    expect(answer.answers).toHaveLength(2);
    const kept = cache.remember(bytes, decoded(bytes), answer, { recursionAvailable: false });
    expect(kept?.ttl).toBe(5);
    const firsts: unknown[] = [];
    for (const id of [7, 8, 9, 10]) {
      const again = encodeQuery("web-shop.marathon.mesos", "A", id);
      expect(messageId(again)).toBe(id);
      const found = cache.find(again);
      expect(found).toBe(kept);
      const packet = dnsPacket.decode(found?.take(id) ?? new Uint8Array());
      expect(packet.id).toBe(id);
      expect((packet.flags ?? 0) & dnsPacket.RECURSION_AVAILABLE).toBe(0);
      expect(packet.answers?.map((r) => r.data).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
      firsts.push(packet.answers?.[0]?.data);
    }
    // Two records: each first every other query.
    expect(firsts[0]).not.toEqual(firsts[1]);
    expect(firsts[2]).toEqual(firsts[0]);
    expect(firsts[3]).toEqual(firsts[1]);
    // The first rotation is the resolver's own order, encoded as the uncached path encodes it.
    const direct = encodeResponse(decoded(bytes), answer, { recursionAvailable: false });
    direct[0] = 0;
    direct[1] = 11;
    expect(cache.find(bytes)?.take(11)).toEqual(direct);
  });

  it("tells queries apart by every byte but the id: name case, type, flags and EDNS each miss", async () => {
    const cache = new AnswerCache();
    const bytes = encodeQuery("web-shop.marathon.mesos", "A", 1);
    cache.remember(bytes, decoded(bytes), await answerTo(bytes), {});
    expect(cache.find(encodeQuery("web-shop.marathon.mesos", "A", 2))).toBeDefined();
    expect(cache.find(encodeQuery("Web-Shop.marathon.mesos", "A", 1))).toBeUndefined();
    expect(cache.find(encodeQuery("web-shop.marathon.mesos", "AAAA", 1))).toBeUndefined();
    expect(cache.find(encodeQuery("web-shop.marathon.mesos", "A", 1, { udpPayloadSize: 1232 }))).toBeUndefined();
    const noRecursion = bytes.slice();
    noRecursion[2] = (noRecursion[2] ?? 0) & ~0x01;
    expect(cache.find(noRecursion)).toBeUndefined();
    expect(cache.find(bytes.subarray(0, 11))).toBeUndefined();
  });

  it("keeps no negative answer, no answer mixing types, no set larger than it rotates, no oversized query", async () => {
    const cache = new AnswerCache();
    for (const [name, type] of [
      ["nothing.marathon.mesos", "A"],
      ["web-shop.marathon.mesos", "TXT"],
    ] as const) {
      const bytes = encodeQuery(name, type, 1);
      const answer = await answerTo(bytes);
      expect(answer.answers).toEqual([]);
      expect(cache.remember(bytes, decoded(bytes), answer, {})).toBeUndefined();
      expect(cache.find(bytes)).toBeUndefined();
    }
    const bytes = encodeQuery("big.marathon.mesos", "A", 1);
    const cname: DnsRecord = { name: "big.marathon.mesos", type: "CNAME", ttl: 5, data: "web-shop.marathon.mesos" };
    expect(cache.remember(bytes, decoded(bytes), positive([cname, a(1)]), {})).toBeUndefined();
    const many = Array.from({ length: MAX_ROTATIONS + 1 }, (_, i) => a(i));
    expect(cache.remember(bytes, decoded(bytes), positive(many), {})).toBeUndefined();
    expect(cache.remember(bytes, decoded(bytes), positive(many.slice(0, MAX_ROTATIONS)), {})).toBeDefined();
    // A query may carry more than a question (here trailing bytes past a 600-byte buffer): not kept.
    const padded = new Uint8Array(600);
    padded.set(bytes);
    expect(cache.remember(padded, decoded(bytes), positive([a(1)]), {})).toBeUndefined();
    expect(cache.find(padded)).toBeUndefined();
  });

  it("a query's kept bytes are its own: reusing the buffer it came in does not change what it matches", async () => {
    const cache = new AnswerCache();
    const bytes = encodeQuery("web-shop.marathon.mesos", "A", 1);
    cache.remember(bytes, decoded(bytes), await answerTo(bytes), {});
    const original = bytes.slice();
    bytes.fill(0);
    expect(cache.find(original)).toBeDefined();
    expect(cache.find(bytes)).toBeUndefined();
  });

  it("every record of a set comes first once per turn", () => {
    const cache = new AnswerCache();
    const bytes = encodeQuery("big.marathon.mesos", "A", 1);
    const records = Array.from({ length: 5 }, (_, i) => a(i));
    const kept = cache.remember(bytes, decoded(bytes), positive(records), {});
    const firsts = Array.from({ length: 10 }, () => dnsPacket.decode(kept?.take(1) ?? new Uint8Array()).answers?.[0]?.data);
    expect(new Set(firsts.slice(0, 5))).toEqual(new Set(records.map((r) => r.data)));
    expect(firsts.slice(5)).toEqual(firsts.slice(0, 5));
  });

  it("holds at most MAX_CACHE_BYTES: queries that differ only in a name's case each count, and past the bound it starts again", () => {
    const cache = new AnswerCache();
    const records = Array.from({ length: MAX_ROTATIONS }, (_, i) => a(i));
    let first: Uint8Array | undefined;
    let peak = 0;
    // Every case of "big.marathon.mesos"'s first letters: distinct bytes, the same question.
    for (let n = 0; n < 4_000 && peak <= MAX_CACHE_BYTES; n++) {
      const name = [..."bigmarath"].map((ch, i) => ((n >> i) & 1 ? ch.toUpperCase() : ch)).join("");
      const bytes = encodeQuery(`${name.slice(0, 3)}.${name.slice(3)}on.mesos`, "A", 1);
      first ??= bytes;
      const kept = cache.remember(bytes, decoded(bytes), positive(records), {});
      for (let r = 0; r < MAX_ROTATIONS; r++) kept?.take(r);
      peak = Math.max(peak, cache.size);
      if (cache.size < peak) break;
    }
    expect(peak).toBeGreaterThan(MAX_CACHE_BYTES / 2);
    expect(cache.size).toBeLessThanOrEqual(MAX_CACHE_BYTES);
    expect(cache.find(first ?? new Uint8Array())).toBeUndefined();
  });
});
