import { describe, expect, it } from "vitest";
import { configInfo, enumerate, hostPortsOf, hostsOf, servicesOf, versionInfo } from "../../control/dns/http-api.ts";
import { taskHash } from "../../control/dns/names.ts";
import { fixtureZone } from "./dns-fixture.ts";

const zoneP = fixtureZone();

describe("Mesos-DNS HTTP API", () => {
  it("version says Mesos-DNS, served by DCX", () => {
    expect(versionInfo("0.1.0", "https://dcx.example.com")).toEqual({ Service: "Mesos-DNS", URL: "https://dcx.example.com", Version: "dcx-0.1.0" });
  });

  it("config reports DCX's values in Mesos-DNS's fields", async () => {
    const config = configInfo(await zoneP, { resolvers: ["https://cloudflare-dns.com/dns-query"], masters: ["dcx.example.com:443"], port: 443 });
    expect(config).toMatchObject({
      Domain: "mesos",
      TTL: 5,
      RefreshSeconds: 0,
      Port: 443,
      HttpPort: 443,
      SOASerial: 42,
      SOAMname: "ns1.mesos.",
      SOARname: "root.ns1.mesos.",
      SOAMinttl: 5,
      Resolvers: ["https://cloudflare-dns.com/dns-query"],
      RecurseOn: true,
      ExternalOn: true,
      EnumerationOn: true,
      IPSources: ["host"],
    });
    expect(configInfo(await zoneP, { resolvers: [], masters: [], port: 8787 })).toMatchObject({ RecurseOn: false, ExternalOn: false, Port: 8787 });
  });

  it("hosts answers every address of a name with trailing dots, or one empty record", async () => {
    const zone = await zoneP;
    expect(hostsOf(zone, "Web-Shop.marathon.mesos")).toEqual([
      { host: "web-shop.marathon.mesos.", ip: "10.0.0.1" },
      { host: "web-shop.marathon.mesos.", ip: "10.0.0.2" },
    ]);
    expect(hostsOf(zone, "leader.mesos.")).toEqual([{ host: "leader.mesos.", ip: "192.0.2.10" }]);
    expect(hostsOf(zone, "db.marathon.mesos")).toEqual([{ host: "db.marathon.mesos.", ip: "fd00::6" }]);
    expect(hostsOf(zone, "nope.mesos")).toEqual([{ host: "", ip: "" }]);
  });

  it("services answers SRV targets with their IP and the port as a string", async () => {
    const zone = await zoneP;
    const h1 = await taskHash("shop_web.a1");
    const h2 = await taskHash("shop_web.a2");
    const byPort = servicesOf(zone, "_http._web-shop._tcp.marathon.mesos").sort((a, b) => Number(a.port) - Number(b.port));
    expect(byPort).toEqual([
      { service: "_http._web-shop._tcp.marathon.mesos.", host: `web-shop-${h1}-s1.marathon.mesos.`, ip: "10.0.0.1", port: "31001" },
      { service: "_http._web-shop._tcp.marathon.mesos.", host: `web-shop-${h2}-s2.marathon.mesos.`, ip: "10.0.0.2", port: "31005" },
    ]);
    expect(servicesOf(zone, "_leader._tcp.mesos")).toEqual([{ service: "_leader._tcp.mesos.", host: "leader.mesos.", ip: "192.0.2.10", port: "8443" }]);
    expect(servicesOf(zone, "_nope._tcp.marathon.mesos")).toEqual([{ service: "", host: "", ip: "", port: "" }]);
  });

  it("hosts/{host}/ports lists the SRV entries of the tasks behind a name", async () => {
    const zone = await zoneP;
    const h2 = await taskHash("shop_web.a2");
    const ports = hostPortsOf(zone, `web-shop-${h2}-s2.marathon.mesos`);
    expect(new Set(ports.map((p) => p.port))).toEqual(new Set(["31005"]));
    expect(ports.map((p) => p.service)).toContain("_http._web-shop._tcp.marathon.mesos.");
    expect(ports.every((p) => p.ip === "10.0.0.2")).toBe(true);
    expect(new Set(hostPortsOf(zone, "web-shop.marathon.mesos").map((p) => p.port))).toEqual(new Set(["31001", "31002", "31005"]));
    expect(hostPortsOf(zone, "nope.marathon.mesos")).toEqual([]);
  });

  it("enumerate has the frameworks → tasks → records shape", async () => {
    const data = enumerate(await zoneP);
    expect(Object.keys(data)).toEqual(["frameworks"]);
    const fw = data.frameworks[0]!;
    expect(Object.keys(fw).sort()).toEqual(["name", "tasks"]);
    const t = fw.tasks[0]!;
    expect(t).toMatchObject({ name: "web.shop", id: "shop_web.a1" });
    expect(Object.keys(t.records[0]!).sort()).toEqual(["host", "name", "rtype"]);
    expect(data.frameworks[1]).toEqual({ name: "metronome", tasks: [] });
  });
});
