import { and, desc, eq, isNull } from "drizzle-orm";
import { hashToken, newId, newToken } from "../crypto.ts";
import { ApiError, notFound } from "../errors.ts";
import { quotaExceeded } from "../quotas.ts";
import { auditRow, auditRowIfCreated } from "./audit.ts";
import type { AccountsDb } from "./db.ts";
import { toSummary } from "./clusters.ts";
import { CREDENTIAL_CACHE, type ClusterSummary } from "./users.ts";
import { AuthCache, type Background } from "./auth-cache.ts";
import { clusters, serviceAccounts } from "./schema.ts";

export { serviceAccounts };

/**
 * Service accounts: a per-cluster credential for frameworks (Mesos's principal and secret).
 * The secret (`dcxs_…`) is shown once and stored as its SHA-256; it authenticates only on its
 * own cluster's scheduler API, as `Authorization: Bearer <secret>` or HTTP Basic
 * `<principal>:<secret>`. Its table is `serviceAccounts` in schema.ts.
 */

/** What a listing shows: never the secret. */
export interface ServiceAccountInfo {
  id: string;
  principal: string;
  description: string;
  createdAt: string;
  revokedAt: string | null;
  status: "active" | "revoked";
}

type Row = typeof serviceAccounts.$inferSelect;
const toInfo = (r: Row): ServiceAccountInfo => ({
  id: r.id,
  principal: r.principal,
  description: r.description,
  createdAt: new Date(r.createdAt).toISOString(),
  revokedAt: r.revokedAt === null ? null : new Date(r.revokedAt).toISOString(),
  status: r.revokedAt === null ? "active" : "revoked",
});

/** Creates a service account; a principal already active in the cluster is a 409. */
/**
 * Creates a service account and its audit row in one transaction, unless the principal is taken
 * on this cluster or the cluster already holds `limit` live accounts (QUOTA_SERVICE_ACCOUNTS):
 * the count and the insert are one statement, so two creations cannot both slip under it.
 */
export async function createServiceAccount(
  db: AccountsDb,
  input: { clusterId: string; principal: string; description?: string; createdBy: string },
  limit: number,
) {
  const taken = await db
    .select({ id: serviceAccounts.id })
    .from(serviceAccounts)
    .where(and(eq(serviceAccounts.clusterId, input.clusterId), eq(serviceAccounts.principal, input.principal), isNull(serviceAccounts.revokedAt)))
    .get();
  if (taken) throw new ApiError("conflict", `A service account with principal '${input.principal}' already exists in this cluster.`);
  const secret = newToken("service");
  const row: Row = {
    id: newId(),
    clusterId: input.clusterId,
    principal: input.principal,
    secretHash: await hashToken(secret),
    description: input.description ?? "",
    createdBy: input.createdBy,
    createdAt: Date.now(),
    revokedAt: null,
  };
  const d1 = db.$client;
  const [inserted] = await d1.batch([
    d1
      .prepare(
        `INSERT INTO service_accounts (id, cluster_id, principal, secret_hash, description, created_by, created_at, revoked_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL
         WHERE (SELECT COUNT(*) FROM service_accounts WHERE cluster_id = ?2 AND revoked_at IS NULL) < ?8`,
      )
      .bind(row.id, row.clusterId, row.principal, row.secretHash, row.description, row.createdBy, row.createdAt, limit),
    auditRowIfCreated(d1, "service_accounts", row.id, { clusterId: row.clusterId, userId: row.createdBy, action: "service-account.create", target: row.id }),
  ]);
  if (!inserted?.meta.changes) throw quotaExceeded("serviceAccounts", limit);
  return { info: toInfo(row), secret };
}

export async function listServiceAccounts(db: AccountsDb, clusterId: string): Promise<ServiceAccountInfo[]> {
  const rows = await db.select().from(serviceAccounts).where(eq(serviceAccounts.clusterId, clusterId)).orderBy(desc(serviceAccounts.createdAt)).all();
  return rows.map(toInfo);
}

/** Revokes one of the cluster's service accounts, audited in the same batch (twice is harmless); another cluster's id is a 404. */
export async function revokeServiceAccount(db: AccountsDb, clusterId: string, id: string, userId: string): Promise<ServiceAccountInfo> {
  const where = and(eq(serviceAccounts.id, id), eq(serviceAccounts.clusterId, clusterId));
  const found = await db.select({ revokedAt: serviceAccounts.revokedAt }).from(serviceAccounts).where(where).get();
  if (!found) throw notFound(`Service account '${id}' does not exist.`);
  if (found.revokedAt === null) {
    await db.batch([
      db
        .update(serviceAccounts)
        .set({ revokedAt: Date.now() })
        .where(and(where, isNull(serviceAccounts.revokedAt))),
      auditRow(db, { clusterId, userId, action: "service-account.revoke", target: id }),
    ]);
  }
  const row = await db.select().from(serviceAccounts).where(where).get();
  if (!row) throw notFound(`Service account '${id}' does not exist.`);
  // Whoever revokes (the API, a package's uninstall), the secret stops working in this isolate at once.
  accountCache.forgetWhere((_key, account) => account?.id === id);
  return toInfo(row);
}

/** The live service account a secret belongs to, on this cluster; anything else (unknown, revoked, another cluster's) is undefined. */
export async function resolveServiceAccount(
  db: AccountsDb,
  secret: string,
  clusterId: string,
): Promise<{ id: string; principal: string; cluster: ClusterSummary } | undefined> {
  const row = await db
    .select({
      id: serviceAccounts.id,
      principal: serviceAccounts.principal,
      revokedAt: serviceAccounts.revokedAt,
      clusterId: clusters.id,
      name: clusters.name,
      createdAt: clusters.createdAt,
    })
    .from(serviceAccounts)
    .innerJoin(clusters, eq(clusters.id, serviceAccounts.clusterId))
    .where(eq(serviceAccounts.secretHash, await hashToken(secret)))
    .get();
  if (!row || row.revokedAt !== null || row.clusterId !== clusterId) return undefined;
  // A framework acts in its cluster as a member does (never as its owner).
  return { id: row.id, principal: row.principal, cluster: toSummary({ id: row.clusterId, name: row.name, role: "member", createdAt: row.createdAt }) };
}

/**
 * Service-account secrets resolved to their account, cached in this isolate: a framework makes
 * a scheduler call per ACCEPT, DECLINE and ACKNOWLEDGE (thousands a minute when busy), and each
 * must not cost a D1 round trip. The revocation bound is the API tokens' (TOKEN_CACHE_TTL_MS),
 * and at once in the isolate that revoked it (`revokeServiceAccount`).
 */
const accountCache = new AuthCache<ServiceAccountAuth>(CREDENTIAL_CACHE);

type ServiceAccountAuth = NonNullable<Awaited<ReturnType<typeof resolveServiceAccount>>>;

/** `resolveServiceAccount` through this isolate's cache; the cluster is part of the key, as a secret is only good on its own. */
export async function cachedServiceAccount(
  db: AccountsDb,
  secret: string,
  clusterId: string,
  background?: Background,
): Promise<ServiceAccountAuth | undefined> {
  const load = async () => (await resolveServiceAccount(db, secret, clusterId)) ?? null;
  return (await accountCache.get(`${clusterId}\n${secret}`, load, { background })) ?? undefined;
}
