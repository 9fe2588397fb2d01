import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { hashToken, newId, newToken } from "../crypto.ts";
import { ApiError, notFound } from "../errors.ts";
import type { AccountsDb } from "./db.ts";
import { clusters, users } from "./schema.ts";

/**
 * Service accounts: a per-cluster credential for frameworks (Mesos's principal and secret).
 * The secret (`dcxs_…`) is shown once and stored as its SHA-256; it authenticates only on its
 * own cluster's scheduler API, as `Authorization: Bearer <secret>` or HTTP Basic
 * `<principal>:<secret>`. The table comes from migrations/0002_service_accounts.sql.
 */
export const serviceAccounts = sqliteTable("service_accounts", {
  id: text("id").primaryKey(),
  clusterId: text("cluster_id").notNull().references(() => clusters.id),
  principal: text("principal").notNull(),
  secretHash: text("secret_hash").notNull(),
  description: text("description").notNull().default(""),
  createdBy: text("created_by").notNull().references(() => users.id),
  createdAt: integer("created_at", { mode: "number" }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
  revokedAt: integer("revoked_at", { mode: "number" }),
});

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
export async function createServiceAccount(db: AccountsDb, input: { clusterId: string; principal: string; description?: string; createdBy: string }) {
  const taken = await db
    .select({ id: serviceAccounts.id })
    .from(serviceAccounts)
    .where(and(eq(serviceAccounts.clusterId, input.clusterId), eq(serviceAccounts.principal, input.principal), isNull(serviceAccounts.revokedAt)))
    .get();
  if (taken) throw new ApiError("conflict", `A service account with principal '${input.principal}' already exists in this cluster.`);
  const secret = newToken("service");
  const row: Row = { id: newId(), clusterId: input.clusterId, principal: input.principal, secretHash: await hashToken(secret), description: input.description ?? "", createdBy: input.createdBy, createdAt: Date.now(), revokedAt: null };
  await db.insert(serviceAccounts).values(row);
  return { info: toInfo(row), secret };
}

export async function listServiceAccounts(db: AccountsDb, clusterId: string): Promise<ServiceAccountInfo[]> {
  const rows = await db.select().from(serviceAccounts).where(eq(serviceAccounts.clusterId, clusterId)).orderBy(desc(serviceAccounts.createdAt)).all();
  return rows.map(toInfo);
}

/** Revokes one of the cluster's service accounts (twice is harmless); another cluster's id is a 404. */
export async function revokeServiceAccount(db: AccountsDb, clusterId: string, id: string): Promise<ServiceAccountInfo> {
  const where = and(eq(serviceAccounts.id, id), eq(serviceAccounts.clusterId, clusterId));
  await db.update(serviceAccounts).set({ revokedAt: Date.now() }).where(and(where, isNull(serviceAccounts.revokedAt)));
  const row = await db.select().from(serviceAccounts).where(where).get();
  if (!row) throw notFound(`Service account '${id}' does not exist.`);
  return toInfo(row);
}

/** The live service account a secret belongs to, on this cluster; anything else (unknown, revoked, another cluster's) is undefined. */
export async function resolveServiceAccount(db: AccountsDb, secret: string, clusterId: string): Promise<{ id: string; principal: string } | undefined> {
  const row = await db.select().from(serviceAccounts).where(eq(serviceAccounts.secretHash, await hashToken(secret))).get();
  if (!row || row.revokedAt !== null || row.clusterId !== clusterId) return undefined;
  return { id: row.id, principal: row.principal };
}
