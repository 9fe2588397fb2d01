import { DEFAULT_VIP_RANGE, ipv4ToNumber, numberToIpv4, parseCidr, usableAddresses, type Cidr } from "../../../protocol/vips.ts";
import type { ClusterDb } from "../db.ts";
import { appsMentioningVips } from "../frameworks/marathon/apps.ts";
import { vipsOf, type VipLabel } from "../frameworks/marathon/app-vips.ts";
import type { App } from "../frameworks/marathon/app-definition.ts";
import { deleteMeta, getMeta, metaEntries, setMeta } from "../meta.ts";

/**
 * Addresses of named VIPs. Each name gets one address from the cluster's range, as dcos-net
 * allocates them (`dcos_l4lb_lashup_vip_listener.erl` `init_ip`): start at a hash of the name
 * and probe forward past taken addresses. The choice is stored (meta rows `vip_address:<name>`)
 * so it never moves while the name is in use, whatever other names come and go; names no app
 * declares any more are given back only when the range runs out, or the range changes.
 */

const ADDRESS_KEY = "vip_address:";
const RANGE_KEY = "vip_range";

/** The cluster's VIP range (a CIDR block). */
export function vipRange(db: ClusterDb): string {
  return getMeta(db, RANGE_KEY) ?? DEFAULT_VIP_RANGE;
}

/** Named VIPs' stored addresses, by sanitised name. */
export function vipAddresses(db: ClusterDb): Map<string, string> {
  return metaEntries(db, ADDRESS_KEY);
}

/** FNV-1a, 32 bits: a stable spread of names over the range (any stable hash would do). */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(name)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

/**
 * The address for `name`: the first free one from `hash(seed/name) mod size` on, wrapping
 * around; undefined when every usable address of the range is taken. The seed is the cluster's
 * own id: two clusters with agents on one machine (whose VIPs share its loopback) then give the
 * same name different addresses, where dcos-net, one cluster per machine, hashes the name alone.
 */
export function pickAddress(name: string, range: Cidr, taken: ReadonlySet<number>, seed = ""): number | undefined {
  const { first, count } = usableAddresses(range);
  let takenInRange = 0;
  for (const n of taken) if (n >= first && n < first + count) takenInRange++;
  if (takenInRange >= count) return undefined;
  const start = nameHash(`${seed}/${name}`) % count;
  for (let i = 0; i < count; i++) {
    const n = first + ((start + i) % count);
    if (!taken.has(n)) return n;
  }
  return undefined;
}

/** A VIP label that could not get (or may not have) its address, for a 422 at the label. */
export interface VipRefusal {
  label: VipLabel;
  message: string;
}

/** Every VIP the cluster's apps declare, but those of `exceptId`. */
function declaredVips(db: ClusterDb, exceptId?: string): { appId: string; vips: VipLabel[] }[] {
  return appsMentioningVips(db)
    .filter((a) => a.id !== exceptId)
    .map((a) => ({ appId: a.id, vips: vipsOf(a.app) }));
}

/** Addresses IP VIPs of other apps use, which no name may be given. */
function ipVipAddresses(declared: readonly { vips: VipLabel[] }[]): Set<number> {
  const out = new Set<number>();
  for (const { vips } of declared) for (const v of vips) if (v.kind === "ip") out.add(ipv4ToNumber(v.name) ?? -1);
  return out;
}

/** Checks an IP VIP against the range and the named VIPs' addresses. */
function ipVipRefusal(label: VipLabel, range: Cidr, rangeText: string, named: ReadonlyMap<string, string>): VipRefusal | undefined {
  const n = ipv4ToNumber(label.name) ?? -1;
  const { first, count } = usableAddresses(range);
  if (n < first || n >= first + count)
    return { label, message: `${label.name} is outside the cluster's VIP range ${rangeText} (or is its first or last address): agents listen only inside it` };
  for (const [name, ip] of named) if (ip === label.name) return { label, message: `${label.name} is the address of the named VIP '${name}'` };
  return undefined;
}

