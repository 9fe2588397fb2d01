import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema.ts";

export type AccountsDb = ReturnType<typeof openAccountsDb>;

function openAccountsDb(d1: D1Database) {
  return drizzle(d1, { schema });
}

/** One drizzle instance per binding: building one walks the whole schema, and every request needs it. */
const instances = new WeakMap<D1Database, AccountsDb>();

/** The accounts database (D1) with its drizzle schema. */
export function accountsDb(d1: D1Database): AccountsDb {
  let db = instances.get(d1);
  if (!db) {
    db = openAccountsDb(d1);
    instances.set(d1, db);
  }
  return db;
}
