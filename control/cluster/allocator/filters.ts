import type { ClusterDb } from "../db.ts";
import { jsonParams } from "../tasks.ts";

/**
 * Refuse filters (Mesos `Filters.refuse_seconds`): an agent a framework declined is not
 * offered to it again until the filter's time. This module owns the `offer_filters` table.
 */

/** Mesos's default `refuse_seconds`: 5 s. */
export const REFUSE_MS = 5_000;

/** Per agent, the frameworks that declined it and until when (ms). Raw SQL: every round reads them all. */
export function refusedByAgent(db: ClusterDb): Map<string, Record<string, number>> {
  const refused = new Map<string, Record<string, number>>();
  const rows = db.$client.sql.exec<{ framework: string; agent_id: string; until: number }>("SELECT framework, agent_id, until FROM offer_filters").toArray();
  for (const f of rows) {
    const byFramework = refused.get(f.agent_id);
    if (byFramework) byFramework[f.framework] = f.until;
    else refused.set(f.agent_id, { [f.framework]: f.until });
  }
  return refused;
}

/** `framework` declines `agentId` until `until`; a later filter replaces an earlier one. */
export function decline(db: ClusterDb, framework: string, agentId: string, until: number): void {
  declineAgents(db, framework, [agentId], until);
}

/**
 * `framework` declines every agent of `agentIds` until `until`, a statement per jsonParams part
 * (the ids travel as one JSON parameter): a DECLINE may name a thousand offers.
 */
export function declineAgents(db: ClusterDb, framework: string, agentIds: readonly string[], until: number): void {
  for (const param of jsonParams(agentIds)) {
    // `WHERE true` keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
    db.$client.sql.exec(
      `INSERT INTO offer_filters (framework, agent_id, until) SELECT ?, value, ? FROM json_each(?) WHERE true
       ON CONFLICT (framework, agent_id) DO UPDATE SET until = excluded.until`,
      framework,
      until,
      param,
    );
  }
}

/** The earliest end, after `now`, of a refuse filter of one of `frameworks`: an agent may be offered to it again then. */
export function firstRefuseEnd(db: ClusterDb, frameworks: readonly string[], now: number): number | null {
  if (frameworks.length === 0) return null;
  return db.$client.sql
    .exec<{ at: number | null }>(
      "SELECT min(until) AS at FROM offer_filters WHERE until > ? AND framework IN (SELECT value FROM json_each(?))",
      now,
      JSON.stringify(frameworks),
    )
    .one().at;
}

/** Mesos REVIVE: a framework with new demand is offered every agent again. Also drops expired filters. */
export function revive(db: ClusterDb, framework: string, now: number): void {
  db.$client.sql.exec("DELETE FROM offer_filters WHERE framework = ?", framework);
  db.$client.sql.exec("DELETE FROM offer_filters WHERE until <= ?", now);
}
