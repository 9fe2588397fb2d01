import * as dnsPacket from "@leichtgewicht/dns-packet";
import { describe, expect, it } from "vitest";
import { jsonToQuery, parseJsonQuery, parseType, renderJson, renderJsonPacket } from "../../control/dns/json.ts";
import { resolve } from "../../control/dns/resolve.ts";
import { fixtureZone, seeded } from "./dns-fixture.ts";

const parse = (qs: string) => parseJsonQuery(new URLSearchParams(qs));

describe("parseJsonQuery", () => {
  it("reads name and type, defaulting to A", () => {
    expect(parse("name=leader.mesos")).toEqual({ ok: true, name: "leader.mesos", type: "A", checkingDisabled: false, dnssecOk: false });
    expect(parse("name=leader.mesos.&type=aaaa&cd=1&do=true")).toEqual({
      ok: true,
      name: "leader.mesos",
      type: "AAAA",
      checkingDisabled: true,
      dnssecOk: true,
    });
    expect(parse("name=.&type=NS")).toMatchObject({ ok: true, name: "", type: "NS" });
  });

  it("takes type numbers and mnemonics in any case", () => {
    expect(parseType("33")).toBe("SRV");
    expect(parseType("srv")).toBe("SRV");
    expect(parseType("65")).toBe("UNKNOWN_65");
    expect(parseType("https")).toBe("UNKNOWN_65");
    expect(parseType(null)).toBe("A");
  });

  it("names the parameter that is wrong", () => {
    expect(parse("")).toEqual({ ok: false, parameter: "name", message: "is required" });
    expect(parse(`name=${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.eeeeeeeeeeeee`)).toMatchObject({ ok: false, parameter: "name" });
    expect(parse(`name=${"a".repeat(64)}.mesos`)).toMatchObject({ ok: false, parameter: "name", message: expect.stringMatching(/label of 64/) });
    expect(parse("name=a..mesos")).toMatchObject({ ok: false, parameter: "name" });
    expect(parse("name=a%20b.mesos")).toMatchObject({ ok: false, parameter: "name" });
    for (const type of ["BOGUS", "0", "65536", "-1", "1.5", "UNKNOWN_5"]) {
      expect(parse(`name=mesos&type=${type}`), type).toMatchObject({ ok: false, parameter: "type" });
    }
    expect(parse("name=mesos&cd=maybe")).toMatchObject({ ok: false, parameter: "cd" });
    expect(parse("name=mesos&do=2")).toMatchObject({ ok: false, parameter: "do" });
  });

  it("accepts a 253-character name", () => {
    const name = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
    expect(name).toHaveLength(253);
    expect(parse(`name=${name}`)).toMatchObject({ ok: true });
    expect(parse(`name=${name}d`)).toMatchObject({ ok: false, parameter: "name" });
  });
});

describe("renderJson", () => {
  it("renders A answers in the Google/Cloudflare shape, with trailing dots and numeric types", async () => {
    const parsed = parse("name=web-shop.marathon.mesos&type=A");
    if (!parsed.ok) throw new Error(parsed.message);
    const q = jsonToQuery(parsed);
    const r = resolve(await fixtureZone(), q, seeded(2));
    if (r.outside) throw new Error("outside");
    const json = renderJson(q, r);
    expect(json).toMatchObject({ Status: 0, TC: false, RD: true, RA: true, AD: false, CD: false });
    expect(json.Question).toEqual([{ name: "web-shop.marathon.mesos.", type: 1 }]);
    expect(json.Answer?.map((a) => a.data).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(json.Answer?.[0]).toMatchObject({ name: "web-shop.marathon.mesos.", type: 1, TTL: 5 });
    expect(json).not.toHaveProperty("Authority");
  });

  it("renders SRV data as 'priority weight port target.' with additionals", async () => {
    const zone = await fixtureZone();
    const q = jsonToQuery({ ok: true, name: "_http._web-shop._tcp.marathon.mesos", type: "SRV", checkingDisabled: false, dnssecOk: false });
    const r = resolve(zone, q, seeded(1));
    if (r.outside) throw new Error("outside");
    const json = renderJson(q, r);
    expect(json.Answer?.map((a) => a.data).sort()).toEqual([
      expect.stringMatching(/^0 1 31001 web-shop-[a-z0-9]{5}-s1\.marathon\.mesos\.$/),
      expect.stringMatching(/^0 1 31005 web-shop-[a-z0-9]{5}-s2\.marathon\.mesos\.$/),
    ]);
    expect(json.Answer?.[0]?.type).toBe(33);
    expect(json.Additional?.map((a) => a.type)).toEqual([1, 1]);
  });

  it("renders NXDOMAIN with the SOA in Authority", async () => {
    const q = jsonToQuery({ ok: true, name: "nope.mesos", type: "A", checkingDisabled: false, dnssecOk: false });
    const r = resolve(await fixtureZone(), q, seeded(1));
    if (r.outside) throw new Error("outside");
    const json = renderJson(q, r, false);
    expect(json.Status).toBe(3);
    expect(json.RA).toBe(false);
    expect(json).not.toHaveProperty("Answer");
    expect(json.Authority).toEqual([{ name: "mesos.", type: 6, TTL: 5, data: "ns1.mesos. root.ns1.mesos. 42 60 600 86400 5" }]);
  });

  it("renders forwarded packets: CNAME, MX, TXT quoted and escaped, AAAA, flags and status", () => {
    const wire = dnsPacket.encode({
      type: "response",
      id: 0,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHENTIC_DATA,
      questions: [{ name: "www.example.com", type: "TXT" }],
      answers: [
        { name: "www.example.com", type: "CNAME", ttl: 60, data: "example.com" },
        { name: "example.com", type: "TXT", ttl: 30, data: ['say "hi"\\', "x"] },
        { name: "example.com", type: "MX", ttl: 30, data: { preference: 10, exchange: "mail.example.com" } },
        { name: "example.com", type: "AAAA", ttl: 30, data: "2001:db8::1" },
      ],
      additionals: [{ type: "OPT", name: ".", data: [] }],
    });
    const json = renderJsonPacket(dnsPacket.decode(wire));
    expect(json).toMatchObject({ Status: 0, RD: true, RA: true, AD: true, CD: false, TC: false, Question: [{ name: "www.example.com.", type: 16 }] });
    expect(json.Answer?.map((a) => [a.type, a.data])).toEqual([
      [5, "example.com."],
      [16, '"say \\"hi\\"\\\\" "x"'],
      [15, "10 mail.example.com."],
      [28, "2001:db8::1"],
    ]);
    expect(json).not.toHaveProperty("Additional");
  });
});
