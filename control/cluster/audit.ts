import { desc, lte } from "drizzle-orm";
import type { ClusterDb } from "./db.ts";
import { jsonColumn } from "./sql-json.ts";
import type { Failure } from "./frameworks/marathon/commands.ts";
import { audit } from "./schema.ts";

/**
 * The cluster's audit log: one row per change made through the API or the UI, written inside
 * the change's own storage transaction. The acting wrapper (acting.ts) names the change just
 * before it runs; the coordinator's guard takes that name when the command's transaction
 * begins and writes the row once the command has succeeded, so a refused or rolled-back
 * change leaves no row, and a row never describes a change that did not happen.
 */

/** Who acts: the user, and the API token (session) they act with. */
export interface Actor {
  userId: string | null;
  tokenId: string | null;
}

/** What a change is called in the log. */
export interface AuditName {
  action: string;
  target: string | null;
  detail?: Record<string, unknown>;
}

/** A row as the object hands it over RPC: `detail` as JSON text (RPC carries no `unknown`). */
export interface AuditView {
  id: number;
  at: string;
  actor: Actor;
  action: string;
  target: string | null;
  detail: string | null;
}

/** Writes one row (inside the caller's transaction). */
export function recordAudit(db: ClusterDb, actor: Actor, name: AuditName, now: number): void {
  // Raw SQL: every change writes a row, and drizzle built the insert anew each time.
  db.$client.sql
    .exec(
      "INSERT INTO audit (at, user_id, token_id, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
      now,
      actor.userId,
      actor.tokenId,
      name.action,
      name.target,
      jsonColumn(name.detail),
    )
    .toArray();
}

/** Rows at or before `atMost` (ms), newest first (by time, then id): one source of the merged, paged log. */
export function auditRows(db: ClusterDb, limit: number, atMost?: number): AuditView[] {
  const rows = db
    .select()
    .from(audit)
    .where(atMost === undefined ? undefined : lte(audit.at, atMost))
    .orderBy(desc(audit.at), desc(audit.id))
    .limit(limit)
    .all();
  return rows.map((r) => ({
    id: r.id,
    at: new Date(r.at).toISOString(),
    actor: { userId: r.userId, tokenId: r.tokenId },
    action: r.action,
    target: r.target,
    detail: jsonColumn(r.detail),
  }));
}

/**
 * The change about to run, named by the acting wrapper and taken by the next transaction.
 * JavaScript runs the wrapper, the command and its transaction in one synchronous stretch, so
 * no other event can take a name meant for another change; the wrapper clears the name
 * afterwards in any case, so a command that failed before its transaction leaves none behind.
 */
export class AuditTrail {
  private next: { actor: Actor; name: AuditName } | undefined;

  /** Runs `call` as the change `name` by `actor`. */
  run<T>(actor: Actor, name: AuditName, call: () => T): T {
    this.next = { actor, name };
    try {
      return call();
    } finally {
      this.next = undefined;
    }
  }

  /** Whether a user's command is about to run (named by the acting wrapper, not yet taken). */
  get acting(): boolean {
    return this.next !== undefined;
  }

  /** Takes the pending name (or nothing), for the transaction starting now. */
  take(): { actor: Actor; name: AuditName } | undefined {
    const pending = this.next;
    this.next = undefined;
    return pending;
  }

  /** The coordinator's guard: the row is written after the command succeeded, in its transaction. */
  readonly guard = (db: ClusterDb): (() => Failure | undefined) => {
    const pending = this.take();
    return () => {
      if (pending) recordAudit(db, pending.actor, pending.name, Date.now());
      return undefined;
    };
  };
}
