import { buildZone, type ZoneAgent, type ZoneIndex, type ZoneTask, type ZoneVip } from "./zone.ts";

/**
 * A versioned copy of what a cluster's zone is built from: its settings and the live agents and
 * tasks. The Cluster object makes one whenever that content changes; the Worker keeps it per
 * isolate and builds the zone itself, so a DNS query needs no request to the object.
 */
export interface DnsSnapshot {
  /** Unique per content and object incarnation: equal versions mean equal content. */
  version: string;
  serial: number;
  zone: string;
  ttl: number;
  agents: ZoneAgent[];
  tasks: ZoneTask[];
  /** Named VIPs and their addresses (`<name>.marathon.l4lb.thisdcos.directory`). */
  vips: ZoneVip[];
}

/** The object's answer to "is this version current?": the new snapshot only when it is not. */
export interface DnsSnapshotReply {
  version: string;
  snapshot?: DnsSnapshot;
}

/** Frameworks listed even without tasks (Mesos-DNS lists every registered one). */
export const ZONE_FRAMEWORKS = ["marathon", "metronome"];

/**
 * The zone of a snapshot as seen through `host`, the control plane's host as the client
 * reached it (the leader and framework names point there: addresses for an IP, else a CNAME).
 */
export function zoneOfSnapshot(snapshot: DnsSnapshot, host: string): Promise<ZoneIndex> {
  const isIp = /^[\d.]+$|:/.test(host);
  return buildZone({
    zone: snapshot.zone,
    ttl: snapshot.ttl,
    serial: snapshot.serial,
    masterHost: isIp ? { ips: [host] } : { name: host, ips: [] },
    agents: snapshot.agents,
    tasks: snapshot.tasks,
    vips: snapshot.vips,
    frameworks: ZONE_FRAMEWORKS,
  });
}
