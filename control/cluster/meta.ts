import { eq, sql } from "drizzle-orm";
import type { ClusterDb } from "./db.ts";
import { meta } from "./schema.ts";

/** Small key/value facts and counters of the cluster, owned by this module. */

/**
 * getMeta, setMeta and increment run on every agent's join, every round's bookkeeping and every
 * save of the metrics: raw SQL, since drizzle's query building costs more than these one-row
 * statements.
 */
export function getMeta(db: ClusterDb, key: string): string | undefined {
  return db.$client.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
}

export function setMeta(db: ClusterDb, key: string, value: string): void {
  db.$client.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value).toArray();
}

/** Returns the stored value, storing `make()` first if there is none. */
export function ensureMeta(db: ClusterDb, key: string, make: () => string): string {
  const existing = getMeta(db, key);
  if (existing !== undefined) return existing;
  const value = make();
  db.insert(meta).values({ key, value }).run();
  return value;
}

/** Adds to a counter and returns its new value. */
export function increment(db: ClusterDb, key: string, by = 1): number {
  const row = db.$client.sql
    .exec<{ value: string }>(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ? RETURNING value",
      key,
      String(by),
      by,
    )
    .one();
  return Number(row.value);
}

export function counters(db: ClusterDb, prefix: string): Record<string, number> {
  const rows = db
    .select()
    .from(meta)
    .where(sql`${meta.key} LIKE ${prefix + "%"}`)
    .all();
  return Object.fromEntries(rows.map((r) => [r.key.slice(prefix.length), Number(r.value)]));
}

/** Every key starting with `prefix`, without it, with its value. */
export function metaEntries(db: ClusterDb, prefix: string): Map<string, string> {
  const rows = db
    .select()
    .from(meta)
    .where(sql`${meta.key} LIKE ${prefix.replace(/[%_\\]/g, "\\$&") + "%"} ESCAPE '\\'`)
    .all();
  return new Map(rows.map((r) => [r.key.slice(prefix.length), r.value]));
}

export function deleteMeta(db: ClusterDb, key: string): void {
  db.delete(meta).where(eq(meta.key, key)).run();
}
