import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Accounts live in D1; every secret is stored only as its SHA-256 hash. */

const createdAt = () => integer("created_at", { mode: "number" }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  /** `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`: the count travels with the hash. */
  passwordHash: text("password_hash").notNull(),
  createdAt: createdAt(),
});

export const clusters = sqliteTable("clusters", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  ownerId: text("owner_id").notNull().references(() => users.id),
  createdAt: createdAt(),
});

export const memberships = sqliteTable(
  "memberships",
  {
    clusterId: text("cluster_id").notNull().references(() => clusters.id),
    userId: text("user_id").notNull().references(() => users.id),
    role: text("role", { enum: ["owner", "member"] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.clusterId, t.userId] }), index("memberships_user").on(t.userId)],
);

/** User API tokens, issued by signup and login. */
export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull().references(() => users.id),
    tokenHash: text("token_hash").notNull(),
    createdAt: createdAt(),
    expiresAt: integer("expires_at", { mode: "number" }).notNull(),
  },
  (t) => [uniqueIndex("api_tokens_hash").on(t.tokenHash), index("api_tokens_user").on(t.userId)],
);

/**
 * Secrets scoped to one cluster: agent join tokens (`join`), which let a new machine register
 * as an agent, and DNS keys (`dns`), carried in a DoH URL path because DNS clients cannot
 * send an auth header.
 */
export const clusterSecrets = sqliteTable(
  "cluster_secrets",
  {
    id: text("id").primaryKey(),
    clusterId: text("cluster_id").notNull().references(() => clusters.id),
    kind: text("kind", { enum: ["join", "dns"] }).notNull(),
    secretHash: text("secret_hash").notNull(),
    description: text("description").notNull().default(""),
    createdBy: text("created_by").notNull().references(() => users.id),
    createdAt: createdAt(),
    expiresAt: integer("expires_at", { mode: "number" }),
    revokedAt: integer("revoked_at", { mode: "number" }),
  },
  (t) => [uniqueIndex("cluster_secrets_hash").on(t.secretHash), index("cluster_secrets_cluster").on(t.clusterId, t.kind)],
);

/** Failed logins per email, for rate limiting password guessing. */
export const loginFailures = sqliteTable("login_failures", {
  email: text("email").primaryKey(),
  failures: integer("failures").notNull(),
  windowStart: integer("window_start", { mode: "number" }).notNull(),
});

export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    clusterId: text("cluster_id"),
    userId: text("user_id"),
    action: text("action").notNull(),
    target: text("target"),
    at: createdAt(),
  },
  (t) => [index("audit_log_cluster").on(t.clusterId, t.at)],
);
