import { and, desc, eq, isNull, lt } from "drizzle-orm";
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

/** An audit row as the API shows it. */
export interface AuditView {
  id: number;
  at: string;
  actor: { userId: string | null };
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
}

/**
 * A page of a cluster's account-level audit rows (or the user's own, without a cluster), newest
 * first; `before` is the id the previous page ended at.
 */
export async function auditPage(db: AccountsDb, scope: { clusterId: string } | { userId: string }, limit: number, before?: number): Promise<AuditView[]> {
  const where = "clusterId" in scope ? eq(auditLog.clusterId, scope.clusterId) : and(eq(auditLog.userId, scope.userId), isNull(auditLog.clusterId));
  const rows = await db
    .select()
    .from(auditLog)
    .where(before === undefined ? where : and(where, lt(auditLog.id, before)))
    .orderBy(desc(auditLog.id))
    .limit(limit)
    .all();
  return rows.map((r) => ({
    id: r.id,
    at: new Date(r.at).toISOString(),
    actor: { userId: r.userId },
    action: r.action,
    target: r.target,
    detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
  }));
}
