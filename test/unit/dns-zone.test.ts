import { describe, expect, it } from "vitest";
import { taskHash } from "../../control/dns/names.ts";
import type { DnsRecord } from "../../control/dns/records.ts";
import { buildZone, isDiscoverable, type ZoneIndex } from "../../control/dns/zone.ts";
import { AGENTS, fixtureZone, INPUT, task } from "./dns-fixture.ts";

function data(zone: ZoneIndex, name: string, type: DnsRecord["type"]): string[] {
  return (zone.records.get(name) ?? [])
    .filter((r) => r.type === type)
    .map((r) => (r.type === "SRV" ? `${r.data.port} ${r.data.target}` : r.type === "SOA" ? r.data.mname : r.data))
    .sort();
}

const a1 = async () => `web-shop-${await taskHash("shop_web.a1")}-s1`;
const a2 = async () => `web-shop-${await taskHash("shop_web.a2")}-s2`;

describe("task records", () => {
  it("answers a RUNNING task under {task}.{framework}.{zone} and .slave, one A per task", async () => {
    const zone = await fixtureZone();
    expect(data(zone, "web-shop.marathon.mesos", "A")).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(data(zone, "web-shop.marathon.slave.mesos", "A")).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(data(zone, "healthy.marathon.mesos", "A")).toEqual(["10.0.0.1"]);
  });

  it("answers Marathon groups both mangled (web-shop) and dotted (web.shop, the LEGACY DiscoveryInfo name)", async () => {
    const zone = await fixtureZone();
    expect(data(zone, "web.shop.marathon.mesos", "A")).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(data(zone, "web.shop.marathon.slave.mesos", "A")).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(zone.records.has("_web.shop._tcp.marathon.mesos")).toBe(true);
  });

  it("leaves out tasks that are not RUNNING, are being killed, are unhealthy, or whose agent is unknown", async () => {
    const zone = await fixtureZone();
    for (const name of ["killing", "killstate", "sick", "staging", "orphan"]) {
      expect(zone.records.has(`${name}.marathon.mesos`), name).toBe(false);
      expect(zone.records.has(`${name}.marathon.agentip.dcos.thisdcos.directory`), name).toBe(false);
    }
    expect(zone.records.has("_killing._tcp.marathon.slave.mesos")).toBe(false);
    expect(isDiscoverable({ state: "TASK_RUNNING", killing: false, healthy: null })).toBe(true);
    expect(isDiscoverable({ state: "TASK_RUNNING", killing: false, healthy: false })).toBe(false);
  });

  it("gives the canonical {task}-{hash}-{agentIdTail} name under both subdomains", async () => {
    const zone = await fixtureZone();
    expect(data(zone, `${await a1()}.marathon.mesos`, "A")).toEqual(["10.0.0.1"]);
    expect(data(zone, `${await a1()}.marathon.slave.mesos`, "A")).toEqual(["10.0.0.1"]);
    expect(data(zone, `${await a2()}.marathon.mesos`, "A")).toEqual(["10.0.0.2"]);
  });

  it("answers AAAA, not A, for a task on an IPv6 agent", async () => {
    const zone = await fixtureZone();
    expect(data(zone, "db.marathon.mesos", "AAAA")).toEqual(["fd00::6"]);
    expect(data(zone, "db.marathon.mesos", "A")).toEqual([]);
  });

  it("gives SRV per port: all ports under .slave for tcp and udp, by protocol without .slave", async () => {
    const zone = await fixtureZone();
    const [t1, t2] = [await a1(), await a2()];
    const slave = [`31001 ${t1}.marathon.slave.mesos`, `31002 ${t1}.marathon.slave.mesos`, `31005 ${t2}.marathon.slave.mesos`];
    expect(data(zone, "_web-shop._tcp.marathon.slave.mesos", "SRV")).toEqual(slave);
    expect(data(zone, "_web-shop._udp.marathon.slave.mesos", "SRV")).toEqual(slave);
    expect(data(zone, "_web-shop._tcp.marathon.mesos", "SRV")).toEqual([
      `31001 ${t1}.marathon.mesos`,
      `31002 ${t1}.marathon.mesos`,
      `31005 ${t2}.marathon.mesos`,
    ]);
    expect(data(zone, "_web-shop._udp.marathon.mesos", "SRV")).toEqual([`31002 ${t1}.marathon.mesos`]);
    const srv = zone.records.get("_web-shop._tcp.marathon.mesos")?.[0];
    expect(srv?.type === "SRV" && [srv.data.priority, srv.data.weight, srv.ttl]).toEqual([0, 1, 5]);
  });

  it("adds _{portName}._{task}._{proto} for named ports", async () => {
    const zone = await fixtureZone();
    expect(data(zone, "_http._web-shop._tcp.marathon.mesos", "SRV")).toEqual([`31001 ${await a1()}.marathon.mesos`, `31005 ${await a2()}.marathon.mesos`]);
    expect(zone.records.has("_http._web-shop._udp.marathon.mesos")).toBe(false);
  });

  it("adds the DC/OS agentip and autoip names, and no containerip while tasks have no IP of their own", async () => {
    const zone = await fixtureZone();
    expect(data(zone, "web-shop.marathon.agentip.dcos.thisdcos.directory", "A")).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(data(zone, "web-shop.marathon.autoip.dcos.thisdcos.directory", "A")).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(data(zone, "db.marathon.autoip.dcos.thisdcos.directory", "AAAA")).toEqual(["fd00::6"]);
    expect([...zone.records.keys()].some((n) => n.includes("containerip"))).toBe(false);
  });
});

