import { defineConfig } from "drizzle-kit";

/** The Cluster Durable Object's SQLite: migrations bundled into the Worker, applied on construction. */
export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./control/cluster/schema.ts",
  out: "./control/cluster/migrations",
});
