import { and, desc, eq, isNull } from "drizzle-orm";
import { hashToken, newId, newToken } from "../crypto.ts";
import { notFound } from "../errors.ts";
import { quotaExceeded, type Quota } from "../quotas.ts";
import { auditRow, auditRowIfCreated } from "./audit.ts";
import type { AccountsDb } from "./db.ts";
import { clusterSecrets } from "./schema.ts";

export type SecretKind = "join" | "dns";

/** What a listing shows of a secret: never the secret itself, which is shown once at creation. */
export interface SecretInfo {
  id: string;
  description: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** `active`, `expired` or `revoked`. */
  status: "active" | "expired" | "revoked";
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function toInfo(row: typeof clusterSecrets.$inferSelect, now: number): SecretInfo {
  const status = row.revokedAt !== null ? "revoked" : row.expiresAt !== null && row.expiresAt <= now ? "expired" : "active";
  return {
    id: row.id,
    description: row.description,
    createdAt: new Date(row.createdAt).toISOString(),
    expiresAt: iso(row.expiresAt),
    revokedAt: iso(row.revokedAt),
    status,
  };
}

const QUOTA_OF: Record<SecretKind, Quota> = { join: "agentTokens", dns: "dnsKeys" };

/**
 * Creates a secret and its audit row in one transaction, unless the cluster already holds
 * `limit` live secrets of the kind: the count and the insert are one statement, so two
 * concurrent creations cannot both slip under the quota.
 */
export async function createSecret(
  db: AccountsDb,
  input: { clusterId: string; kind: SecretKind; createdBy: string; description?: string; expiresInSeconds?: number },
  limit: number,
): Promise<{ id: string; secret: string; info: SecretInfo }> {
  const secret = newToken(input.kind);
  const row = {
    id: newId(),
    clusterId: input.clusterId,
    kind: input.kind,
    secretHash: await hashToken(secret),
    description: input.description ?? "",
    createdBy: input.createdBy,
    createdAt: Date.now(),
    expiresAt: input.expiresInSeconds === undefined ? null : Date.now() + input.expiresInSeconds * 1000,
    revokedAt: null,
  };
  const d1 = db.$client;
  const [inserted] = await d1.batch([
    d1
      .prepare(
        `INSERT INTO cluster_secrets (id, cluster_id, kind, secret_hash, description, created_by, created_at, expires_at, revoked_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL
         WHERE (SELECT COUNT(*) FROM cluster_secrets WHERE cluster_id = ?2 AND kind = ?3 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?7)) < ?9`,
      )
      .bind(row.id, row.clusterId, row.kind, row.secretHash, row.description, row.createdBy, row.createdAt, row.expiresAt, limit),
    auditRowIfCreated(d1, "cluster_secrets", row.id, {
      clusterId: row.clusterId,
      userId: row.createdBy,
      action: `${KIND_NAME[row.kind]}.create`,
      target: row.id,
    }),
  ]);
  if (!inserted?.meta.changes) throw quotaExceeded(QUOTA_OF[input.kind], limit);
  return { id: row.id, secret, info: toInfo(row, Date.now()) };
}

/** What audit rows call each kind. */
const KIND_NAME: Record<SecretKind, string> = { join: "agent-token", dns: "dns-key" };

/** An audit row written only if the secret `id` exists (it was inserted by the statement before it in the batch). */
export async function listSecrets(db: AccountsDb, clusterId: string, kind: SecretKind): Promise<SecretInfo[]> {
  const rows = await db
    .select()
    .from(clusterSecrets)
    .where(and(eq(clusterSecrets.clusterId, clusterId), eq(clusterSecrets.kind, kind)))
    .orderBy(desc(clusterSecrets.createdAt))
    .all();
  const now = Date.now();
  return rows.map((r) => toInfo(r, now));
}

/** Revokes a secret of this cluster, with its audit row in the same batch; revoking twice is harmless. 404 for another cluster's id. */
export async function revokeSecret(db: AccountsDb, clusterId: string, kind: SecretKind, id: string, userId: string): Promise<SecretInfo> {
  const where = and(eq(clusterSecrets.id, id), eq(clusterSecrets.clusterId, clusterId), eq(clusterSecrets.kind, kind));
  const found = await db.select({ revokedAt: clusterSecrets.revokedAt }).from(clusterSecrets).where(where).get();
  if (!found) throw notFound(`${kind === "join" ? "Agent token" : "DNS key"} '${id}' does not exist.`);
  if (found.revokedAt === null) {
    await db.batch([
      db
        .update(clusterSecrets)
        .set({ revokedAt: Date.now() })
        .where(and(where, isNull(clusterSecrets.revokedAt))),
      auditRow(db, { clusterId, userId, action: `${KIND_NAME[kind]}.revoke`, target: id }),
    ]);
  }
  const row = await db.select().from(clusterSecrets).where(where).get();
  if (!row) throw notFound(`${kind === "join" ? "Agent token" : "DNS key"} '${id}' does not exist.`);
  return toInfo(row, Date.now());
}

/**
 * The secret's id if it is a live secret of the given kind for the given cluster. A secret that
 * is unknown, revoked, expired, or belongs to another cluster gives `undefined`, all alike.
 */
export async function resolveSecret(db: AccountsDb, kind: SecretKind, secret: string, clusterId?: string) {
  const row = await db
    .select()
    .from(clusterSecrets)
    .where(and(eq(clusterSecrets.secretHash, await hashToken(secret)), eq(clusterSecrets.kind, kind)))
    .get();
  if (!row || row.revokedAt !== null || (row.expiresAt !== null && row.expiresAt <= Date.now())) return undefined;
  if (clusterId !== undefined && row.clusterId !== clusterId) return undefined;
  return { id: row.id, clusterId: row.clusterId };
}
