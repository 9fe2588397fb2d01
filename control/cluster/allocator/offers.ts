import { eq } from "drizzle-orm";
import type { ClusterDb } from "../db.ts";
import { offers } from "../schema.ts";
import { jsonParams, type TaskRecord } from "../tasks.ts";
import { FairShare, SCALAR_NAMES, type FrameworkInfo, type Scalars } from "./drf.ts";
import { mergeRanges } from "./ports.ts";
import type { AgentSnapshot, PlacedTask } from "./place.ts";
import { DEFAULT_ROLE } from "./roles.ts";

/**
 * Offers, as Mesos makes them: what an agent has left after the round's placements is offered
 * whole to one framework that takes offers, chosen by DRF (lowest weighted dominant share,
 * counting tasks and outstanding offers), and is held for it alone until it is used
 * (ACCEPT), declined, rescinded (agent gone) or expires. This module owns the `offers` table.
 */

/** What one offer holds: scalars and inclusive port ranges. */
export interface OfferResources extends Scalars {
  ports: [number, number][];
}

export interface OfferRecord {
  id: string;
  framework: string;
  agentId: string;
  resources: OfferResources;
  createdAt: number;
  expiresAt: number;
}

/** An offer with what a framework is told about its agent. */
export interface MadeOffer {
  offer: OfferRecord;
  hostname: string;
  ip: string;
  attributes: Record<string, string | number>;
  /** The role the agent's resources are offered to: `*` (private) or `slave_public` (public). */
  role: string;
}

/** The offer side of a framework's turn (see `FrameworkTurn.offers`). */
export interface OfferTaker {
  /** Whether it wants new offers (subscribed, some role not suppressed). */
  wants: boolean;
  /**
   * Its roles. A private agent's resources (role `*`) go to any framework, as Mesos's
   * unreserved resources do; a public agent's only to one that names `slave_public`.
   */
  roles: readonly string[];
  /** Offers made to it this round, in one batch (one OFFERS event). */
  offered(made: MadeOffer[]): void;
  /** Its offers withdrawn: their agent is gone or they expired. */
  rescinded(offerIds: string[]): void;
}

/** Mesos's smallest offer (`MIN_CPUS`, `MIN_MEM`): less is not worth a framework's time. */
const MIN_CPUS = 0.01;
const MIN_MEM = 32;

/** An offers row as raw SQL returns it: rounds and ACCEPTs read offers, raw, on every call. */
interface RawOffer extends Record<string, SqlStorageValue> {
  id: string;
  framework: string;
  agent_id: string;
  resources: string;
  created_at: number;
  expires_at: number;
}

