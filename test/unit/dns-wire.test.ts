import * as dnsPacket from "@leichtgewicht/dns-packet";
import type { Packet } from "@leichtgewicht/dns-packet";
import { describe, expect, it } from "vitest";
import { resolve, type DnsAnswer } from "../../control/dns/resolve.ts";
import {
  decodeBase64Url,
  decodeMessage,
  decodeQuery,
  encodeBase64Url,
  encodeQuery,
  encodeResponse,
  minTtl,
  withMessageId,
  type DnsQuery,
} from "../../control/dns/wire.ts";
import { fixtureZone, seeded } from "./dns-fixture.ts";

const zoneP = fixtureZone();

function query(bytes: Uint8Array): DnsQuery {
  const decoded = decodeQuery(bytes);
  if (!decoded.ok) throw new Error(decoded.reason);
  return decoded.query;
}

/** Query → resolve → encode → decode with the library, as a client would see it. */
async function roundTrip(name: string, type: string, id = 0x1234, edns?: { udpPayloadSize?: number; dnssecOk?: boolean }): Promise<Packet> {
  const q = query(encodeQuery(name, type, id, edns));
  const r = resolve(await zoneP, q, seeded(1));
  if (r.outside) throw new Error("outside");
  return dnsPacket.decode(encodeResponse(q, r));
}

