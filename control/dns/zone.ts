import type { TaskState } from "../../protocol/index.ts";
import { addressType, agentIdTail, domainFrag, mangleLabel, normalizeName, taskHash } from "./names.ts";
import { recordKey, type DnsRecord, type SoaRecord } from "./records.ts";

/**
 * Builds the zone index a cluster answers from: Mesos-DNS's records (`records/generator.go`)
 * for the cluster zone, and DC/OS's `.directory` names (dcos-net `dcos_dns_mesos.erl`), from a
 * plain snapshot of agents and tasks. No I/O and no clock: the serial comes from the caller.
 */

export const DEFAULT_ZONE = "mesos";
/** DC/OS task TTL (dcos-net `DCOS_DNS_TTL`); answers are live, so a short TTL is the only lag. */
export const DEFAULT_TTL = 5;
/** Authoritative apex for the DC/OS names; the whole of it, so unknown `.directory` names are not forwarded. */
export const DIRECTORY_APEX = "thisdcos.directory";
export const DIRECTORY_DOMAIN = `dcos.${DIRECTORY_APEX}`;
/** Mesos-DNS SOA timers (`records/config.go`); the SOA minimum is the zone TTL. */
export const SOA_REFRESH = 60;
export const SOA_RETRY = 600;
export const SOA_EXPIRE = 86_400;
/** The control plane serves HTTPS; used for `_leader._tcp` and `_framework._tcp` when no port is given. */
export const DEFAULT_MASTER_PORT = 443;

/** Marathon's port protocols (`portDefinitions[].protocol`, `portMappings[].protocol`). */
export type PortProtocol = "tcp" | "udp" | "udp,tcp" | "tcp,udp";

/** A task as DNS sees it. Only RUNNING, not killing, not unhealthy tasks get records. */
export interface ZoneTask {
  id: string;
  /** The Mesos task name, e.g. `web.shop` for Marathon app `/shop/web`. */
  name: string;
  framework: string;
  agentId: string;
  state: TaskState;
  /** Host ports, in the app's port order. */
  ports: number[];
  /** Port names by index (Marathon `portDefinitions[].name` / `portMappings[].name`). */
  portNames?: (string | undefined)[];
  /** Port protocols by index; a missing entry means `tcp`. */
  protocols?: (PortProtocol | undefined)[];
  /** A kill was requested (TASK_KILLING or `killRequestedAt` set): the task leaves DNS at once. */
  killing: boolean;
  /** false once a health check failed: the task leaves DNS; null (no checks) and true stay. */
  healthy: boolean | null;
}

export interface ZoneAgent {
  id: string;
  hostname: string;
  /** IPv4 or IPv6 literal; an agent without one gets no records, nor do its tasks. */
  ip: string;
  /** A port the agent listens on, for `_slave._tcp`; DCX agents connect out, so usually none. */
  port?: number;
}

/** The control plane's own host: leader, master, master0, ns1 and framework names point at it. */
export interface MasterHost {
  /** Its host name, answered as a CNAME when no IPs are known (a Worker rarely knows its own). */
  name?: string;
  ips: string[];
  port?: number;
}

/** A named VIP (Minuteman): its full name, under `l4lb.thisdcos.directory`, and its address. */
export interface ZoneVip {
  fqdn: string;
  ip: string;
}

export interface ZoneInput {
  zone?: string;
  ttl?: number;
  /** SOA serial, e.g. the cluster's state version (taken modulo 2^32). */
  serial: number;
  masterHost: MasterHost;
  agents: ZoneAgent[];
  tasks: ZoneTask[];
  /** Frameworks to list even without running tasks (Mesos-DNS lists every registered one). */
  frameworks?: string[];
  /** Named VIPs, answered whether or not a task is behind them yet, as their address is stable. */
  vips?: ZoneVip[];
}

