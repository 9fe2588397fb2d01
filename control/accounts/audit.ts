import { and, desc, eq, isNull, lt, lte } from "drizzle-orm";
import type { AccountsDb } from "./db.ts";
import { auditLog } from "./schema.ts";

/** One account-level change: who did what to which cluster (none for a change to the user alone). */
export interface AuditEntry {
  clusterId?: string;
  userId: string;
  action: string;
  target?: string;
  detail?: Record<string, unknown>;
}

/**
 * The audit row of a change, as a statement to run in the same D1 batch (one transaction) as
 * the change itself: either both are written or neither.
 */
export function auditRow(db: AccountsDb, entry: AuditEntry) {
  return db.insert(auditLog).values({
    clusterId: entry.clusterId ?? null,
    userId: entry.userId,
    action: entry.action,
    target: entry.target ?? null,
    detail: entry.detail ? JSON.stringify(entry.detail) : null,
  });
}

/**
 * The audit row of a creation that the same batch may refuse (a quota counted in its INSERT):
 * written only if the row `id` is in `table` by then, so a refused creation leaves no row.
 */
export function auditRowIfCreated(
  d1: D1Database,
  table: "cluster_secrets" | "service_accounts",
  id: string,
  entry: Required<Pick<AuditEntry, "clusterId" | "target">> & AuditEntry,
) {
  return d1
    .prepare(`INSERT INTO audit_log (cluster_id, user_id, action, target) SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM ${table} WHERE id = ?5)`)
    .bind(entry.clusterId, entry.userId, entry.action, entry.target, id);
}

/** An audit row as the API shows it. */
export interface AuditView {
  id: number;
  at: string;
  actor: { userId: string | null; tokenId: string | null };
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
}

/**
 * Audit rows newest first (by time, then id): a cluster's account-level rows at or before
 * `atMost` (ms), or the user's own rows (no cluster) before the id `before`.
 */
export async function auditPage(
  db: AccountsDb,
  scope: { clusterId: string; atMost?: number } | { userId: string; before?: number },
  limit: number,
): Promise<AuditView[]> {
  const where =
    "clusterId" in scope
      ? and(eq(auditLog.clusterId, scope.clusterId), scope.atMost === undefined ? undefined : lte(auditLog.at, scope.atMost + 1))
      : and(eq(auditLog.userId, scope.userId), isNull(auditLog.clusterId), scope.before === undefined ? undefined : lt(auditLog.id, scope.before));
  const rows = await db.select().from(auditLog).where(where).orderBy(desc(auditLog.at), desc(auditLog.id)).limit(limit).all();
  return rows.map((r) => ({
    id: r.id,
    at: new Date(Math.floor(r.at)).toISOString(),
    actor: { userId: r.userId, tokenId: null },
    action: r.action,
    target: r.target,
    detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
  }));
}