/**
 * Gives each named VIP of `app` an address (kept if it has one) and checks its IP VIPs, inside
 * the caller's transaction. Returns the first label refused: an IP outside the range or held by
 * a name, or a name for which the range has no address left.
 */
export function assignVipAddresses(db: ClusterDb, app: Pick<App, "id" | "portDefinitions" | "container" | "networks">): VipRefusal | undefined {
  const vips = vipsOf(app);
  if (vips.length === 0) return undefined;
  const rangeText = vipRange(db);
  const range = parseCidr(rangeText);
  if (range === undefined) throw new Error(`stored VIP range '${rangeText}' does not parse`);
  const named = vipAddresses(db);
  for (const label of vips) {
    const refusal = label.kind === "ip" ? ipVipRefusal(label, range, rangeText, named) : undefined;
    if (refusal) return refusal;
  }
  const missing = vips.filter((v) => v.kind === "named" && !named.has(v.name));
  if (missing.length === 0) return undefined;
  const declared = declaredVips(db, app.id);
  return allocate(db, missing, range, rangeText, named, declared, app);
}

function allocate(
  db: ClusterDb,
  missing: readonly VipLabel[],
  range: Cidr,
  rangeText: string,
  named: Map<string, string>,
  declared: { vips: VipLabel[] }[],
  app: Pick<App, "portDefinitions" | "container" | "networks">,
): VipRefusal | undefined {
  const taken = ipVipAddresses([...declared, { vips: vipsOf(app) }]);
  for (const ip of named.values()) taken.add(ipv4ToNumber(ip) ?? -1);
  for (const label of missing) {
    if (named.has(label.name)) continue;
    const seed = getMeta(db, "master_id") ?? "";
    let n = pickAddress(label.name, range, taken, seed);
    if (n === undefined && releaseUnused(db, named, declared, app, taken)) n = pickAddress(label.name, range, taken, seed);
    if (n === undefined) {
      return {
        label,
        message: `the cluster's VIP range ${rangeText} has no address left for '${label.name}' (${named.size} named VIPs hold one); widen it with PATCH /c/<cluster>/dns {"vipRange": ...}`,
      };
    }
    taken.add(n);
    named.set(label.name, numberToIpv4(n));
    setMeta(db, ADDRESS_KEY + label.name, numberToIpv4(n));
  }
  return undefined;
}

/** Gives back the addresses of names no app declares; true when any was freed. */
function releaseUnused(
  db: ClusterDb,
  named: Map<string, string>,
  declared: { vips: VipLabel[] }[],
  app: Pick<App, "portDefinitions" | "container" | "networks">,
  taken: Set<number>,
): boolean {
  const used = new Set<string>();
  for (const { vips } of [...declared, { vips: vipsOf(app) }]) for (const v of vips) if (v.kind === "named") used.add(v.name);
  let freed = false;
  for (const [name, ip] of named) {
    if (used.has(name)) continue;
    deleteMeta(db, ADDRESS_KEY + name);
    named.delete(name);
    taken.delete(ipv4ToNumber(ip) ?? -1);
    freed = true;
  }
  return freed;
}

/**
 * Moves the cluster to a new range: every name's address is dropped and chosen again in the new
 * one, in app order. Returns why the range cannot be taken (an app's IP VIP outside it, or too
 * many names), in which case the caller rolls back.
 */
export function changeVipRange(db: ClusterDb, rangeText: string): string | undefined {
  const range = parseCidr(rangeText);
  if (range === undefined) return `'${rangeText}' is not a CIDR block`;
  for (const name of vipAddresses(db).keys()) deleteMeta(db, ADDRESS_KEY + name);
  setMeta(db, RANGE_KEY, rangeText);
  for (const { id, app } of appsMentioningVips(db)) {
    const refusal = assignVipAddresses(db, app);
    if (refusal) return `app ${id}, label ${refusal.label.key}: ${refusal.message}`;
  }
  return undefined;
}