/** Mesos-DNS `/v1/enumerate` shapes (`records/generator.go` Enumerable*). */
export interface EnumerableRecord {
  name: string;
  host: string;
  rtype: string;
}
export interface EnumerableTask {
  name: string;
  id: string;
  records: EnumerableRecord[];
}
export interface EnumerableFramework {
  name: string;
  tasks: EnumerableTask[];
}
export interface Enumeration {
  frameworks: EnumerableFramework[];
}

/** What `resolve` and the HTTP API answer from. Names are lowercase, without the trailing dot. */
export interface ZoneIndex {
  zone: string;
  ttl: number;
  serial: number;
  masterPort: number;
  /** Authoritative apexes, longest first: the cluster zone and `thisdcos.directory`. */
  apexes: string[];
  records: Map<string, DnsRecord[]>;
  /** Names with no records but with names below them (`_tcp.marathon.mesos`): NODATA, never NXDOMAIN. */
  nonTerminals: Set<string>;
  soa: Map<string, SoaRecord>;
  enumeration: Enumeration;
}

/** Accumulates records with Mesos-DNS's set semantics: a (name, type, data) triple is stored once. */
class ZoneBuilder {
  readonly records = new Map<string, DnsRecord[]>();
  private readonly seen = new Set<string>();
  readonly ttl: number;

  constructor(ttl: number) {
    this.ttl = ttl;
  }

  /** Adds a record; returns it if new (for enumeration), undefined if it was there already. */
  add(record: DnsRecord): DnsRecord | undefined {
    const key = `${record.name}|${record.type}|${recordKey(record)}`;
    if (this.seen.has(key)) return undefined;
    this.seen.add(key);
    const list = this.records.get(record.name);
    if (list) list.push(record);
    else this.records.set(record.name, [record]);
    return record;
  }

  address(name: string, ip: string): DnsRecord | undefined {
    const type = addressType(ip);
    return type ? this.add({ name, type, ttl: this.ttl, data: ip }) : undefined;
  }

  srv(name: string, target: string, port: number): DnsRecord | undefined {
    return this.add({ name, type: "SRV", ttl: this.ttl, data: { priority: 0, weight: 1, port, target } });
  }

  /**
   * The master's addresses under `name`, or a CNAME to its host name when it has none. A host
   * "name" that is an IP literal (`127.0.0.1`, `[::1]` from a URL) is answered as an address.
   */
  master(name: string, host: MasterHost): void {
    const literal = host.name?.replace(/^\[(.*)\]$/, "$1");
    const ips = [...host.ips, ...(literal !== undefined && addressType(literal) ? [literal] : [])].filter((ip) => addressType(ip) !== null);
    for (const ip of ips) this.address(name, ip);
    if (ips.length === 0 && host.name) this.add({ name, type: "CNAME", ttl: this.ttl, data: normalizeName(host.name) });
  }
}

/**
 * Builds the zone index. Async only because the canonical task names need SHA-1, which
 * WebCrypto offers asynchronously; hashes are memoised per task id.
 */
