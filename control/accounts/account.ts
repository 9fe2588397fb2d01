import { and, desc, eq, gt, inArray, isNotNull, isNull, lt, ne, or } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { hashPassword, verifyPassword } from "../crypto.ts";
import { ApiError, notFound } from "../errors.ts";
import { forgetCachedCredentials } from "./agent-credentials.ts";
import { auditRow } from "./audit.ts";
import { forgetMemberships } from "./clusters.ts";
import type { AccountsDb } from "./db.ts";
import { purgeLoginFailures } from "./rate-limit.ts";
import { agentCredentials, apiTokens, auditLog, clusterSecrets, clusters, memberships, serviceAccounts, users } from "./schema.ts";
import { forgetUserTokens } from "./users.ts";

/** What the owner of an account does to it: sessions, password, deletion; and the purge of what has expired. */

/** A session (every user API token is one: a CLI login, a browser, a signup) as its owner sees it. */
export interface SessionView {
  id: string;
  origin: string;
  address: string;
  userAgent: string;
  createdAt: string;
  expiresAt: string;
  /** Whether this is the token the request came with. */
  current: boolean;
}

/** The user's live sessions, newest first. */
export async function listSessions(db: AccountsDb, userId: string, currentHash: string, now = Date.now()): Promise<SessionView[]> {
  const rows = await db
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.userId, userId), gt(apiTokens.expiresAt, now)))
    .orderBy(desc(apiTokens.createdAt))
    .all();
  return rows.map((r) => ({
    id: r.id,
    origin: r.origin,
    address: r.address,
    userAgent: r.userAgent,
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    current: r.tokenHash === currentHash,
  }));
}

/** Revokes one of the user's sessions (audited); another user's id is a 404, like a missing one. */
export async function revokeSession(db: AccountsDb, userId: string, sessionId: string): Promise<void> {
  const mine = and(eq(apiTokens.id, sessionId), eq(apiTokens.userId, userId));
  const found = await db.select({ id: apiTokens.id }).from(apiTokens).where(mine).get();
  if (!found) throw notFound(`Session '${sessionId}' does not exist.`);
  await db.batch([db.delete(apiTokens).where(mine), auditRow(db, { userId, action: "session.revoke", target: sessionId })]);
  forgetUserTokens(userId);
}

/**
 * Changes the password after checking the current one; every other session of the user is
 * revoked in the same batch (someone who knew the old password may hold one), the one making
 * the change stays.
 */
export async function changePassword(db: AccountsDb, userId: string, currentHash: string, current: string, next: string): Promise<void> {
  const row = await db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId)).get();
  if (!row || !(await verifyPassword(current, row.passwordHash))) {
    throw new ApiError("forbidden", "The current password is not correct.", [{ path: "/currentPassword", errors: ["is not correct"] }]);
  }
  await db.batch([
    db
      .update(users)
      .set({ passwordHash: await hashPassword(next) })
      .where(eq(users.id, userId)),
    db.delete(apiTokens).where(and(eq(apiTokens.userId, userId), ne(apiTokens.tokenHash, currentHash))),
    auditRow(db, { userId, action: "user.password-change" }),
  ]);
  forgetUserTokens(userId);
}

/** Checks the password of a destructive request (deleting the account): a stolen token alone cannot. */
export async function confirmPassword(db: AccountsDb, userId: string, password: string): Promise<void> {
  const row = await db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId)).get();
  if (!row || !(await verifyPassword(password, row.passwordHash))) {
    throw new ApiError("forbidden", "The password is not correct.", [{ path: "/password", errors: ["is not correct"] }]);
  }
}

/** The clusters the user owns (deleted with the account) by id. */
export async function ownedClusters(db: AccountsDb, userId: string): Promise<string[]> {
  return (await db.select({ id: clusters.id }).from(clusters).where(eq(clusters.ownerId, userId)).all()).map((r) => r.id);
}

/** Every D1 row of the given clusters, as statements for one batch (children before parents). */
export function clusterRowDeletes(db: AccountsDb, clusterIds: string[]): BatchItem<"sqlite">[] {
  if (clusterIds.length === 0) return [];
  return [
    db.delete(agentCredentials).where(inArray(agentCredentials.clusterId, clusterIds)),
    db.delete(serviceAccounts).where(inArray(serviceAccounts.clusterId, clusterIds)),
    db.delete(clusterSecrets).where(inArray(clusterSecrets.clusterId, clusterIds)),
    db.delete(memberships).where(inArray(memberships.clusterId, clusterIds)),
    db.delete(auditLog).where(inArray(auditLog.clusterId, clusterIds)),
    db.delete(clusters).where(inArray(clusters.id, clusterIds)),
  ];
}

/**
 * Deletes the user and everything of theirs in D1, in one batch: the clusters they own (their
 * Durable Objects are wiped by the caller first), memberships elsewhere, tokens, audit rows.
 */
export async function deleteUserRows(db: AccountsDb, userId: string, owned: string[]): Promise<void> {
  await db.batch([
    db.delete(memberships).where(eq(memberships.userId, userId)),
    ...clusterRowDeletes(db, owned),
    db.delete(apiTokens).where(eq(apiTokens.userId, userId)),
    // Join tokens and DNS keys they made in others' clusters go with them, as a departed member's keys should.
    db.delete(clusterSecrets).where(eq(clusterSecrets.createdBy, userId)),
    db.delete(serviceAccounts).where(eq(serviceAccounts.createdBy, userId)),
    // Their changes to clusters they did not own stay in those clusters' audit logs, by user id.
    db.delete(auditLog).where(and(eq(auditLog.userId, userId), isNull(auditLog.clusterId))),
    db.delete(users).where(eq(users.id, userId)),
  ]);
  forgetUserTokens(userId);
  forgetMemberships({ userId, clusterIds: owned });
  forgetCachedCredentials(owned);
}

/** Revoked or expired agent tokens and DNS keys stay listed (as such) this long, then are purged. */
export const ENDED_SECRET_RETENTION_MS = 30 * 24 * 3600_000;

/**
 * Purges what has expired: API tokens past their expiry, agent tokens and DNS keys revoked or
 * expired more than ENDED_SECRET_RETENTION_MS ago (service accounts revoked that long ago too), and
 * login-failure windows that have run out.
 * Run by the Worker's cron trigger (wrangler.toml `triggers`).
 */
export async function purgeExpired(db: AccountsDb, now = Date.now()): Promise<void> {
  const before = now - ENDED_SECRET_RETENTION_MS;
  await db.batch([
    db.delete(apiTokens).where(lt(apiTokens.expiresAt, now)),
    db
      .delete(clusterSecrets)
      .where(
        or(
          and(isNotNull(clusterSecrets.revokedAt), lt(clusterSecrets.revokedAt, before)),
          and(isNotNull(clusterSecrets.expiresAt), lt(clusterSecrets.expiresAt, before)),
        ),
      ),
    db.delete(serviceAccounts).where(and(isNotNull(serviceAccounts.revokedAt), lt(serviceAccounts.revokedAt, before))),
    purgeLoginFailures(db, now),
  ]);
}
