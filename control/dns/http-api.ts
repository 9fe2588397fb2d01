import { fqdn, normalizeName } from "./names.ts";
import type { Enumeration, ZoneIndex } from "./zone.ts";

/**
 * The Mesos-DNS HTTP API (`resolver/resolver.go` Rest*), answered from a zone index with
 * Mesos-DNS's JSON shapes: names with trailing dots, ports as strings, and, when nothing
 * matches, one all-empty record rather than an empty list (as Mesos-DNS, whose clients read
 * `[0].ip`).
 */

export interface VersionInfo {
  Service: "Mesos-DNS";
  URL: string;
  Version: string;
}

/** `GET /v1/version`: the Mesos-DNS service name, with DCX's own URL and version. */
export function versionInfo(version: string, url: string): VersionInfo {
  return { Service: "Mesos-DNS", URL: url, Version: `dcx-${version}` };
}

/** Mesos-DNS's `records.Config` as it serialises (field names as in Go, `HttpPort`/`DnsOn`/`HttpOn` tagged). */
export interface MesosDnsConfig {
  RefreshSeconds: number;
  Port: number;
  Timeout: number;
  StateTimeoutSeconds: number;
  ZkDetectionTimeout: number;
  HttpPort: number;
  TTL: number;
  SOASerial: number;
  SOARefresh: number;
  SOARetry: number;
  SOAExpire: number;
  SOAMinttl: number;
  SOAMname: string;
  SOARname: string;
  Masters: string[];
  Resolvers: string[];
  IPSources: string[];
  Zk: string;
  Domain: string;
  File: string;
  Listener: string;
  HTTPListener: string;
  RecurseOn: boolean;
  DnsOn: boolean;
  HttpOn: boolean;
  ExternalOn: boolean;
  EnforceRFC952: boolean;
  EnumerationOn: boolean;
  MesosHTTPSOn: boolean;
  CACertFile: string;
  IAMConfigFile: string;
  MesosAuthentication: string;
}

export interface ConfigOptions {
  /** Upstream resolvers for outside names (DoH URLs); empty when forwarding is off. */
  resolvers: string[];
  /** The control plane's address(es) as `host:port`. */
  masters: string[];
  /** The HTTPS port DoH and this API are served on. */
  port: number;
}

/**
 * `GET /v1/config`. DCX answers from live state, so `RefreshSeconds` is 0; DNS is served over
 * DoH on the control plane's HTTPS port, so `Port` and `HttpPort` are that port; answers carry
 * agent addresses, so `IPSources` is `["host"]`. No credentials are reported.
 */
export function configInfo(zone: ZoneIndex, options: ConfigOptions): MesosDnsConfig {
  const soa = zone.soa.get(zone.zone)?.data;
  const forwarding = options.resolvers.length > 0;
  return {
    RefreshSeconds: 0,
    Port: options.port,
    Timeout: 5,
    StateTimeoutSeconds: 0,
    ZkDetectionTimeout: 0,
    HttpPort: options.port,
    TTL: zone.ttl,
    SOASerial: zone.serial,
    SOARefresh: soa?.refresh ?? 0,
    SOARetry: soa?.retry ?? 0,
    SOAExpire: soa?.expire ?? 0,
    SOAMinttl: soa?.minimum ?? zone.ttl,
    SOAMname: fqdn(soa?.mname ?? `ns1.${zone.zone}`),
    SOARname: fqdn(soa?.rname ?? `root.ns1.${zone.zone}`),
    Masters: options.masters,
    Resolvers: options.resolvers,
    IPSources: ["host"],
    Zk: "",
    Domain: zone.zone,
    File: "",
    Listener: "0.0.0.0",
    HTTPListener: "0.0.0.0",
    RecurseOn: forwarding,
    DnsOn: true,
    HttpOn: true,
    ExternalOn: forwarding,
    EnforceRFC952: false,
    EnumerationOn: true,
    MesosHTTPSOn: true,
    CACertFile: "",
    IAMConfigFile: "",
    MesosAuthentication: "",
  };
}

