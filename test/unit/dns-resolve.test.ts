import { describe, expect, it } from "vitest";
import { emptyAnswer, resolve, shuffle, soaFor, type Resolution } from "../../control/dns/resolve.ts";
import type { DnsRecord } from "../../control/dns/records.ts";
import { fixtureZone, INPUT, seeded } from "./dns-fixture.ts";

const zoneP = fixtureZone();

function inZone(r: Resolution): Extract<Resolution, { outside: false }> {
  if (r.outside) throw new Error("expected an in-zone answer");
  return r;
}

const ask = async (name: string, type: string, seed = 1) => inZone(resolve(await zoneP, { name, type }, seeded(seed)));
const values = (records: DnsRecord[]) => records.map((r) => (r.type === "SRV" ? `${r.data.port}` : r.type === "SOA" ? "SOA" : r.data)).sort();

describe("resolve: positive answers", () => {
  it("answers A records of the asked type, authoritatively", async () => {
    const r = await ask("web-shop.marathon.mesos", "A");
    expect(r).toMatchObject({ rcode: "NOERROR", authoritative: true, authorities: [], additionals: [] });
    expect(values(r.answers)).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("ignores case and a trailing dot", async () => {
    const r = await ask("WEB-Shop.Marathon.MESOS.", "a");
    expect(values(r.answers)).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("returns every record of a name for ANY", async () => {
    const r = await ask("mesos", "ANY");
    expect(r.answers.map((a) => a.type).sort()).toEqual(["NS", "SOA"]);
  });

  it("answers SOA and NS at the apex, with the name server's address as additional", async () => {
    expect((await ask("mesos", "SOA")).answers[0]?.type).toBe("SOA");
    const ns = await ask("mesos", "NS");
    expect(values(ns.answers)).toEqual(["ns1.mesos"]);
    expect(values(ns.additionals)).toEqual(["192.0.2.10"]);
  });

  it("adds the targets' addresses to SRV answers", async () => {
    const r = await ask("_web-shop._tcp.marathon.mesos", "SRV");
    expect(values(r.answers)).toEqual(["31001", "31002", "31005"]);
    expect(values(r.additionals)).toEqual(["10.0.0.1", "10.0.0.2"]);
    const targets = new Set(r.answers.map((a) => (a.type === "SRV" ? a.data.target : "")));
    expect(new Set(r.additionals.map((a) => a.name))).toEqual(targets);
  });

  it("answers a CNAME to the control plane's host name, which the client resolves further", async () => {
    const zone = await fixtureZone({ masterHost: { name: "dcx.example.com", ips: [] } });
    const r = inZone(resolve(zone, { name: "leader.mesos", type: "A" }, seeded(1)));
    expect(r.rcode).toBe("NOERROR");
    expect(r.answers).toEqual([{ name: "leader.mesos", type: "CNAME", ttl: 5, data: "dcx.example.com" }]);
    expect(r.authorities).toEqual([]);
  });
});

describe("resolve: negative answers", () => {
  it("says NXDOMAIN, with the zone's SOA, for a name that does not exist", async () => {
    const r = await ask("nope.marathon.mesos", "A");
    expect(r.rcode).toBe("NXDOMAIN");
    expect(r.answers).toEqual([]);
    expect(r.authorities).toHaveLength(1);
    expect(r.authorities[0]).toMatchObject({ name: "mesos", type: "SOA" });
  });

  it("says NOERROR with no answers (NODATA) and the SOA for a name with records of other types", async () => {
    for (const type of ["AAAA", "SRV", "TXT", "MX", "PTR", "UNKNOWN_65"]) {
      const r = await ask("web-shop.marathon.mesos", type);
      expect(r.rcode, type).toBe("NOERROR");
      expect(r.answers, type).toEqual([]);
      expect(r.authorities[0]?.type, type).toBe("SOA");
    }
  });

  it("treats names that only have names below them as existing (NODATA, not NXDOMAIN)", async () => {
    const r = await ask("_tcp.marathon.mesos", "SRV");
    expect(r.rcode).toBe("NOERROR");
    expect(r.authorities[0]?.type).toBe("SOA");
  });

  it("answers the directory zone with its own SOA, and NXDOMAIN for unknown .directory names", async () => {
    const r = await ask("foo.marathon.l4lb.thisdcos.directory", "A");
    expect(r.rcode).toBe("NXDOMAIN");
    expect(r.authorities[0]?.name).toBe("thisdcos.directory");
    expect(values((await ask("WEB-SHOP.marathon.autoip.dcos.thisdcos.directory", "A")).answers)).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("flags names outside both zones for forwarding", async () => {
    const zone = await zoneP;
    expect(resolve(zone, { name: "example.com", type: "A" }, seeded(1))).toEqual({ outside: true });
    expect(resolve(zone, { name: "notmesos", type: "A" }, seeded(1))).toEqual({ outside: true });
    expect(resolve(zone, { name: "mesos.example.com", type: "A" }, seeded(1))).toEqual({ outside: true });
    expect(resolve(zone, { name: "", type: "NS" }, seeded(1))).toEqual({ outside: true });
    expect(soaFor(zone, "example.com")).toBeUndefined();
    expect(emptyAnswer("REFUSED")).toEqual({ rcode: "REFUSED", authoritative: false, answers: [], authorities: [], additionals: [] });
  });
});

describe("resolve: shuffling", () => {
  it("shuffles with the injected random: the same seed gives the same order, and both orders occur", async () => {
    const order = async (seed: number) => (await ask("web-shop.marathon.mesos", "A", seed)).answers.map((a) => String(a.data)).join(",");
    expect(await order(7)).toBe(await order(7));
    const seen = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) seen.add(await order(seed));
    expect(seen).toEqual(new Set(["10.0.0.1,10.0.0.2", "10.0.0.2,10.0.0.1"]));
  });

  it("is a permutation and leaves its input alone", () => {
    const input = [1, 2, 3, 4, 5, 6];
    const out = shuffle(input, seeded(3));
    expect([...out].sort()).toEqual(input);
    expect(input).toEqual([1, 2, 3, 4, 5, 6]);
    expect(shuffle(input, () => 0)).toEqual([2, 3, 4, 5, 6, 1]);
  });
});

describe("resolve: state changes", () => {
  it("drops a task in the first answer after it starts being killed", async () => {
    const killed = INPUT.tasks.map((t) => (t.id === "shop_web.a2" ? { ...t, killing: true } : t));
    const zone = await fixtureZone({ tasks: killed });
    const r = inZone(resolve(zone, { name: "web-shop.marathon.mesos", type: "A" }, seeded(1)));
    expect(values(r.answers)).toEqual(["10.0.0.1"]);
  });
});
