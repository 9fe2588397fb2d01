import { defineConfig } from "drizzle-kit";

/** D1 migrations: generated SQL files in migrations/, applied by `wrangler d1 migrations apply`. */
export default defineConfig({
  dialect: "sqlite",
  schema: "./control/accounts/schema.ts",
  out: "./migrations",
});
