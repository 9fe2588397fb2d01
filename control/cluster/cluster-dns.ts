import {
  configInfo,
  enumerate,
  hostPortsOf,
  hostsOf,
  servicesOf,
  zoneOfSnapshot,
  type DnsSnapshot,
  type DnsSnapshotReply,
  type ZoneIndex,
} from "../dns/index.ts";
import type { ClusterDb } from "./db.ts";
import { dnsSource } from "./dns-source.ts";
import { getMeta, setMeta } from "./meta.ts";
import { changeVipRange, vipRange } from "./vips/addresses.ts";

export interface DnsSettings {
  zone: string;
  ttl: number;
  /** The block named VIPs get their addresses from (`<name>.marathon.l4lb.thisdcos.directory`). */
  vipRange: string;
}

export type MesosDnsQuery = "hosts" | "ports" | "services" | "enumerate" | "config";

/** Zones kept per snapshot, one per host clients reach the control plane by. */
const MAX_HOSTS = 8;

/**
 * The cluster's DNS: its settings and a versioned snapshot of what the zone is built from.
 * Every committed change of cluster state marks the snapshot dirty (`changed`); the next read
 * rebuilds it, and its version (and SOA serial) moves on only if the zone's content changed,
 * so the Worker's cached copies (dns/edge.ts) are not thrown away for changes DNS does not
 * show (a deployment's progress, a health check's timestamp).
 */
export class ClusterDns {
  private current: DnsSnapshot | undefined;
  private content = "";
  private dirty = true;
  private count = 0;
  /** Versions from an earlier run of the object must never match: they carry this prefix. */
  private readonly incarnation = crypto.randomUUID().slice(0, 8);
  private zones = new Map<string, Promise<ZoneIndex>>();

  constructor(private readonly db: ClusterDb) {}

  changed(): void {
    this.dirty = true;
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

  /** The snapshot as of now, rebuilt if state changed since the last one. */
  snapshot(now = Date.now()): DnsSnapshot {
    if (this.current !== undefined && !this.dirty) return this.current;
    const data = { ...this.settings(), ...dnsSource(this.db) };
    const content = JSON.stringify(data);
    this.dirty = false;
    if (this.current !== undefined && content === this.content) return this.current;
    // Serials are seconds since the epoch, and always move forward within one run of the object.
    const serial = Math.max((this.current?.serial ?? 0) + 1, Math.floor(now / 1000));
    this.current = { version: `${this.incarnation}.${++this.count}`, serial, ...data };
    this.content = content;
    this.zones = new Map();
    return this.current;
  }

  /** The Worker's check of its cached copy: the version alone when `known` is current, else the snapshot. */
  snapshotReply(known: string | null): DnsSnapshotReply {
    const snapshot = this.snapshot();
    return snapshot.version === known ? { version: snapshot.version } : { version: snapshot.version, snapshot };
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
    const snapshot = this.snapshot();
    let zone = this.zones.get(host);
    if (zone === undefined) {
      if (this.zones.size >= MAX_HOSTS) this.zones.clear();
      zone = zoneOfSnapshot(snapshot, host);
      this.zones.set(host, zone);
    }
    return zone;
  }
}