export async function buildZone(input: ZoneInput): Promise<ZoneIndex> {
  const zone = normalizeName(input.zone ?? DEFAULT_ZONE).replace(/^\./, "");
  const ttl = input.ttl ?? DEFAULT_TTL;
  const serial = input.serial >>> 0;
  const masterPort = input.masterHost.port ?? DEFAULT_MASTER_PORT;
  const b = new ZoneBuilder(ttl);
  const apexes = [...new Set([zone, DIRECTORY_APEX])].sort((x, y) => y.length - x.length);
  const soa = new Map<string, SoaRecord>();
  for (const apex of apexes) soa.set(apex, addApex(b, apex, zone, serial));
  addMasters(b, zone, input.masterHost, masterPort);
  addAgents(b, zone, input.agents);
  for (const vip of input.vips ?? []) b.address(normalizeName(vip.fqdn), vip.ip);

  const agents = new Map(input.agents.map((a) => [a.id, a]));
  const live = input.tasks.filter((t) => isDiscoverable(t) && agents.has(t.agentId));
  const hashes = await Promise.all(live.map((t) => taskHash(t.id)));
  const frameworks = new Map<string, EnumerableFramework>();
  for (const name of [...(input.frameworks ?? []), ...input.tasks.map((t) => t.framework)]) {
    if (!frameworks.has(name)) frameworks.set(name, { name, tasks: [] });
  }
  for (const name of frameworks.keys()) addFramework(b, zone, name, input.masterHost, masterPort);
  live.forEach((task, i) => {
    const agent = agents.get(task.agentId);
    if (!agent || addressType(agent.ip) === null) return;
    const records = addTask(b, zone, task, agent.ip, hashes[i] ?? "");
    frameworks.get(task.framework)?.tasks.push({ name: task.name, id: task.id, records });
  });
  return {
    zone,
    ttl,
    serial,
    masterPort,
    apexes,
    records: b.records,
    nonTerminals: nonTerminals(b.records, apexes),
    soa,
    enumeration: { frameworks: [...frameworks.values()] },
  };
}

/** Mesos-DNS serves only TASK_RUNNING; DCX also drops tasks being killed or failing health checks. */
export function isDiscoverable(task: Pick<ZoneTask, "state" | "killing" | "healthy">): boolean {
  return task.state === "TASK_RUNNING" && !task.killing && task.healthy !== false;
}

/** SOA and NS at an apex; `ns1.{zone}` is the name server for both zones. */
function addApex(b: ZoneBuilder, apex: string, zone: string, serial: number): SoaRecord {
  const ns = `ns1.${zone}`;
  const data = { mname: ns, rname: `root.${ns}`, serial, refresh: SOA_REFRESH, retry: SOA_RETRY, expire: SOA_EXPIRE, minimum: b.ttl };
  const record: SoaRecord = { name: apex, type: "SOA", ttl: b.ttl, data };
  b.add(record);
  b.add({ name: apex, type: "NS", ttl: b.ttl, data: ns });
  return record;
}

/** leader, master, master0 and ns1 of the zone, the leader SRVs, and the DC/OS directory's leader/master. */
function addMasters(b: ZoneBuilder, zone: string, host: MasterHost, port: number): void {
  for (const label of ["leader", "master", "master0", "ns1"]) b.master(`${label}.${zone}`, host);
  for (const label of ["leader", "master"]) b.master(`${label}.${DIRECTORY_DOMAIN}`, host);
  for (const proto of ["tcp", "udp"]) b.srv(`_leader._${proto}.${zone}`, `leader.${zone}`, port);
}

/**
 * `slave.{zone}` (every agent) as Mesos-DNS, plus a DCX per-agent name
 * `{hostname as one label}.slave.{zone}`. One label keeps it apart from task names under
 * `.slave`, which always have at least two (`{task}.{framework}.slave`).
 */
function addAgents(b: ZoneBuilder, zone: string, agents: ZoneAgent[]): void {
  for (const agent of agents) {
    if (addressType(agent.ip) === null) continue;
    b.address(`slave.${zone}`, agent.ip);
    const label = mangleLabel(agent.hostname);
    if (label !== "") b.address(`${label}.slave.${zone}`, agent.ip);
    if (agent.port !== undefined) b.srv(`_slave._tcp.${zone}`, `slave.${zone}`, agent.port);
  }
}

/** `{framework}.{zone}` and `_framework._tcp.{framework}.{zone}`: the scheduler is the control plane. */
function addFramework(b: ZoneBuilder, zone: string, framework: string, host: MasterHost, port: number): void {
  const fw = domainFrag(framework);
  if (fw === "") return;
  b.master(`${fw}.${zone}`, host);
  b.srv(`_framework._tcp.${fw}.${zone}`, `${fw}.${zone}`, port);
}