describe("cluster records", () => {
  it("points leader, master, master0, ns1 and the framework names at the control plane", async () => {
    const zone = await fixtureZone();
    for (const name of ["leader.mesos", "master.mesos", "master0.mesos", "ns1.mesos", "marathon.mesos", "metronome.mesos"]) {
      expect(data(zone, name, "A"), name).toEqual(["192.0.2.10"]);
    }
    expect(data(zone, "leader.dcos.thisdcos.directory", "A")).toEqual(["192.0.2.10"]);
    expect(data(zone, "master.dcos.thisdcos.directory", "A")).toEqual(["192.0.2.10"]);
    expect(data(zone, "_leader._tcp.mesos", "SRV")).toEqual(["8443 leader.mesos"]);
    expect(data(zone, "_leader._udp.mesos", "SRV")).toEqual(["8443 leader.mesos"]);
    expect(data(zone, "_framework._tcp.marathon.mesos", "SRV")).toEqual(["8443 marathon.mesos"]);
  });

  it("answers the control plane's host name as a CNAME when no IP is known", async () => {
    const zone = await fixtureZone({ masterHost: { name: "DCX.example.com.", ips: [] } });
    expect(data(zone, "leader.mesos", "CNAME")).toEqual(["dcx.example.com"]);
    expect(data(zone, "leader.mesos", "A")).toEqual([]);
    expect(data(zone, "_leader._tcp.mesos", "SRV")).toEqual(["443 leader.mesos"]);
    const local = await fixtureZone({ masterHost: { name: "[::1]", ips: [] } });
    expect(data(local, "leader.mesos", "AAAA")).toEqual(["::1"]);
    expect(data(local, "leader.mesos", "CNAME")).toEqual([]);
  });

  it("lists every agent under slave.{zone} and each under its hostname as one label", async () => {
    const zone = await fixtureZone();
    expect(data(zone, "slave.mesos", "A")).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(data(zone, "slave.mesos", "AAAA")).toEqual(["fd00::6"]);
    expect(data(zone, "agent-1-local.slave.mesos", "A")).toEqual(["10.0.0.1"]);
    expect(data(zone, "agent-2.slave.mesos", "A")).toEqual(["10.0.0.2"]);
    expect(zone.records.has("_slave._tcp.mesos")).toBe(false);
    const withPort = await fixtureZone({ agents: AGENTS.map((a) => ({ ...a, port: 5051 })) });
    expect(data(withPort, "_slave._tcp.mesos", "SRV")).toEqual(["5051 slave.mesos"]);
  });

  it("has SOA and NS at both apexes, with the caller's serial and the TTL as minimum", async () => {
    const zone = await fixtureZone({ ttl: 7 });
    const soa = zone.records.get("mesos")?.find((r) => r.type === "SOA");
    expect(soa).toEqual({
      name: "mesos",
      type: "SOA",
      ttl: 7,
      data: { mname: "ns1.mesos", rname: "root.ns1.mesos", serial: 42, refresh: 60, retry: 600, expire: 86400, minimum: 7 },
    });
    expect(data(zone, "mesos", "NS")).toEqual(["ns1.mesos"]);
    expect(data(zone, "thisdcos.directory", "SOA")).toEqual(["ns1.mesos"]);
    expect(zone.apexes).toEqual(["thisdcos.directory", "mesos"]);
  });

  it("honours a configured zone and TTL", async () => {
    const zone = await buildZone({ ...INPUT, zone: "Cluster.Local.", ttl: 30, tasks: [task({ id: "x", name: "api", ports: [80] })] });
    expect(zone.zone).toBe("cluster.local");
    expect(data(zone, "api.marathon.cluster.local", "A")).toEqual(["10.0.0.1"]);
    expect(zone.records.get("api.marathon.cluster.local")?.[0]?.ttl).toBe(30);
    expect(zone.records.has("api.marathon.mesos")).toBe(false);
  });

  it("records the empty non-terminals between names and apexes", async () => {
    const zone = await fixtureZone();
    for (const name of ["_tcp.marathon.mesos", "marathon.slave.mesos", "agentip.dcos.thisdcos.directory", "dcos.thisdcos.directory"]) {
      expect(zone.nonTerminals.has(name), name).toBe(true);
    }
    expect(zone.nonTerminals.has("slave.mesos")).toBe(false);
  });
});

describe("enumeration", () => {
  it("lists frameworks with their running tasks and the cluster-zone records they produced", async () => {
    const zone = await fixtureZone();
    const frameworks = zone.enumeration.frameworks;
    expect(frameworks.map((f) => f.name)).toEqual(["marathon", "metronome"]);
    const marathon = frameworks[0]!;
    expect(marathon.tasks.map((t) => t.id)).toEqual(["shop_web.a1", "shop_web.a2", "healthy.1", "db.1"]);
    const records = marathon.tasks[0]!.records;
    expect(records).toContainEqual({ name: "web-shop.marathon.mesos.", host: "10.0.0.1", rtype: "A" });
    expect(records).toContainEqual({ name: "_web-shop._tcp.marathon.mesos.", host: `${await a1()}.marathon.mesos.:31001`, rtype: "SRV" });
    expect(records.every((r) => r.name.endsWith(".mesos."))).toBe(true);
  });
});
