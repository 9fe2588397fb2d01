import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema.ts";

export type AccountsDb = ReturnType<typeof accountsDb>;

/** The accounts database (D1) with its drizzle schema. */
export function accountsDb(d1: D1Database) {
  return drizzle(d1, { schema });
}
