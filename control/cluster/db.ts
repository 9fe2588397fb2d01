import { drizzle, type DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import migrations from "./migrations/migrations.js";
import * as schema from "./schema.ts";

/** Drizzle over the object's SQLite; `$client` is the storage, for the few hot paths written in raw SQL. */
export type ClusterDb = DrizzleSqliteDODatabase<typeof schema> & { $client: DurableObjectStorage };

/**
 * Opens the object's SQLite through drizzle and brings its schema up to date. Runs inside
 * `blockConcurrencyWhile` in the constructor, so no event sees a half-migrated database.
 */
export async function openClusterDb(storage: DurableObjectStorage): Promise<ClusterDb> {
  const db = drizzle(storage, { schema });
  await migrate(db, migrations);
  return db;
}
