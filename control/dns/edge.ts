import { DNS_LEASE_MS } from "../../protocol/index.ts";
import { AnswerCache } from "./answer-cache.ts";
import { messageId, resolve, zoneOfSnapshot, type DnsQuestion, type DnsSnapshot, type DnsSnapshotReply, type Resolution, type ZoneIndex } from "./index.ts";

/**
 * DNS answered by the Worker, from a copy of each cluster's zone snapshot kept in this isolate,
 * so a query costs the cluster's object nothing in the steady state. The rules that keep the
 * answers exact are protocol/dns-lease.ts's:
 *
 * - a copy is used for DNS_LEASE_MS from the start of the request that confirmed it; while
 *   queries keep coming, one of them renews it in the background (REFRESH_AHEAD_MS before it
 *   ends), so the steady state costs about one small request to the object per lease;
 * - a negative answer is only given after a confirmation that began after the question came in;
 * - a change made through this isolate (`forgetDnsSnapshot`, called after every command the
 *   Worker sends to the object) ends the lease at once, so here a kill is seen by the next query.
 *
 * Requests never wait on one another: in workerd a promise made or resolved in one request and
 * awaited in another fails ("Cannot perform I/O on behalf of a different request"), or hangs
 * once the first has ended. They share only the plain data a check leaves behind (the snapshot,
 * built zones), so queries that find the lease run out together (after an idle spell) each check.
 *
 * Why not a cache shared wider: KV is eventually consistent (up to 60 s), the Cache API is per
 * location and only the object's own location could be purged by it, and the object has no
 * channel to every isolate. A lease the object never has to reach is what holds everywhere.
 */

/** A copy's zone for one host, and the wire answers given from it (answer-cache.ts). */
interface HostZone {
  zone: ZoneIndex;
  answers: AnswerCache;
}

/** A confirmed copy: the snapshot, when its lease began, and its zones by host. */
interface Held {
  snapshot: DnsSnapshot;
  leaseStart: number;
  /** Ordinal of the confirmation: a copy confirmed before a local change is not leased. */
  seq: number;
  /**
   * Built zones, not promises of them: a promise made in one request must not be awaited in
   * another. A renewal that finds the same version keeps them (the same snapshot, the same answers).
   */
  zones: Map<string, HostZone>;
}

type Check = (known: string | null, queries: Record<string, number>) => Promise<DnsSnapshotReply>;

/** Clusters whose copy this isolate keeps, and hosts per copy. */
const MAX_CLUSTERS = 1_000;
const MAX_HOSTS = 8;
/** How long before its lease ends a copy in use is renewed in the background. */
const REFRESH_AHEAD_MS = 150;
/** A background renewal not heard of for this long is taken as lost (its request was cancelled). */
const REFRESH_GIVE_UP_MS = 5_000;

/** One cluster's copy in this isolate. */
class EdgeZone {
  private held: Held | undefined;
  private seq = 0;
  /** Confirmations numbered at or below this were begun before a local change. */
  private staleUpTo = 0;
  /** When the background renewal in flight began, if one is. */
  private refreshingSince: number | undefined;
  /** Answers given since the last check, by rcode: sent with the next one for the cluster's metrics. */
  private queries: Record<string, number> = {};

  /** The copy if its lease holds and no local change came after it. */
  leased(now = Date.now()): Held | undefined {
    const held = this.held;
    return held !== undefined && held.seq > this.staleUpTo && now < held.leaseStart + DNS_LEASE_MS ? held : undefined;
  }

  /** Whether the leased copy should be renewed now, in the background; claims the renewal if so. */
  claimRefresh(held: Held, now = Date.now()): boolean {
    if (now < held.leaseStart + DNS_LEASE_MS - REFRESH_AHEAD_MS) return false;
    if (this.refreshingSince !== undefined && now - this.refreshingSince < REFRESH_GIVE_UP_MS) return false;
    this.refreshingSince = now;
    return true;
  }

  refreshed(): void {
    this.refreshingSince = undefined;
  }

  /** A copy confirmed by a request this call begins (or by a later one that already came back). */
  async confirmed(check: Check): Promise<Held> {
    const seq = ++this.seq;
    const leaseStart = Date.now();
    const queries = this.queries;
    this.queries = {};
    return this.apply(await check(this.held?.snapshot.version ?? null, queries), seq, leaseStart);
  }

  /** A change was made through this isolate: no copy confirmed before now may be leased. */
  invalidate(): void {
    this.staleUpTo = this.seq;
  }

  count(result: string): void {
    this.queries[result] = (this.queries[result] ?? 0) + 1;
  }

  get hasQueries(): boolean {
    return Object.keys(this.queries).length > 0;
  }

  /** Takes a reply in; one that began before the copy already held changes nothing. */
  private apply(reply: DnsSnapshotReply, seq: number, leaseStart: number): Held {
    const held = this.held;
    if (held !== undefined && held.seq > seq) return held;
    if (reply.snapshot !== undefined) {
      this.held = { snapshot: reply.snapshot, leaseStart, seq, zones: new Map() };
    } else if (held !== undefined && held.snapshot.version === reply.version) {
      this.held = { ...held, leaseStart, seq };
    } else {
      throw new Error(`the cluster answered version ${reply.version} without its snapshot`);
    }
    return this.held;
  }
}