const fromRaw = (r: RawOffer): OfferRecord => ({
  id: r.id,
  framework: r.framework,
  agentId: r.agent_id,
  resources: JSON.parse(r.resources) as OfferResources,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

const OFFER_COLUMNS = "id, framework, agent_id, resources, created_at, expires_at";

/** Outstanding offers, of one framework or of all. */
export function outstandingOffers(db: ClusterDb, framework?: string): OfferRecord[] {
  const sql = db.$client.sql;
  const rows =
    framework === undefined
      ? sql.exec<RawOffer>(`SELECT ${OFFER_COLUMNS} FROM offers`)
      : sql.exec<RawOffer>(`SELECT ${OFFER_COLUMNS} FROM offers WHERE framework = ?`, framework);
  return rows.toArray().map(fromRaw);
}

/** Scalars and host ports held by outstanding offers, per agent: placement must not use them. */
export function heldByOffers(db: ClusterDb): Map<string, { scalars: Scalars; ports: number[] }> {
  const out = new Map<string, { scalars: Scalars; ports: number[] }>();
  for (const o of outstandingOffers(db)) {
    const held = out.get(o.agentId) ?? { scalars: { cpus: 0, mem: 0, disk: 0, gpus: 0 }, ports: [] };
    for (const name of SCALAR_NAMES) held.scalars[name] += o.resources[name];
    for (const [b, e] of o.resources.ports) for (let p = b; p <= e; p++) held.ports.push(p);
    out.set(o.agentId, held);
  }
  return out;
}

/** The agents with an outstanding offer. */
export function offeredAgents(db: ClusterDb): Set<string> {
  const rows = db.$client.sql.exec<{ agent_id: string }>("SELECT DISTINCT agent_id FROM offers").toArray();
  const out = new Set<string>();
  for (const r of rows) out.add(r.agent_id);
  return out;
}

/**
 * Removes and returns the framework's offers among `ids` (an offer is used once); ids not found
 * are listed. Another framework's offer is no offer of this one: it is left untouched. One
 * statement, the ids as one JSON parameter (a DECLINE may name a thousand).
 */
export function takeOffers(db: ClusterDb, framework: string, ids: string[]): { taken: OfferRecord[]; missing: string[] } {
  const taken = db.$client.sql
    .exec<RawOffer>(
      `DELETE FROM offers WHERE id IN (SELECT value FROM json_each(?)) AND framework = ? RETURNING ${OFFER_COLUMNS}`,
      JSON.stringify([...new Set(ids)]),
      framework,
    )
    .toArray()
    .map(fromRaw);
  const found = new Set(taken.map((o) => o.id));
  return { taken, missing: ids.filter((id) => !found.has(id)) };
}

/** Writes offers, a statement per jsonParams part (a round may offer every agent). */
function insertOffers(db: ClusterDb, rows: readonly OfferRecord[]): void {
  const values = rows.map((o) => [o.id, o.framework, o.agentId, JSON.stringify(o.resources), o.createdAt, o.expiresAt]);
  for (const param of jsonParams(values)) {
    db.$client.sql.exec(
      `INSERT INTO offers (${OFFER_COLUMNS}) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?)`,
      param,
    );
  }
}

/** Removes every offer of a framework (it disconnected or was torn down); no RESCIND is owed. */
export function dropOffers(db: ClusterDb, framework: string): void {
  db.delete(offers).where(eq(offers.framework, framework)).run();
}

/** Removes offers on agents no longer active, or past their time; returns them, to rescind. One statement: every round asks. */
export function staleOffers(db: ClusterDb, now: number): OfferRecord[] {
  return db.$client.sql
    .exec<RawOffer>(
      `DELETE FROM offers WHERE expires_at <= ? OR agent_id NOT IN (SELECT id FROM agents WHERE state = 'active') RETURNING ${OFFER_COLUMNS}`,
      now,
    )
    .toArray()
    .map(fromRaw);
}

/**
 * Whether some active agent could be offered to `framework` now: one its role may take (`*`, or
 * one of `roles`), held by no outstanding offer, and not declined by it (no refuse filter of
 * its until later). Asked in SQL, stopping at the first: a round that finds none ends early,
 * as every round does while a framework answers its offers.
 */
export function offerableTo(db: ClusterDb, framework: string, roles: readonly string[], now: number): boolean {
  return (
    db.$client.sql
      .exec(
        `SELECT 1 FROM agents a WHERE a.state = 'active'
           AND (a.role = ? OR a.role IN (SELECT value FROM json_each(?)))
           AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.agent_id = a.id)
           AND NOT EXISTS (SELECT 1 FROM offer_filters f WHERE f.framework = ? AND f.agent_id = a.id AND f.until > ?)
         LIMIT 1`,
        DEFAULT_ROLE,
        JSON.stringify(roles),
        framework,
        now,
      )
      .toArray().length > 0
  );
}

/** What each agent has left once its tasks, outstanding offers and this round's launches are counted. */
function remainders(agents: readonly AgentSnapshot[], launched: readonly TaskRecord[]): Map<string, OfferResources> {
  const out = new Map<string, OfferResources>();
  const launchedOn = new Map<string, TaskRecord[]>();
  for (const t of launched) launchedOn.set(t.agentId, [...(launchedOn.get(t.agentId) ?? []), t]);
  for (const a of agents) {
    const free: OfferResources = { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: [] };
    const mine = launchedOn.get(a.id) ?? [];
    for (const name of SCALAR_NAMES) free[name] = Math.max(0, a.total[name] - a.used[name] - mine.reduce((s, t) => s + t.resources[name], 0));
    free.ports = freeRanges(a.total.ports, [...a.usedPorts, ...mine.flatMap((t) => t.ports)]);
    out.set(a.id, free);
  }
  return out;
}

/** The ranges minus the used ports. */
export function freeRanges(ranges: readonly (readonly number[])[], used: readonly number[]): [number, number][] {
  const taken = [...new Set(used)].sort((x, y) => x - y);
  const out: [number, number][] = [];
  for (const [b, e] of mergeRanges(ranges)) {
    let start = b;
    for (const p of taken) {
      if (p < start || p > e) continue;
      if (p > start) out.push([start, p - 1]);
      start = p + 1;
    }
    if (start <= e) out.push([start, e]);
  }
  return out;
}

export interface OfferRound {
  now: number;
  timeoutMs: number;
  agents: readonly AgentSnapshot[];
  placed: readonly PlacedTask[];
  launched: readonly TaskRecord[];
  frameworks: readonly FrameworkInfo[];
  takers: readonly { name: string; taker: OfferTaker }[];
}

/**
 * Offers every agent's remainder to one of the frameworks that want offers and have not
 * declined it: the lowest weighted dominant share first (tasks, outstanding offers and the
 * offers made so far in this round all count). Writes the offers and tells each framework.
 */
export function makeOffers(db: ClusterDb, round: OfferRound): void {
  const wanting = round.takers.filter((t) => t.taker.wants);
  if (wanting.length === 0) return;
  const total: Scalars = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
  for (const a of round.agents) for (const name of SCALAR_NAMES) total[name] += a.total[name];
  const fair = new FairShare(total, round.frameworks);
  for (const t of [...round.placed, ...round.launched]) if (t.resources) fair.charge(t.framework, t.resources);
  for (const o of outstandingOffers(db)) fair.charge(o.framework, o.resources);
  const free = remainders(round.agents, round.launched);
  const made = new Map<string, MadeOffer[]>();
  const rows: OfferRecord[] = [];
  for (const agent of round.agents) {
    const resources = free.get(agent.id);
    if (!resources || resources.cpus < MIN_CPUS || resources.mem < MIN_MEM) continue;
    const role = agent.role ?? DEFAULT_ROLE;
    const open = wanting
      .filter((t) => !((agent.refusedUntil?.[t.name] ?? 0) > round.now) && (role === DEFAULT_ROLE || t.taker.roles.includes(role)))
      .map((t) => t.name);
    const name = fair.pick(open);
    if (name === undefined) continue;
    const offer: OfferRecord = {
      id: crypto.randomUUID(),
      framework: name,
      agentId: agent.id,
      resources,
      createdAt: round.now,
      expiresAt: round.now + round.timeoutMs,
    };
    fair.charge(name, resources);
    rows.push(offer);
    made.set(name, [...(made.get(name) ?? []), { offer, hostname: agent.hostname, ip: agent.ip ?? "", attributes: agent.attributes, role }]);
  }
  insertOffers(db, rows);
  for (const { name, taker } of wanting) {
    const list = made.get(name);
    if (list) taker.offered(list);
  }
}
