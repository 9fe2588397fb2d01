import { and, asc, eq } from "drizzle-orm";
import { newId } from "../crypto.ts";
import { notFound } from "../errors.ts";
import { quotaExceeded } from "../quotas.ts";
import { AuthCache, type Background } from "./auth-cache.ts";
import type { AccountsDb } from "./db.ts";
import { clusters, memberships } from "./schema.ts";
import { CREDENTIAL_CACHE, type ClusterSummary } from "./users.ts";

/**
 * Memberships per isolate, keyed `userId clusterId`: same bound as API tokens. Removing a
 * membership or a cluster in this isolate forgets it at once (forgetMemberships).
 */
const membershipCache = new AuthCache<ClusterSummary>(CREDENTIAL_CACHE);
const membershipKey = (userId: string, clusterId: string) => `${userId} ${clusterId}`;

/** Forgets cached memberships of these clusters, or of this user, after they were deleted. */
export function forgetMemberships(of: { clusterIds?: readonly string[]; userId?: string }): void {
  const clusterIds = new Set(of.clusterIds ?? []);
  membershipCache.forgetWhere((key) => {
    const [userId = "", clusterId = ""] = key.split(" ");
    return clusterIds.has(clusterId) || userId === of.userId;
  });
}

const summaryColumns = {
  id: clusters.id,
  name: clusters.name,
  role: memberships.role,
  createdAt: clusters.createdAt,
};

/** A cluster row as the API shows it to someone with `role` in it. */
export function toSummary(row: { id: string; name: string; role: "owner" | "member"; createdAt: number }): ClusterSummary {
  return { ...row, createdAt: new Date(row.createdAt).toISOString() };
}

/** Clusters the user belongs to, oldest first. */
export async function listClusters(db: AccountsDb, userId: string): Promise<ClusterSummary[]> {
  const rows = await db
    .select(summaryColumns)
    .from(memberships)
    .innerJoin(clusters, eq(clusters.id, memberships.clusterId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(clusters.createdAt))
    .all();
  return rows.map(toSummary);
}

/**
 * The cluster if the user is a member. Another account's cluster is reported exactly like a
 * missing one, so ids cannot be probed. `background`: as for userForToken.
 */
export async function clusterForMember(db: AccountsDb, userId: string, clusterId: string, background?: Background): Promise<ClusterSummary> {
  const load = async () => {
    const row = await db
      .select(summaryColumns)
      .from(memberships)
      .innerJoin(clusters, eq(clusters.id, memberships.clusterId))
      .where(and(eq(memberships.userId, userId), eq(memberships.clusterId, clusterId)))
      .get();
    return row ? toSummary(row) : null;
  };
  const summary = await membershipCache.get(membershipKey(userId, clusterId), load, { background });
  if (!summary) throw notFound(`Cluster '${clusterId}' does not exist.`);
  return summary;
}

/**
 * Creates a cluster owned by the user, its membership and its audit row in one batch, unless
 * the user already owns `limit` clusters: the count and the insert are one statement, and the
 * rows after it are written only if it inserted, so concurrent creations cannot pass the quota.
 */
export async function createCluster(db: AccountsDb, userId: string, name: string, limit: number): Promise<ClusterSummary> {
  const id = newId();
  const d1 = db.$client;
  const ifCreated = "WHERE EXISTS (SELECT 1 FROM clusters WHERE id = ?1)";
  const [inserted] = await d1.batch([
    d1
      .prepare("INSERT INTO clusters (id, name, owner_id) SELECT ?1, ?2, ?3 WHERE (SELECT COUNT(*) FROM clusters WHERE owner_id = ?3) < ?4")
      .bind(id, name, userId, limit),
    d1.prepare(`INSERT INTO memberships (cluster_id, user_id, role) SELECT ?1, ?2, 'owner' ${ifCreated}`).bind(id, userId),
    d1.prepare(`INSERT INTO audit_log (cluster_id, user_id, action, target) SELECT ?1, ?2, 'cluster.create', ?3 ${ifCreated}`).bind(id, userId, name),
  ]);
  if (!inserted?.meta.changes) throw quotaExceeded("clusters", limit);
  return clusterForMember(db, userId, id);
}
