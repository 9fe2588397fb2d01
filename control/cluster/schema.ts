import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The Cluster Durable Object's own SQLite. Each capability module owns its tables:
 * agents.ts owns `agents`, timers.ts owns `timers`, meta.ts owns `meta`.
 */

/** Small facts about the cluster: its id, the master id agent ids derive from, counters. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export const agents = sqliteTable(
  "agents",
  {
    id: text("id").primaryKey(),
    hostname: text("hostname").notNull(),
    ip: text("ip").notNull(),
    /** Resources JSON (protocol `Resources`). */
    resources: text("resources", { mode: "json" }).notNull(),
    attributes: text("attributes", { mode: "json" }).notNull(),
    version: text("version").notNull(),
    credentialHash: text("credential_hash").notNull(),
    joinTokenId: text("join_token_id"),
    /** `active` (socket open), `disconnected` (socket closed, within the timeout), `unreachable`. */
    state: text("state", { enum: ["active", "disconnected", "unreachable"] }).notNull(),
    registeredAt: real("registered_at").notNull(),
    reregisteredAt: real("reregistered_at"),
    disconnectedAt: real("disconnected_at"),
    unreachableAt: real("unreachable_at"),
    /** The session whose socket currently speaks for this agent; a stale socket's events are ignored. */
    sessionId: text("session_id"),
  },
  (t) => [index("agents_credential").on(t.credentialHash), index("agents_state").on(t.state)],
);

/** Every deadline of the object; the alarm is always armed for the earliest. */
export const timers = sqliteTable("timers", {
  name: text("name").primaryKey(),
  dueAt: integer("due_at").notNull(),
});
