import { drizzle, type DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import migrations from "./migrations/migrations.js";
import * as schema from "./schema.ts";

/**
 * Rows the object's SQLite statements have read and written since the object started (both are
 * billed per row on Cloudflare). metrics.ts folds them into its saved counters.
 */
export interface StorageRows {
  read: number;
  written: number;
}

/**
 * Drizzle over the object's SQLite; `$client` is the storage, for the few hot paths written in
 * raw SQL, and `$rows` counts what every statement (drizzle's and raw) read and wrote.
 */
export type ClusterDb = DrizzleSqliteDODatabase<typeof schema> & { $client: DurableObjectStorage; $rows: StorageRows };

/**
 * Opens the object's SQLite through drizzle and brings its schema up to date. Runs inside
 * `blockConcurrencyWhile` in the constructor, so no event sees a half-migrated database.
 */
export async function openClusterDb(storage: DurableObjectStorage): Promise<ClusterDb> {
  const rows: StorageRows = { read: 0, written: 0 };
  const db = Object.assign(drizzle(countingRows(storage, rows), { schema }), { $rows: rows });
  await migrate(db, migrations);
  return db;
}

/**
 * The storage with `sql.exec` counting rows. A cursor's `rowsRead`/`rowsWritten` are final once
 * it is consumed, which every caller here does in the same synchronous run (drizzle's `all`,
 * `run`, `get`; raw `toArray`/`one`), so the cursors of a run are summed in a microtask after it.
 */
function countingRows(storage: DurableObjectStorage, rows: StorageRows): DurableObjectStorage {
  const sql = storage.sql;
  let pending: { rowsRead: number; rowsWritten: number }[] = [];
  const tally = () => {
    for (const cursor of pending) {
      rows.read += cursor.rowsRead;
      rows.written += cursor.rowsWritten;
    }
    pending = [];
  };
  const exec: SqlStorage["exec"] = <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]) => {
    const cursor = sql.exec<T>(query, ...bindings);
    if (pending.push(cursor) === 1) queueMicrotask(tally);
    return cursor;
  };
  const countedSql = withOverride(sql, "exec", exec);
  return withOverride(storage, "sql", countedSql);
}

/** `target` with one property replaced; its methods stay bound to the real object (runtime objects check `this`). */
function withOverride<T extends object, K extends keyof T>(target: T, key: K, value: T[K]): T {
  return new Proxy(target, {
    get(t, property) {
      if (property === key) return value;
      const v: unknown = Reflect.get(t, property, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
}