export interface HostEntry {
  host: string;
  ip: string;
}

export interface ServiceEntry {
  service: string;
  host: string;
  ip: string;
  port: string;
}

/** Addresses of a name, A before AAAA, each list sorted so responses are stable. */
function addresses(zone: ZoneIndex, name: string): string[] {
  const records = zone.records.get(normalizeName(name)) ?? [];
  const of = (type: "A" | "AAAA"): string[] => records.flatMap((r) => (r.type === type ? [r.data] : [])).sort();
  return [...of("A"), ...of("AAAA")];
}

/** `GET /v1/hosts/{host}`: `[{host: "nginx.marathon.mesos.", ip}]`; `[{host: "", ip: ""}]` when none. */
export function hostsOf(zone: ZoneIndex, host: string): HostEntry[] {
  const name = fqdn(host);
  const out = addresses(zone, host).map((ip) => ({ host: name, ip }));
  return out.length > 0 ? out : [{ host: "", ip: "" }];
}

/** Entries for one SRV target: its first A and first AAAA (as Mesos-DNS), the port as a string. */
function targetEntries(zone: ZoneIndex, service: string, target: string, port: number): ServiceEntry[] {
  const ips = addresses(zone, target);
  const picks = [ips.find((ip) => !ip.includes(":")), ips.find((ip) => ip.includes(":"))];
  return picks.flatMap((ip) => (ip === undefined ? [] : [{ service: fqdn(service), host: fqdn(target), ip, port: String(port) }]));
}

function byHostAndPort(a: ServiceEntry, b: ServiceEntry): number {
  return a.service.localeCompare(b.service) || a.host.localeCompare(b.host) || Number(a.port) - Number(b.port);
}

/**
 * `GET /v1/services/{service}`: `[{service: "_nginx._tcp.marathon.mesos.", host, ip, port: "31644"}]`;
 * `[{service: "", host: "", ip: "", port: ""}]` when none.
 */
export function servicesOf(zone: ZoneIndex, service: string): ServiceEntry[] {
  const records = zone.records.get(normalizeName(service)) ?? [];
  const out = records.flatMap((r) => (r.type === "SRV" ? targetEntries(zone, service, r.data.target, r.data.port) : []));
  return out.length > 0 ? out.sort(byHostAndPort) : [{ service: "", host: "", ip: "", port: "" }];
}

/**
 * `GET /v1/hosts/{host}/ports`. Mesos-DNS answers 501 "To be implemented..."; DCX lists the
 * SRV entries of the tasks that own `host` (a task name or canonical name), `[]` when none.
 */
export function hostPortsOf(zone: ZoneIndex, host: string): ServiceEntry[] {
  const name = fqdn(host);
  const out: ServiceEntry[] = [];
  const seen = new Set<string>();
  for (const framework of zone.enumeration.frameworks) {
    for (const task of framework.tasks) {
      if (!task.records.some((r) => r.name === name && (r.rtype === "A" || r.rtype === "AAAA"))) continue;
      for (const r of task.records) {
        // Enumerated SRV hosts are `target.:port` (Mesos-DNS `net.JoinHostPort`).
        const cut = r.host.lastIndexOf(":");
        if (r.rtype !== "SRV" || cut < 0 || seen.has(`${r.name} ${r.host}`)) continue;
        seen.add(`${r.name} ${r.host}`);
        out.push(...targetEntries(zone, r.name, r.host.slice(0, cut), Number(r.host.slice(cut + 1))));
      }
    }
  }
  return out.sort(byHostAndPort);
}

/** `GET /v1/enumerate`: `{frameworks: [{name, tasks: [{name, id, records: [{name, host, rtype}]}]}]}`. */
export function enumerate(zone: ZoneIndex): Enumeration {
  return zone.enumeration;
}