/** Splits Marathon's `udp,tcp` into mangled single protocols; tcp when unset. */
function protocolsOf(protocol: PortProtocol | undefined): string[] {
  return (protocol ?? "tcp")
    .split(",")
    .map((p) => mangleLabel(p))
    .filter((p) => p !== "");
}

/**
 * A task's records, as Mesos-DNS generates them for a task with DiscoveryInfo (Marathon sets
 * it for every task): under the label-mangled name and the raw ("LEGACY") dotted name. Returns
 * the cluster-zone records for `/v1/enumerate`.
 */
function addTask(b: ZoneBuilder, zone: string, task: ZoneTask, ip: string, hash: string): EnumerableRecord[] {
  const fw = domainFrag(task.framework);
  const out: EnumerableRecord[] = [];
  const keep = (record: DnsRecord | undefined): void => {
    if (record) out.push({ name: `${record.name}.`, host: hostOf(record), rtype: record.type });
  };
  if (fw === "") return out;
  const tail = agentIdTail(task.agentId);
  const forms = [...new Set([mangleLabel(task.name), domainFrag(task.name)])].filter((n) => n !== "");
  for (const name of forms) {
    const canonical = `${name}-${hash}-${tail}.${fw}`;
    for (const host of [`${name}.${fw}`, canonical]) {
      keep(b.address(`${host}.${zone}`, ip));
      keep(b.address(`${host}.slave.${zone}`, ip));
    }
    task.ports.forEach((port, i) => {
      // Port resources: both protocols, under `.slave` only when DiscoveryInfo is present.
      for (const proto of ["tcp", "udp"]) keep(b.srv(`_${name}._${proto}.${fw}.slave.${zone}`, `${canonical}.slave.${zone}`, port));
      // DiscoveryInfo ports: by their own protocol, plus `_{portName}.` when the port is named.
      const portName = mangleLabel(task.portNames?.[i] ?? "");
      for (const proto of protocolsOf(task.protocols?.[i])) {
        const service = `_${name}._${proto}.${fw}.${zone}`;
        keep(b.srv(service, `${canonical}.${zone}`, port));
        if (portName !== "") keep(b.srv(`_${portName}.${service}`, `${canonical}.${zone}`, port));
      }
    });
  }
  addDirectoryNames(b, task, ip);
  return out;
}

/**
 * dcos-net task names: `{task}.{framework}.agentip|autoip.dcos.thisdcos.directory`, each part
 * one mangled label. `containerip` needs a task IP, which DCX tasks do not have yet, and
 * `autoip` then falls back to the agent IP (`dcos_dns_mesos.erl`).
 */
function addDirectoryNames(b: ZoneBuilder, task: ZoneTask, ip: string): void {
  const name = mangleLabel(task.name);
  const fw = mangleLabel(task.framework);
  if (name === "" || fw === "") return;
  for (const kind of ["agentip", "autoip"]) b.address(`${name}.${fw}.${kind}.${DIRECTORY_DOMAIN}`, ip);
}

/** Mesos-DNS's `host` in enumerate: the IP, or `target.:port` for SRV (`net.JoinHostPort`). */
function hostOf(record: DnsRecord): string {
  if (record.type === "SRV") return `${record.data.target}.:${record.data.port}`;
  if (record.type === "SOA") return record.data.mname;
  return record.data;
}

/** Every proper ancestor of a named record, down to its apex, that has no records itself. */
function nonTerminals(records: Map<string, DnsRecord[]>, apexes: string[]): Set<string> {
  const out = new Set<string>();
  for (const name of records.keys()) {
    const apex = apexes.find((a) => name === a || name.endsWith(`.${a}`));
    if (apex === undefined) continue;
    let rest = name;
    while (rest !== apex) {
      rest = rest.slice(rest.indexOf(".") + 1);
      if (!records.has(rest)) out.add(rest);
    }
  }
  return out;
}
