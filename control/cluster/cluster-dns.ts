import { buildZone, configInfo, enumerate, hostPortsOf, hostsOf, resolve, servicesOf, type DnsQuestion, type Resolution, type ZoneIndex } from "../dns/index.ts";
import type { ClusterDb } from "./db.ts";
import { dnsSource } from "./dns-source.ts";
import { ensureMeta, getMeta, setMeta } from "./meta.ts";
import { changeVipRange, vipRange } from "./vips/addresses.ts";

export interface DnsSettings {
  zone: string;
  ttl: number;
  /** The block named VIPs get their addresses from (`<name>.marathon.l4lb.thisdcos.directory`). */
  vipRange: string;
}

export type MesosDnsQuery = "hosts" | "ports" | "services" | "enumerate" | "config";

/**
 * The cluster's DNS: its settings and a zone built from live state on the first query after a
 * change. Every committed change of cluster state drops the zone (`changed`) and moves the SOA
 * serial on.
 */
export class ClusterDns {
  private zone: { host: string; index: Promise<ZoneIndex> } | undefined;
  /** Bumped with every committed change: the zone's SOA serial counts from the cluster's creation. */
  private stateVersion = 0;

  constructor(private readonly db: ClusterDb) {}

  changed(): void {
    this.zone = undefined;
    this.stateVersion++;
  }

  /** The zone name and TTL (Mesos-DNS `domain` and `ttl`), and the VIP range. */
  settings(): DnsSettings {
    return { zone: getMeta(this.db, "dns_zone") ?? "mesos", ttl: Number(getMeta(this.db, "dns_ttl") ?? 5), vipRange: vipRange(this.db) };
  }

  /**
   * Changes the zone name, TTL or VIP range inside the caller's transaction; names answer
   * under the new zone at once. Returns why a new VIP range cannot be taken (the caller rolls
   * back), or the settings now in force.
   */
  setSettings(settings: Partial<DnsSettings>): { ok: true; value: DnsSettings } | { ok: false; field: "vipRange"; message: string } {
    if (settings.vipRange !== undefined && settings.vipRange !== vipRange(this.db)) {
      const refused = changeVipRange(this.db, settings.vipRange);
      if (refused !== undefined) return { ok: false, field: "vipRange", message: refused };
    }
    if (settings.zone !== undefined) setMeta(this.db, "dns_zone", settings.zone);
    if (settings.ttl !== undefined) setMeta(this.db, "dns_ttl", String(settings.ttl));
    this.changed();
    return { ok: true, value: this.settings() };
  }

  /** Answers one question from live state, or says it lies outside the cluster's zones. */
  async resolve(question: DnsQuestion, host: string): Promise<Resolution> {
    return resolve(await this.zoneFor(host), question, Math.random);
  }

  /** The Mesos-DNS HTTP API's answers (`/mesos_dns/v1/...`). */
  async mesosDns(kind: MesosDnsQuery, arg: string, host: string, resolvers: string[]) {
    const zone = await this.zoneFor(host);
    if (kind === "hosts") return hostsOf(zone, arg);
    if (kind === "ports") return hostPortsOf(zone, arg);
    if (kind === "services") return servicesOf(zone, arg);
    if (kind === "enumerate") return enumerate(zone);
    return configInfo(zone, { resolvers, masters: [`${host}:443`], port: 443 });
  }

  /** The zone as of now. `host` is the control plane's host as clients reach it (leader/master names). */
  private zoneFor(host: string): Promise<ZoneIndex> {
    if (this.zone?.host !== host) {
      const source = dnsSource(this.db);
      const isIp = /^[\d.]+$|:/.test(host);
      const index = buildZone({
        ...this.settings(),
        serial: Number(ensureMeta(this.db, "created_at", () => String(Date.now()))) / 1000 + this.stateVersion,
        masterHost: isIp ? { ips: [host] } : { name: host, ips: [] },
        agents: source.agents,
        tasks: source.tasks,
        vips: source.vips,
        frameworks: ["marathon", "metronome"],
      });
      this.zone = { host, index };
    }
    return this.zone.index;
  }
}
