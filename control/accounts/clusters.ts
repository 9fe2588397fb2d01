import { and, asc, eq } from "drizzle-orm";
import { newId } from "../crypto.ts";
import { notFound } from "../errors.ts";
import type { AccountsDb } from "./db.ts";
import { clusters, memberships } from "./schema.ts";
import type { ClusterSummary } from "./users.ts";

const summaryColumns = {
  id: clusters.id,
  name: clusters.name,
  role: memberships.role,
  createdAt: clusters.createdAt,
};

function toSummary(row: { id: string; name: string; role: "owner" | "member"; createdAt: number }): ClusterSummary {
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
 * missing one, so ids cannot be probed.
 */
export async function clusterForMember(db: AccountsDb, userId: string, clusterId: string): Promise<ClusterSummary> {
  const row = await db
    .select(summaryColumns)
    .from(memberships)
    .innerJoin(clusters, eq(clusters.id, memberships.clusterId))
    .where(and(eq(memberships.userId, userId), eq(memberships.clusterId, clusterId)))
    .get();
  if (!row) throw notFound(`Cluster '${clusterId}' does not exist.`);
  return toSummary(row);
}

export async function createCluster(db: AccountsDb, userId: string, name: string): Promise<ClusterSummary> {
  const id = newId();
  await db.batch([
    db.insert(clusters).values({ id, name, ownerId: userId }),
    db.insert(memberships).values({ clusterId: id, userId, role: "owner" }),
  ]);
  return clusterForMember(db, userId, id);
}
