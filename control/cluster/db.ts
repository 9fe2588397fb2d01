import { drizzle, type DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import migrations from "./migrations/migrations.js";
import * as schema from "./schema.ts";

export type ClusterDb = DrizzleSqliteDODatabase<typeof schema>;

/**
 * Opens the object's SQLite through drizzle and brings its schema up to date. Runs inside
 * `blockConcurrencyWhile` in the constructor, so no event sees a half-migrated database.
 */
export async function openClusterDb(storage: DurableObjectStorage): Promise<ClusterDb> {
  const db = drizzle(storage, { schema });
  await migrate(db, migrations);
  return db;
}