describe("wire round trips", () => {
  it("A: echoes id and question, sets QR, AA, RD, RA, NOERROR", async () => {
    const p = await roundTrip("Web-Shop.marathon.mesos", "A");
    expect(p).toMatchObject({ id: 0x1234, type: "response", flag_qr: true, flag_aa: true, flag_rd: true, flag_ra: true, rcode: "NOERROR" });
    expect(p.questions).toEqual([{ name: "Web-Shop.marathon.mesos", type: "A", class: "IN" }]);
    expect(p.answers?.map((a) => [a.name, a.type, a.ttl, a.data]).sort()).toEqual([
      ["web-shop.marathon.mesos", "A", 5, "10.0.0.1"],
      ["web-shop.marathon.mesos", "A", 5, "10.0.0.2"],
    ]);
  });

  it("AAAA", async () => {
    const p = await roundTrip("db.marathon.mesos", "AAAA");
    expect(p.answers?.map((a) => a.data)).toEqual(["fd00::6"]);
  });

  it("SRV with additionals", async () => {
    const p = await roundTrip("_http._web-shop._tcp.marathon.mesos", "SRV");
    const srv = p.answers?.flatMap((a) => (a.type === "SRV" ? [a.data] : []));
    expect(srv?.map((d) => [d.priority, d.weight, d.port]).sort()).toEqual([
      [0, 1, 31001],
      [0, 1, 31005],
    ]);
    expect(p.additionals?.map((a) => a.data).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("SOA in the answer at the apex and in the authority of NXDOMAIN", async () => {
    const soa = await roundTrip("mesos", "SOA");
    expect(soa.answers?.[0]).toMatchObject({ type: "SOA", data: { mname: "ns1.mesos", rname: "root.ns1.mesos", serial: 42, minimum: 5 } });
    const nx = await roundTrip("nope.mesos", "A");
    expect(nx.rcode).toBe("NXDOMAIN");
    expect(nx.answers).toEqual([]);
    expect(nx.authorities?.[0]).toMatchObject({ name: "mesos", type: "SOA" });
  });

  it("TXT (e.g. a forwarded answer) encodes through the same path", async () => {
    const q = query(encodeQuery("example.com", "TXT", 9));
    const answer: DnsAnswer = {
      rcode: "NOERROR",
      authoritative: false,
      answers: [{ name: "example.com", type: "TXT", ttl: 300, data: ['v=spf1 "-all"', "second"] }],
      authorities: [],
      additionals: [],
    };
    const p = dnsPacket.decode(encodeResponse(q, answer));
    expect(p.flag_aa).toBe(false);
    const txt = p.answers?.[0];
    expect(txt?.type).toBe("TXT");
    const strings = (txt?.data as Uint8Array[]).map((b) => new TextDecoder().decode(b));
    expect(strings).toEqual(['v=spf1 "-all"', "second"]);
    expect(minTtl(p)).toBe(300);
  });

  it("echoes EDNS: payload size min(query's, 1232), the DO bit, and no OPT when the query had none", async () => {
    const big = await roundTrip("leader.mesos", "A", 1, { udpPayloadSize: 4096, dnssecOk: true });
    const opt = big.additionals?.find((a) => a.type === "OPT") as unknown as { udpPayloadSize: number; flags: number };
    expect(opt.udpPayloadSize).toBe(1232);
    expect(opt.flags & dnsPacket.DNSSEC_OK).toBe(dnsPacket.DNSSEC_OK);
    const small = await roundTrip("leader.mesos", "A", 1, { udpPayloadSize: 1000 });
    expect((small.additionals?.find((a) => a.type === "OPT") as unknown as { udpPayloadSize: number }).udpPayloadSize).toBe(1000);
    expect((await roundTrip("leader.mesos", "A")).additionals).toEqual([]);
  });

  it("clears RD when the query did not set it, and RA when asked to", async () => {
    const bytes = encodeQuery("leader.mesos", "A", 5);
    bytes[2] = 0; // clear RD
    const q = query(bytes);
    const r = resolve(await zoneP, q, seeded(1));
    if (r.outside) throw new Error("outside");
    const p = dnsPacket.decode(encodeResponse(q, r, { recursionAvailable: false }));
    expect([p.flag_rd, p.flag_ra, p.id]).toEqual([false, false, 5]);
  });

  it("sheds additionals, then answers with TC, when the response would not fit", async () => {
    const q = query(encodeQuery("_web-shop._tcp.marathon.slave.mesos", "SRV", 3));
    const r = resolve(await zoneP, q, seeded(1));
    if (r.outside) throw new Error("outside");
    const full = encodeResponse(q, r).length;
    const p = dnsPacket.decode(encodeResponse(q, r, { maxSize: full - 1 }));
    expect(p.additionals).toEqual([]);
    expect(p.answers).toHaveLength(3);
    const tiny = dnsPacket.decode(encodeResponse(q, r, { maxSize: 120 }));
    expect(tiny.flag_tc).toBe(true);
    expect((tiny.answers ?? []).length).toBeLessThan(3);
  });
});

describe("minTtl (Cache-Control max-age)", () => {
  it("is the smallest answer TTL, else the SOA's min(TTL, MINIMUM), else 0", () => {
    const a = (ttl: number) => ({ name: "x", type: "A" as const, ttl, data: "10.0.0.1" });
    expect(minTtl({ answers: [a(30), a(3), a(300)] })).toBe(3);
    const soa = { name: "mesos", type: "SOA" as const, ttl: 9, data: { mname: "ns1.mesos", rname: "root.ns1.mesos", minimum: 4 } };
    expect(minTtl({ answers: [], authorities: [soa] })).toBe(4);
    expect(minTtl({ answers: [], authorities: [{ ...soa, ttl: 2 }] })).toBe(2);
    expect(minTtl({ answers: [] })).toBe(0);
  });
});

describe("decodeQuery: refusals and error replies", () => {
  const valid = () => encodeQuery("leader.mesos", "A", 0xbeef);

  it("refuses short and response messages without a reply (HTTP 400)", () => {
    expect(decodeQuery(new Uint8Array(5))).toMatchObject({ ok: false, reply: null });
    const response = valid();
    response[2]! |= 0x80;
    const r = decodeQuery(response);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/response/);
    expect(!r.ok && r.reply).toBeNull();
  });

  const replyOf = (bytes: Uint8Array): Packet => {
    const r = decodeQuery(bytes);
    if (r.ok || !r.reply) throw new Error("expected an error reply");
    return dnsPacket.decode(r.reply);
  };

  it("answers NOTIMP to opcodes other than QUERY, and to zone transfers", () => {
    const update = valid();
    update[2] = (update[2]! & 0x87) | (5 << 3);
    expect(replyOf(update)).toMatchObject({ id: 0xbeef, rcode: "NOTIMP", opcode: "UPDATE", flag_qr: true });
    expect(replyOf(encodeQuery("mesos", "AXFR", 7))).toMatchObject({ id: 7, rcode: "NOTIMP" });
  });

  it("answers FORMERR to zero or several questions", () => {
    const none = valid();
    none[5] = 0;
    expect(replyOf(none)).toMatchObject({ rcode: "FORMERR", id: 0xbeef });
    const two = dnsPacket.encode({
      type: "query",
      id: 2,
      questions: [
        { name: "a.mesos", type: "A" },
        { name: "b.mesos", type: "A" },
      ],
    });
    expect(replyOf(two).rcode).toBe("FORMERR");
  });

  it("answers REFUSED to classes other than IN, and BADVERS to EDNS versions above 0", () => {
    const chaos = dnsPacket.encode({ type: "query", id: 3, questions: [{ name: "version.bind", type: "TXT", class: "CH" }] });
    expect(replyOf(chaos)).toMatchObject({ rcode: "REFUSED", id: 3 });
    const v1 = encodeQuery("leader.mesos", "A", 4, { udpPayloadSize: 1232 });
    v1[v1.length - 5] = 1; // the OPT record ends: ext-rcode, version, flags(2), rdlen(2)
    const reply = replyOf(v1);
    const opt = reply.additionals?.find((a) => a.type === "OPT") as unknown as { extendedRcode: number };
    expect(reply.flags! & 0xf).toBe(0);
    expect(opt.extendedRcode).toBe(1); // BADVERS = 16 = extended 1 << 4 | header 0
  });

  it("refuses a message whose last record is cut short, even where the library would read zeros", () => {
    // Dropping the OPT's last byte leaves its RDLENGTH half there; read past the end it would look like 0.
    const cut = encodeQuery("leader.mesos", "A", 8, { udpPayloadSize: 1232 }).slice(0, -1);
    expect(decodeQuery(cut)).toMatchObject({ ok: false, reply: null, reason: expect.stringMatching(/truncated/) });
  });

  it("decodes the RFC 8484 §4.1.1 example GET query", () => {
    const bytes = decodeBase64Url("AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB");
    expect(bytes).not.toBeNull();
    expect(query(bytes!)).toMatchObject({ id: 0, name: "www.example.com", type: "A", recursionDesired: true, edns: null });
  });
});

/** A base query to mutate: a name with a compression-friendly suffix and an OPT record. */
const BASE = encodeQuery("web-shop.marathon.mesos", "SRV", 0x4242, { udpPayloadSize: 4096 });

function mutate(random: () => number, i: number): Uint8Array {
  const n = (max: number) => Math.floor(random() * max);
  switch (i % 6) {
    case 0: // random bytes of random length
      return Uint8Array.from({ length: n(80) }, () => n(256));
    case 1: // truncation of a valid query
      return BASE.slice(0, n(BASE.length));
    case 2: {
      // one count set to 0xffff
      const b = BASE.slice();
      const at = 4 + 2 * n(4);
      b[at] = 0xff;
      b[at + 1] = 0xff;
      return b;
    }
    case 3: {
      // the question name replaced by a compression pointer to itself or forwards
      const b = BASE.slice();
      const target = n(2) === 0 ? 12 : 12 + n(40);
      b[12] = 0xc0 | (target >> 8);
      b[13] = target & 0xff;
      return b;
    }
    case 4: {
      // a class other than IN (question class sits 2 bytes after the type)
      const b = BASE.slice();
      const qclass = 12 + 25 + 2; // name (25 bytes) + type
      b[qclass] = n(256);
      b[qclass + 1] = n(256);
      return b;
    }
    default: {
      // random byte flips
      const b = BASE.slice();
      for (let k = 0; k < 1 + n(6); k++) b[n(b.length)] = n(256);
      return b;
    }
  }
}

describe("decodeQuery never throws", () => {
  it("yields a query or a reason over 5,000 random and mutated messages, and any reply is valid DNS", async () => {
    const zone = await zoneP;
    const random = seeded(20240601);
    const outcomes = { ok: 0, reply: 0, refused: 0 };
    for (let i = 0; i < 5000; i++) {
      const bytes = mutate(random, i);
      const result = decodeQuery(bytes);
      if (result.ok) {
        outcomes.ok++;
        // Whatever decoded must resolve and encode into a message the library reads back.
        const r = resolve(zone, result.query, random);
        const answer = r.outside ? { rcode: "REFUSED" as const, authoritative: false, answers: [], authorities: [], additionals: [] } : r;
        const decoded = decodeMessage(encodeResponse(result.query, answer));
        expect(decoded.ok, `message ${i}`).toBe(true);
      } else if (result.reply) {
        outcomes.reply++;
        const decoded = decodeMessage(result.reply);
        expect(decoded.ok && decoded.packet.id, `message ${i}`).toBe(((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0));
      } else {
        outcomes.refused++;
        expect(result.reason.length, `message ${i}`).toBeGreaterThan(0);
      }
    }
    // Every kind of outcome occurs, so the corpus exercises all three paths.
    expect(outcomes.ok).toBeGreaterThan(100);
    expect(outcomes.reply).toBeGreaterThan(100);
    expect(outcomes.refused).toBeGreaterThan(100);
  });
});

describe("base64url (RFC 8484 GET)", () => {
  it("round-trips without padding", () => {
    for (let len = 0; len < 20; len++) {
      const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 97 + 250) & 0xff);
      const text = encodeBase64Url(bytes);
      expect(text).not.toMatch(/[=+/]/);
      if (len > 0) expect(decodeBase64Url(text)).toEqual(bytes);
    }
  });

  it("rejects padding, the standard alphabet, other characters, impossible lengths and the empty string", () => {
    expect(decodeBase64Url("AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB")).not.toBeNull();
    for (const bad of ["AAA=", "AA==", "ab+c", "ab/c", "ab c", "abcde", "", "ab%3D"]) expect(decodeBase64Url(bad), bad).toBeNull();
  });
});

describe("helpers for forwarding", () => {
  it("replaces a message id in a copy, and decodes upstream messages without throwing", () => {
    const original = encodeQuery("example.com", "A", 0);
    const stamped = withMessageId(original, 0xabcd);
    expect(dnsPacket.decode(stamped).id).toBe(0xabcd);
    expect(dnsPacket.decode(original).id).toBe(0);
    expect(decodeMessage(new Uint8Array([1, 2, 3]))).toMatchObject({ ok: false });
    expect(decodeMessage(original.slice(0, original.length - 3))).toMatchObject({ ok: false });
  });
});
