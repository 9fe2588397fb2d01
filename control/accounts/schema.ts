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
  ownerId: text("owner_id")
    .notNull()
    .references(() => users.id),
  createdAt: createdAt(),
});

export const memberships = sqliteTable(
  "memberships",
  {
    clusterId: text("cluster_id")
      .notNull()
      .references(() => clusters.id),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
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
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    tokenHash: text("token_hash").notNull(),
    createdAt: createdAt(),
    expiresAt: integer("expires_at", { mode: "number" }).notNull(),
    /** Where the token was issued: `login`, `signup` or `ui` (a browser session), and from which address and client. */
    origin: text("origin").notNull().default("login"),
    address: text("address").notNull().default(""),
    userAgent: text("user_agent").notNull().default(""),
  },
  (t) => [uniqueIndex("api_tokens_hash").on(t.tokenHash), index("api_tokens_user").on(t.userId), index("api_tokens_expires").on(t.expiresAt)],
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
    clusterId: text("cluster_id")
      .notNull()
      .references(() => clusters.id),
    kind: text("kind", { enum: ["join", "dns"] }).notNull(),
    secretHash: text("secret_hash").notNull(),
    description: text("description").notNull().default(""),
    createdBy: text("created_by")
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
    expiresAt: integer("expires_at", { mode: "number" }),
    revokedAt: integer("revoked_at", { mode: "number" }),
  },
  (t) => [uniqueIndex("cluster_secrets_hash").on(t.secretHash), index("cluster_secrets_cluster").on(t.clusterId, t.kind)],
);

/**
 * Failed logins per (email, client address), and per email from every address (`source` = "*"),
 * for slowing password guessing without letting a stranger lock the owner out (rate-limit.ts).
 */
export const loginFailures = sqliteTable(
  "login_failures",
  {
    email: text("email").notNull(),
    source: text("source").notNull().default("*"),
    failures: integer("failures").notNull(),
    windowStart: integer("window_start", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.email, t.source] }), index("login_failures_window").on(t.windowStart)],
);

/**
 * Each agent's credential (its hash), written by the Cluster object when the agent joins and
 * dropped when it is removed, so the Worker can refuse a wrong credential (agent connect, the
 * agents' DNS endpoint) from D1 without waking the cluster's object. The object's own registry
 * stays the authority: a credential found here is checked again there on connect.
 */
export const agentCredentials = sqliteTable(
  "agent_credentials",
  {
    credentialHash: text("credential_hash").primaryKey(),
    clusterId: text("cluster_id").notNull(),
    agentId: text("agent_id").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("agent_credentials_agent").on(t.clusterId, t.agentId)],
);

export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    clusterId: text("cluster_id"),
    userId: text("user_id"),
    action: text("action").notNull(),
    target: text("target"),
    /** A short JSON object of what changed (never a secret). */
    detail: text("detail"),
    at: createdAt(),
  },
  (t) => [index("audit_log_cluster").on(t.clusterId, t.at)],
);

/**
 * Service accounts: a per-cluster credential for frameworks (Mesos's principal and secret),
 * its secret stored as SHA-256 (service-accounts.ts owns it).
 */
export const serviceAccounts = sqliteTable(
  "service_accounts",
  {
    id: text("id").primaryKey(),
    clusterId: text("cluster_id")
      .notNull()
      .references(() => clusters.id),
    principal: text("principal").notNull(),
    secretHash: text("secret_hash").notNull(),
    description: text("description").notNull().default(""),
    createdBy: text("created_by")
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
    revokedAt: integer("revoked_at", { mode: "number" }),
  },
  (t) => [uniqueIndex("service_accounts_hash").on(t.secretHash), index("service_accounts_cluster").on(t.clusterId, t.principal)],
);
