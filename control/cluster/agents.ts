import { and, eq, ne } from "drizzle-orm";
import { PUBLIC_IP_ATTRIBUTE, PUBLIC_ROLE, type AgentRole, type Attributes, type HostAllowances, type Register, type Resources } from "../../protocol/index.ts";
import type { ClusterDb } from "./db.ts";
import { jsonColumn } from "./sql-json.ts";
import { ensureMeta, increment } from "./meta.ts";
import { agents } from "./schema.ts";

/** The agent registry: who the agents are, what they offer, and whether they are reachable. */

export type AgentState = "active" | "disconnected" | "unreachable";

/** An agent as the rest of the control plane sees it (times in ms since the epoch). */
export interface AgentRecord {
  id: string;
  hostname: string;
  ip: string;
  resources: Resources;
  attributes: Attributes;
  /** `slave_public` for a public agent, `*` for a private one. */
  role: AgentRole;
  /** What it lets tasks have of its host; null when it did not say (an agent from before allowances). */
  allowances: HostAllowances | null;
  version: string;
  state: AgentState;
  registeredAt: number;
  reregisteredAt: number | null;
  disconnectedAt: number | null;
  unreachableAt: number | null;
}

/** Agent ids follow Mesos: `<master id>-S<n>`, so the tail (`S3`) is short and unique in the cluster. */
export function nextAgentId(db: ClusterDb): string {
  const masterId = ensureMeta(db, "master_id", () => crypto.randomUUID());
  const n = increment(db, "seq:agent") - 1;
  return `${masterId}-S${n}`;
}

type Description = Pick<Register, "hostname" | "ip" | "resources" | "attributes" | "role" | "allowances" | "version">;

/** DC/OS public agents carry `public_ip:true`, which constraints, the UI and tools look for; an operator's own value wins. */
const withRole = (role: AgentRole | undefined, attributes: Attributes): Attributes =>
  role === PUBLIC_ROLE ? { [PUBLIC_IP_ATTRIBUTE]: "true", ...attributes } : attributes;

const described = (d: Description) => ({
  hostname: d.hostname,
  ip: d.ip,
  resources: d.resources,
  attributes: withRole(d.role, d.attributes),
  // An agent that sends no role (a private one, or one from before roles) is private.
  role: d.role ?? "*",
  allowances: d.allowances ?? null,
  version: d.version,
});

/** The JSON columns of a description as stored: compared as text to tell whether a re-attach changed them. */
const storedText = (d: ReturnType<typeof described>) => ({
  resources: JSON.stringify(d.resources),
  attributes: JSON.stringify(d.attributes),
  allowances: jsonColumn(d.allowances),
});

/*
 * createAgent, reattachAgent and agentIdForCredential run once per agent connecting, ten thousand
 * times in a reconnect storm: raw SQL, since drizzle's query building costs more than the statements.
 */

/** Stores a newly joined agent, active on the given session. */
export function createAgent(
  db: ClusterDb,
  input: { id: string; credentialHash: string; joinTokenId: string | null; sessionId: string; now: number; description: Description },
): AgentRecord {
  const d = described(input.description);
  const text = storedText(d);
  db.$client.sql.exec(
    `INSERT INTO agents (id, hostname, ip, resources, attributes, role, allowances, version, credential_hash, join_token_id, state, registered_at, session_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)`,
    input.id,
    d.hostname,
    d.ip,
    text.resources,
    text.attributes,
    d.role,
    text.allowances,
    d.version,
    input.credentialHash,
    input.joinTokenId,
    input.now,
    input.sessionId,
  );
  increment(db, "counter:slave_registrations");
  return { id: input.id, ...d, state: "active", registeredAt: input.now, reregisteredAt: null, disconnectedAt: null, unreachableAt: null };
}

/** What a re-attach did: the agent as stored now, and whether it offers anything it did not a moment ago. */
export interface Reattached {
  agent: AgentRecord;
  /** It was not active, or its resources, attributes, role or allowances changed: an allocation round may place on it. */
  offersMore: boolean;
  /** It had been declared unreachable (operators are told it was added again). */
  wasUnreachable: boolean;
}

interface StoredDescription {
  state: AgentState;
  role: string;
  resources: string;
  attributes: string;
  allowances: string | null;
  registered_at: number;
}

/** Re-attaches a known agent on a new session, taking its latest description. */
export function reattachAgent(db: ClusterDb, id: string, sessionId: string, now: number, description: Description): Reattached | undefined {
  const sql = db.$client.sql;
  const before = sql
    .exec<StoredDescription & Record<string, SqlStorageValue>>(
      "SELECT state, role, resources, attributes, allowances, registered_at FROM agents WHERE id = ?",
      id,
    )
    .toArray()[0];
  if (!before) return undefined;
  const d = described(description);
  const text = storedText(d);
  sql.exec(
    `UPDATE agents SET hostname = ?, ip = ?, resources = ?, attributes = ?, role = ?, allowances = ?, version = ?, state = 'active',
       reregistered_at = ?, disconnected_at = NULL, unreachable_at = NULL, session_id = ? WHERE id = ?`,
    d.hostname,
    d.ip,
    text.resources,
    text.attributes,
    d.role,
    text.allowances,
    d.version,
    now,
    sessionId,
    id,
  );
  increment(db, "counter:slave_reregistrations");
  // A reconnect that only replaces the session (the common case in a reconnect storm) must not cost an allocation round.
  const unchanged =
    before.state === "active" &&
    before.role === d.role &&
    before.resources === text.resources &&
    before.attributes === text.attributes &&
    before.allowances === text.allowances;
  const agent: AgentRecord = { id, ...d, state: "active", registeredAt: before.registered_at, reregisteredAt: now, disconnectedAt: null, unreachableAt: null };
  return { agent, offersMore: !unchanged, wasUnreachable: before.state === "unreachable" };
}

