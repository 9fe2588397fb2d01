import { describe, expect, it } from "vitest";
import { parseAppDefinition } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { readVipLabel, vipFqdn, vipsOf } from "../../control/cluster/frameworks/marathon/app-vips.ts";
import { nameHash, pickAddress } from "../../control/cluster/vips/addresses.ts";
import { buildZone, resolve } from "../../control/dns/index.ts";
import { DEFAULT_VIP_RANGE, inCidr, ipv4ToNumber, numberToIpv4, parseCidr, type Cidr, vipRangeProblem } from "../../protocol/vips.ts";

/** VIP labels (Minuteman's syntax), the VIP range rules, and the address allocator. */

const BASE = { id: "/shop/web", cmd: "run" };

function parsed(json: unknown) {
  const r = parseAppDefinition(json);
  if (!r.ok) throw new Error(JSON.stringify(r.details));
  return r.app;
}

function details(json: unknown) {
  const r = parseAppDefinition(json);
  if (r.ok) throw new Error("expected a 422");
  return r.details;
}

const range = (text: string): Cidr => {
  const r = parseCidr(text);
  if (r === undefined) throw new Error(text);
  return r;
};

describe("VIP labels", () => {
  it("reads named and IP VIPs, splitting on the last ':' and sanitising names as dcos-net does", () => {
    expect(readVipLabel("/mygroup/myapp:80")).toEqual({ kind: "named", name: "mygroupmyapp", port: 80 });
    expect(readVipLabel("/api.hello_World:8080")).toEqual({ kind: "named", name: "api.hello-world", port: 8080 });
    expect(readVipLabel("127.11.3.4:5000")).toEqual({ kind: "ip", name: "127.11.3.4", port: 5000 });
    expect(readVipLabel("weird:name:443")).toEqual({ kind: "named", name: "weirdname", port: 443 });
    expect(vipFqdn("mygroupmyapp")).toBe("mygroupmyapp.marathon.l4lb.thisdcos.directory");
  });

  it("refuses values without a usable port or name, saying which", () => {
    expect(readVipLabel("/web")).toMatch(/is not <name>:<port>/);
    expect(readVipLabel("/web:0")).toMatch(/from 1 to 65535/);
    expect(readVipLabel("/web:65536")).toMatch(/from 1 to 65535/);
    expect(readVipLabel("/web:http")).toMatch(/not 'http'/);
    expect(readVipLabel("///:80")).toMatch(/no letters or digits/);
    expect(readVipLabel(`/${"a.".repeat(120)}b:80`)).toMatch(/too long for DNS/);
  });

  it("finds VIP labels on port definitions and on bridge port mappings, by key prefix VIP or vip", () => {
    const host = parsed({
      ...BASE,
      portDefinitions: [
        { port: 0, labels: { VIP_0: "/shop/web:80", other: "x" } },
        { port: 0, labels: { vip_admin: "127.11.0.9:81" } },
      ],
    });
    expect(vipsOf(host)).toEqual([
      { portIndex: 0, key: "VIP_0", kind: "named", name: "shopweb", port: 80 },
      { portIndex: 1, key: "vip_admin", kind: "ip", name: "127.11.0.9", port: 81 },
    ]);
    const bridge = parsed({
      ...BASE,
      networks: [{ mode: "container/bridge" }],
      container: { type: "DOCKER", docker: { image: "nginx" }, portMappings: [{ containerPort: 80, labels: { VIP_0: "/web:80" } }] },
    });
    expect(vipsOf(bridge)).toEqual([{ portIndex: 0, key: "VIP_0", kind: "named", name: "web", port: 80 }]);
    expect(vipsOf(parsed({ ...BASE, portDefinitions: [{ port: 0, labels: { Vip: "/x:1" } }] }))).toEqual([]);
  });

  it("answers a bad label with a 422 naming the label's field", () => {
    expect(details({ ...BASE, portDefinitions: [{ port: 0 }, { port: 0, labels: { VIP_1: "/web" } }] })).toEqual([
      { path: "/portDefinitions/1/labels/VIP_1", errors: [expect.stringMatching(/is not <name>:<port>/)] },
    ]);
    expect(details({ ...BASE, portDefinitions: [{ port: 0, protocol: "udp", labels: { VIP_0: "/dns:53" } }] })[0]?.errors[0]).toMatch(/balance TCP/);
    const twice = details({
      ...BASE,
      portDefinitions: [
        { port: 0, labels: { VIP_0: "/web:80" } },
        { port: 0, labels: { VIP_1: "/web:80" } },
      ],
    });
    expect(twice).toEqual([{ path: "/portDefinitions/1/labels/VIP_1", errors: [expect.stringMatching(/already the VIP of port 0/)] }]);
    const bridge = details({
      ...BASE,
      networks: [{ mode: "container/bridge" }],
      container: { type: "DOCKER", docker: { image: "nginx" }, portMappings: [{ containerPort: 80, labels: { VIP_0: "/web:x" } }] },
    });
    expect(bridge.map((d) => d.path)).toEqual(["/container/portMappings/0/labels/VIP_0"]);
  });
});

