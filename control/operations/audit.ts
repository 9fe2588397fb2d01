import { auditPage } from "../accounts/audit.ts";
import type { AccountsDb } from "../accounts/db.ts";
import { clusterStub } from "../cluster-stub.ts";

/**
 * A cluster's audit log as `GET /clusters/:id/audit` pages it: the cluster-level changes
 * (apps, groups, jobs, agents, settings: the Cluster object's SQLite) merged with the
 * account-level ones (tokens, keys, the cluster itself: D1), newest first. Entries are
 * ordered by (time in ms, source, id), a total order, and `next` is the last entry's key, so
 * a page never repeats or skips an entry even when the two logs share a millisecond.
 */
export interface AuditEntry {
  /** `c<n>` for a cluster-level row, `a<n>` for an account-level one. */
  id: string;
  at: string;
  source: "cluster" | "account";
  actor: { userId: string | null; tokenId: string | null };
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
}

interface Key {
  at: number;
  source: number;
  id: number;
}

const SOURCE_RANK = { cluster: 1, account: 0 } as const;

const keyOf = (e: AuditEntry): Key => ({ at: Date.parse(e.at), source: SOURCE_RANK[e.source], id: Number(e.id.slice(1)) });
/** Negative when `a` comes first (is newer) in the log, positive when `b` does. */
const compare = (a: Key, b: Key) => b.at - a.at || b.source - a.source || b.id - a.id;

/** The cursor of the page after `e`. */
export const cursorOf = (e: AuditEntry) => {
  const k = keyOf(e);
  return `${k.at}.${k.source}.${k.id}`;
};

/** Reads a cursor; undefined for one that does not parse (the caller answers 422). */
export function parseCursor(cursor: string): Key | undefined {
  const m = /^(\d{1,15})\.([01])\.(\d{1,15})$/.exec(cursor);
  return m ? { at: Number(m[1]), source: Number(m[2]), id: Number(m[3]) } : undefined;
}

/** One page of the merged log, and the cursor of the next (null on the last page). */
export async function clusterAuditPage(env: Env, db: AccountsDb, clusterId: string, limit: number, after?: Key) {
  // Each source gives its newest rows up to the cursor's millisecond; the few of that very millisecond already shown are filtered out below.
  const atMost = after?.at;
  const [cluster, account] = await Promise.all([clusterStub(env, clusterId).auditLog(limit + 50, atMost), auditPage(db, { clusterId, atMost }, limit + 50)]);
  const entries: AuditEntry[] = [
    ...cluster.map((r) => ({
      ...r,
      id: `c${r.id}`,
      source: "cluster" as const,
      detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
    })),
    ...account.map((r) => ({ ...r, id: `a${r.id}`, source: "account" as const })),
  ]
    .filter((e) => after === undefined || compare(after, keyOf(e)) < 0)
    .sort((a, b) => compare(keyOf(a), keyOf(b)))
    .slice(0, limit);
  const last = entries.at(-1);
  return { entries, next: entries.length === limit && last ? cursorOf(last) : null };
}
