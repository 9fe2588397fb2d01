import { and, eq, lte, sql } from "drizzle-orm";
import { type ClusterDb, prepared } from "../db.ts";
import { offerFilters } from "../schema.ts";

/**
 * Refuse filters (Mesos `Filters.refuse_seconds`): an agent a framework declined is not
 * offered to it again until the filter's time. This module owns the `offer_filters` table.
 */

/** Mesos's default `refuse_seconds`: 5 s. */
export const REFUSE_MS = 5_000;

// Read or written by every allocation round: built once (db.ts `prepared`).
const allFilters = (db: ClusterDb) => db.select().from(offerFilters).prepare();
const frameworkFilters = (db: ClusterDb) =>
  db
    .delete(offerFilters)
    .where(eq(offerFilters.framework, sql.placeholder("framework")))
    .prepare();
const expiredFilters = (db: ClusterDb) =>
  db
    .delete(offerFilters)
    .where(and(lte(offerFilters.until, sql.placeholder("now"))))
    .prepare();

/** Per agent, the frameworks that declined it and until when (ms). */
export function refusedByAgent(db: ClusterDb): Map<string, Record<string, number>> {
  const refused = new Map<string, Record<string, number>>();
  for (const f of prepared(db, allFilters).all()) refused.set(f.agentId, { ...refused.get(f.agentId), [f.framework]: f.until });
  return refused;
}

/** `framework` declines `agentId` until `until`; a later filter replaces an earlier one. */
export function decline(db: ClusterDb, framework: string, agentId: string, until: number): void {
  const row = { framework, agentId, until };
  db.insert(offerFilters)
    .values(row)
    .onConflictDoUpdate({ target: [offerFilters.framework, offerFilters.agentId], set: { until } })
    .run();
}

/** Mesos REVIVE: a framework with new demand is offered every agent again. Also drops expired filters. */
export function revive(db: ClusterDb, framework: string, now: number): void {
  prepared(db, frameworkFilters).run({ framework });
  prepared(db, expiredFilters).run({ now });
}