describe("VIP ranges", () => {
  it("takes CIDR blocks from /8 to /28 and refuses what a root agent must never bind", () => {
    expect(vipRangeProblem(DEFAULT_VIP_RANGE)).toBeUndefined();
    expect(vipRangeProblem("11.0.0.0/8")).toBeUndefined();
    expect(vipRangeProblem("127.11.0.0/28")).toBeUndefined();
    expect(vipRangeProblem("11.0.0.1/8")).toMatch(/no host bits/);
    expect(vipRangeProblem("11.0.0.0")).toMatch(/not an IPv4 CIDR/);
    expect(vipRangeProblem("10.0.0.0/7")).toMatch(/between \/8 and \/28/);
    expect(vipRangeProblem("127.0.0.0/8")).toMatch(/localhost/);
    expect(vipRangeProblem("169.254.0.0/16")).toMatch(/metadata/);
    expect(vipRangeProblem("0.0.0.0/8")).toMatch(/this network/);
    expect(vipRangeProblem("239.0.0.0/8")).toMatch(/multicast/);
  });

  it("converts addresses both ways and tests membership", () => {
    expect(ipv4ToNumber("127.11.0.1")).toBe(0x7f0b0001);
    expect(numberToIpv4(0x7f0b0001)).toBe("127.11.0.1");
    expect(ipv4ToNumber("256.0.0.1")).toBeUndefined();
    expect(inCidr(range("127.11.0.0/16"), "127.11.255.255")).toBe(true);
    expect(inCidr(range("127.11.0.0/16"), "127.12.0.0")).toBe(false);
  });
});

describe("VIP address allocation", () => {
  it("is stable: the same name gets the same address from an empty range, inside the usable block", () => {
    const r = range("127.11.0.0/16");
    const a = pickAddress("shopweb", r, new Set());
    expect(a).toBe(pickAddress("shopweb", r, new Set()));
    expect(a).toBe(r.first + 1 + (nameHash("/shopweb") % (r.last - r.first - 1)));
    expect(inCidr(r, numberToIpv4(a ?? 0))).toBe(true);
    // Seeded by the cluster: another cluster's agents on the same machine get another address.
    expect(pickAddress("shopweb", r, new Set(), "cluster-1")).toBe(pickAddress("shopweb", r, new Set(), "cluster-1"));
    expect(pickAddress("shopweb", r, new Set(), "cluster-1")).not.toBe(pickAddress("shopweb", r, new Set(), "cluster-2"));
  });

  it("never hands out a taken address: colliding names probe forward", () => {
    const r = range("127.11.0.0/28");
    const taken = new Set<number>();
    for (let i = 0; i < 14; i++) {
      const n = pickAddress(`name-${i}`, r, taken);
      expect(n).toBeDefined();
      expect(taken.has(n ?? 0)).toBe(false);
      expect(n).toBeGreaterThan(r.first);
      expect(n).toBeLessThan(r.last);
      taken.add(n ?? 0);
    }
    expect(taken.size).toBe(14);
  });

  it("refuses once the range is exhausted", () => {
    const r = range("127.11.0.0/28");
    const taken = new Set(Array.from({ length: 14 }, (_, i) => r.first + 1 + i));
    expect(pickAddress("one-more", r, taken)).toBeUndefined();
    // Addresses outside the range do not count against it.
    const outside = new Set([r.last + 5, r.first - 1]);
    expect(pickAddress("one-more", r, outside)).toBeDefined();
  });
});

describe("VIP names in the zone", () => {
  it("answers a named VIP's address authoritatively, whatever the case, and NXDOMAIN for other l4lb names", async () => {
    const zone = await buildZone({
      serial: 1,
      masterHost: { ips: ["10.0.0.1"] },
      agents: [],
      tasks: [],
      vips: [{ fqdn: vipFqdn("shopweb"), ip: "127.11.4.2" }],
    });
    const found = resolve(zone, { name: "ShopWeb.marathon.l4lb.thisdcos.directory.", type: "A" }, () => 0);
    expect(found).toMatchObject({
      outside: false,
      rcode: "NOERROR",
      authoritative: true,
      answers: [{ name: "shopweb.marathon.l4lb.thisdcos.directory", type: "A", data: "127.11.4.2" }],
    });
    expect(resolve(zone, { name: "other.marathon.l4lb.thisdcos.directory", type: "A" }, () => 0)).toMatchObject({ rcode: "NXDOMAIN" });
    expect(resolve(zone, { name: "marathon.l4lb.thisdcos.directory", type: "A" }, () => 0)).toMatchObject({ rcode: "NOERROR", answers: [] });
  });
});