/** Every agent's credential hash, for copying them where the Worker checks credentials (D1). */
export function agentCredentialHashes(db: ClusterDb): { agentId: string; credentialHash: string }[] {
  return db.select({ agentId: agents.id, credentialHash: agents.credentialHash }).from(agents).all();
}

export function agentIdForCredential(db: ClusterDb, credentialHash: string): string | undefined {
  return db.$client.sql.exec<{ id: string }>("SELECT id FROM agents WHERE credential_hash = ?", credentialHash).toArray()[0]?.id;
}

/** The columns of an AgentRecord, read raw: rounds list every agent, ACCEPTs read theirs. */
const AGENT_COLUMNS =
  "id, hostname, ip, resources, attributes, role, allowances, version, state, registered_at, reregistered_at, disconnected_at, unreachable_at";

interface RawAgent extends Record<string, SqlStorageValue> {
  id: string;
  hostname: string;
  ip: string;
  resources: string;
  attributes: string;
  role: AgentRole;
  allowances: string | null;
  version: string;
  state: AgentState;
  registered_at: number;
  reregistered_at: number | null;
  disconnected_at: number | null;
  unreachable_at: number | null;
}

/** A raw row as drizzle's json columns would read it (the same JSON.parse of the same text). */
function fromRaw(r: RawAgent): AgentRecord {
  return {
    id: r.id,
    hostname: r.hostname,
    ip: r.ip,
    resources: JSON.parse(r.resources) as Resources,
    attributes: JSON.parse(r.attributes) as Attributes,
    role: r.role,
    allowances: r.allowances === null ? null : (JSON.parse(r.allowances) as HostAllowances | null),
    version: r.version,
    state: r.state,
    registeredAt: r.registered_at,
    reregisteredAt: r.reregistered_at,
    disconnectedAt: r.disconnected_at,
    unreachableAt: r.unreachable_at,
  };
}

export function getAgent(db: ClusterDb, id: string): AgentRecord | undefined {
  const row = db.$client.sql.exec<RawAgent>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ?`, id).toArray()[0];
  return row ? fromRaw(row) : undefined;
}

/**
 * An upper bound of the number of agents, one step down the table's b-tree: rowids are distinct
 * positive integers, so the largest is at least the count (removed agents leave gaps).
 */
export function agentCountBound(db: ClusterDb): number {
  return db.$client.sql.exec<{ top: number | null }>("SELECT max(rowid) AS top FROM agents").one().top ?? 0;
}

/** The session speaking for each connected agent. */
export function activeSessions(db: ClusterDb): Map<string, string> {
  const rows = db.select({ id: agents.id, sessionId: agents.sessionId }).from(agents).where(eq(agents.state, "active")).all();
  return new Map(rows.flatMap((r) => (r.sessionId ? [[r.id, r.sessionId] as [string, string]] : [])));
}

/** How many agents the cluster knows, whatever their state (the reconnect window is sized by it). */
export function countAgents(db: ClusterDb): number {
  return db.$client.sql.exec<{ n: number }>("SELECT count(*) AS n FROM agents").one().n;
}

export function listAgents(db: ClusterDb): AgentRecord[] {
  return db.$client.sql.exec<RawAgent>(`SELECT ${AGENT_COLUMNS} FROM agents ORDER BY registered_at`).toArray().map(fromRaw);
}

export function updateAgentResources(db: ClusterDb, id: string, resources: Resources, attributes?: Attributes): void {
  // New attributes keep the role's marker: the role itself is fixed at registration.
  const role = attributes ? db.select({ role: agents.role }).from(agents).where(eq(agents.id, id)).get()?.role : undefined;
  db.update(agents)
    .set(attributes ? { resources, attributes: withRole(role, attributes) } : { resources })
    .where(eq(agents.id, id))
    .run();
}

/**
 * Marks the agent disconnected when the closed session is the one speaking for it. A close
 * of an older, replaced session changes nothing. Returns whether the state changed.
 */
export function markDisconnected(db: ClusterDb, id: string, sessionId: string, now: number): boolean {
  // Raw SQL: a restart's sweep, or a storm of closes, marks thousands at once.
  const rows = db.$client.sql
    .exec(
      "UPDATE agents SET state = 'disconnected', disconnected_at = ?, session_id = NULL WHERE id = ? AND session_id = ? AND state = 'active' RETURNING id",
      now,
      id,
      sessionId,
    )
    .toArray();
  return rows.length > 0;
}

/** Returns whether the agent was reachable before. */
export function markUnreachable(db: ClusterDb, id: string, now: number): boolean {
  const row = db
    .update(agents)
    .set({ state: "unreachable", unreachableAt: now, sessionId: null })
    .where(and(eq(agents.id, id), ne(agents.state, "unreachable")))
    .returning({ id: agents.id })
    .get();
  if (row) increment(db, "counter:slave_unreachable_completed");
  return row !== undefined;
}

/** Agents whose socket is closed but who are still within the timeout. */
export function disconnectedAgents(db: ClusterDb): { id: string; disconnectedAt: number }[] {
  return db
    .select({ id: agents.id, disconnectedAt: agents.disconnectedAt })
    .from(agents)
    .where(eq(agents.state, "disconnected"))
    .all()
    .map((r) => ({ id: r.id, disconnectedAt: r.disconnectedAt ?? 0 }));
}

/** Forgets an agent: its credential stops working. Returns whether it existed. */
export function deleteAgent(db: ClusterDb, id: string): boolean {
  const row = db.delete(agents).where(eq(agents.id, id)).returning({ id: agents.id }).get();
  if (row) increment(db, "counter:slave_removals");
  return row !== undefined;
}
