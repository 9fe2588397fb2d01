/**
 * The record shapes of a DCX zone. They are a subset of `@leichtgewicht/dns-packet`'s `Answer`
 * (same field names), so a record encodes without conversion, but with a required TTL and
 * names kept lowercase without the trailing dot.
 */

export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export type NameRecord = { name: string; type: "A" | "AAAA" | "NS" | "CNAME"; ttl: number; data: string };
export type SrvRecord = { name: string; type: "SRV"; ttl: number; data: SrvData };
export type SoaRecord = { name: string; type: "SOA"; ttl: number; data: SoaData };

/** One resource record the zone can answer with. */
export type DnsRecord = NameRecord | SrvRecord | SoaRecord;

export type DnsRecordType = DnsRecord["type"];

/** A record's data as one string, for de-duplication and the HTTP API (`host:port` for SRV as Mesos-DNS). */
export function recordKey(record: DnsRecord): string {
  switch (record.type) {
    case "SRV":
      return `${record.data.target}:${record.data.port}`;
    case "SOA":
      return `${record.data.mname} ${record.data.rname} ${record.data.serial}`;
    default:
      return record.data;
  }
}