const edges = new Map<string, EdgeZone>();

function edgeOf(clusterId: string): EdgeZone {
  let edge = edges.get(clusterId);
  if (edge === undefined) {
    if (edges.size >= MAX_CLUSTERS) edges.delete(edges.keys().next().value ?? "");
    edge = new EdgeZone();
    edges.set(clusterId, edge);
  }
  return edge;
}

/** The stub is taken here, not from cluster-stub.ts, which calls forgetDnsSnapshot (no import cycle). */
function checkOf(env: Env, clusterId: string): Check {
  return (known, queries) => env.CLUSTER.getByName(clusterId).dnsSnapshot(known, queries);
}

async function zoneOf(held: Held, host: string): Promise<HostZone> {
  const built = held.zones.get(host);
  if (built !== undefined) return built;
  // Requests that miss together each build it (rare: once per new snapshot and host).
  const zone: HostZone = { zone: await zoneOfSnapshot(held.snapshot, host), answers: new AnswerCache() };
  if (held.zones.size >= MAX_HOSTS) held.zones.clear();
  held.zones.set(host, zone);
  return zone;
}

/** Renews a leased copy in the background when its lease is about to end (see the module comment). */
function renewIfDue(edge: EdgeZone, held: Held, check: () => Check, waitUntil: ((work: Promise<unknown>) => void) | undefined, now = Date.now()): void {
  if (!edge.claimRefresh(held, now)) return;
  const renewal = edge.confirmed(check()).then(
    () => edge.refreshed(),
    () => edge.refreshed(),
  );
  waitUntil?.(renewal);
}

/** NXDOMAIN or NODATA: what must be confirmed before it is said. */
function isNegative(resolution: Resolution): boolean {
  return !resolution.outside && (resolution.rcode === "NXDOMAIN" || resolution.answers.length === 0);
}

/** An answer from the edge, and how long (ms) a resolver downstream may keep it under the lease. */
export interface EdgeAnswer {
  resolution: Resolution;
  leaseMs: number;
  /** The wire answers kept with the copy and host that gave this one. */
  answers: AnswerCache;
}

/**
 * Answers one question for `clusterId` from this isolate's copy of its zone (see the module
 * comment). `waitUntil` keeps a background renewal alive past the response.
 */
export async function edgeResolve(
  env: Env,
  clusterId: string,
  question: DnsQuestion,
  host: string,
  waitUntil?: (work: Promise<unknown>) => void,
): Promise<EdgeAnswer> {
  const edge = edgeOf(clusterId);
  const check = checkOf(env, clusterId);
  let held = edge.leased();
  if (held === undefined) held = await edge.confirmed(check);
  else renewIfDue(edge, held, () => check, waitUntil);
  let zone = await zoneOf(held, host);
  let resolution = resolve(zone.zone, question, Math.random);
  const negative = isNegative(resolution);
  if (negative) {
    held = await edge.confirmed(check);
    zone = await zoneOf(held, host);
    resolution = resolve(zone.zone, question, Math.random);
  }
  edge.count(resolution.outside ? "outside" : resolution.rcode);
  const leaseMs = negative ? 0 : leaseLeft(held);
  return { resolution, leaseMs, answers: zone.answers };
}

const leaseLeft = (held: Held, now = Date.now()) => Math.max(0, held.leaseStart + DNS_LEASE_MS - now);

/**
 * The wire answer kept for a query of these bytes (answer-cache.ts), with the query's id
 * written in, if the leased copy of the cluster's zone has one for `host`; undefined
 * otherwise (no lease, or a question not answered from this copy yet). Only positive answers
 * are kept, so none of them needs a confirmation first.
 */
export function edgeCachedAnswer(
  env: Env,
  clusterId: string,
  host: string,
  queryBytes: Uint8Array,
  waitUntil?: (work: Promise<unknown>) => void,
): { bytes: Uint8Array; ttl: number; leaseMs: number } | undefined {
  const now = Date.now();
  const edge = edges.get(clusterId);
  const held = edge?.leased(now);
  const kept = held?.zones.get(host)?.answers.find(queryBytes);
  if (edge === undefined || held === undefined || kept === undefined) return undefined;
  renewIfDue(edge, held, () => checkOf(env, clusterId), waitUntil, now);
  edge.count("NOERROR");
  return { bytes: kept.take(messageId(queryBytes)), ttl: kept.ttl, leaseMs: leaseLeft(held, now) };
}

/**
 * Ends the lease of this isolate's copy of a cluster's zone: called once a change sent to the
 * cluster's object has been committed, so the next query here sees it.
 */
export function forgetDnsSnapshot(clusterId: string): void {
  edges.get(clusterId)?.invalidate();
}

/** Sends the cluster's object the DNS queries this isolate answered and has not reported yet (before a metrics scrape). */
export async function reportDnsQueries(env: Env, clusterId: string): Promise<void> {
  const edge = edges.get(clusterId);
  if (edge?.hasQueries === true) await edge.confirmed(checkOf(env, clusterId));
}
