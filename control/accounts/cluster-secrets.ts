import { and, desc, eq, isNull } from "drizzle-orm";
import { hashToken, newId, newToken } from "../crypto.ts";
import { notFound } from "../errors.ts";
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

export async function createSecret(
  db: AccountsDb,
  input: { clusterId: string; kind: SecretKind; createdBy: string; description?: string; expiresInSeconds?: number },
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
  await db.insert(clusterSecrets).values(row);
  return { id: row.id, secret, info: toInfo(row, Date.now()) };
}

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

/** Revokes a secret of this cluster; revoking twice is harmless. 404 for another cluster's id. */
export async function revokeSecret(db: AccountsDb, clusterId: string, kind: SecretKind, id: string): Promise<SecretInfo> {
  const where = and(eq(clusterSecrets.id, id), eq(clusterSecrets.clusterId, clusterId), eq(clusterSecrets.kind, kind));
  await db.update(clusterSecrets).set({ revokedAt: Date.now() }).where(and(where, isNull(clusterSecrets.revokedAt)));
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
