/** Statements built once per Cluster-object database (db.ts opens it). */
import type { ClusterDb } from "./db.ts";

const preparedQueries = new WeakMap<ClusterDb, Map<unknown, unknown>>();

/**
 * The query `build` makes, built once per database and reused. Building a statement in drizzle
 * (tens of microseconds) costs several times what SQLite spends running a small one, and every
 * command and allocation round runs the same few: a launch waits for all of them. `build` must
 * be a module-level function (it is the cache key) that returns `query.prepare()`, taking its
 * parameters as `sql.placeholder`s.
 */
export function prepared<T>(db: ClusterDb, build: (db: ClusterDb) => T): T {
  let queries = preparedQueries.get(db);
  if (!queries) preparedQueries.set(db, (queries = new Map()));
  let query = queries.get(build) as T | undefined;
  if (query === undefined) queries.set(build, (query = build(db)));
  return query;
}
