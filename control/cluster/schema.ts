import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

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
    /** The role its resources are offered to: `*` (private) or `slave_public` (started with `--public`). */
    role: text("role", { enum: ["*", "slave_public"] })
      .notNull()
      .default("*"),
    /** What the agent lets tasks have of its host (protocol `HostAllowances`); null from agents that do not say, taken as allowing all. */
    allowances: text("allowances", { mode: "json" }),
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

/**
 * Tasks of every framework (tasks.ts owns it). Terminal tasks stay a while for
 * `lastTaskFailure`, `/master/tasks` and logs; `expunged_at` marks those no framework counts.
 */
export const tasks = sqliteTable(
  "tasks",
  {
    id: text("id").primaryKey(),
    framework: text("framework").notNull(),
    /** The framework's group: for Marathon, the app id. */
    group: text("group_id").notNull(),
    version: text("version").notNull(),
    agentId: text("agent_id").notNull(),
    host: text("host").notNull(),
    state: text("state").notNull(),
    ports: text("ports", { mode: "json" }).notNull(),
    resources: text("resources", { mode: "json" }).notNull(),
    message: text("message"),
    healthy: integer("healthy", { mode: "boolean" }),
    stagedAt: real("staged_at").notNull(),
    startedAt: real("started_at"),
    updatedAt: real("updated_at").notNull(),
    /** When the master asked the agent to kill the task (killing is not a state the agent must report). */
    killRequestedAt: real("kill_requested_at"),
    /** Set once a terminal or expunged task no longer counts toward its group. */
    endedAt: real("ended_at"),
  },
  // tasks_group holds ended_at too: a group's live tasks are found without reading its ended ones.
  (t) => [index("tasks_group").on(t.framework, t.group, t.endedAt), index("tasks_agent").on(t.agentId), index("tasks_ended").on(t.endedAt)],
);

/** Status update ids already applied: at-least-once delivery from agents becomes exactly-once here. */
export const appliedUpdates = sqliteTable(
  "applied_updates",
  {
    updateId: text("update_id").primaryKey(),
    appliedAt: real("applied_at").notNull(),
  },
  (t) => [index("applied_updates_at").on(t.appliedAt)],
);

/** Marathon apps (frameworks/marathon/apps.ts owns these). */
export const apps = sqliteTable("apps", {
  id: text("id").primaryKey(),
  version: text("version").notNull(),
  definition: text("definition", { mode: "json" }).notNull(),
  lastScalingAt: text("last_scaling_at").notNull(),
  lastConfigChangeAt: text("last_config_change_at").notNull(),
  /** Launch backoff: the current delay and when the next launch may happen. */
  backoffSeconds: real("backoff_seconds").notNull(),
  delayUntil: real("delay_until"),
  lastTaskFailure: text("last_task_failure", { mode: "json" }),
  /** Why instances wait, from the last allocation round that could not place them all. */
  waiting: text("waiting", { mode: "json" }),
});

export const appVersions = sqliteTable(
  "app_versions",
  {
    appId: text("app_id").notNull(),
    version: text("version").notNull(),
    definition: text("definition", { mode: "json" }).notNull(),
  },
  (t) => [index("app_versions_app").on(t.appId, t.version)],
);

/** Marathon deployments, one app each (frameworks/marathon/deployments.ts owns it). */
export const deployments = sqliteTable(
  "deployments",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").notNull(),
    action: text("action").notNull(),
    version: text("version").notNull(),
    /** The app as it was before, for rollback; null when the deployment created the app. */
    previous: text("previous", { mode: "json" }),
    createdAt: real("created_at").notNull(),
  },
  (t) => [index("deployments_app").on(t.appId)],
);

/** Refuse filters: an agent is not offered to a framework until `until` (Mesos `refuse_seconds`). */
export const offerFilters = sqliteTable(
  "offer_filters",
  {
    framework: text("framework").notNull(),
    agentId: text("agent_id").notNull(),
    until: real("until").notNull(),
  },
  (t) => [primaryKey({ columns: [t.framework, t.agentId] })],
);

/**
 * Health check state per task and check: Marathon's `Health` (frameworks/marathon/health.ts
 * owns it). Kept in storage so a restarted object still knows which tasks are healthy and how
 * many failures each has in a row; rows go with their task when ended tasks are collected.
 */
export const taskHealth = sqliteTable(
  "task_health",
  {
    taskId: text("task_id").notNull(),
    /** Index of the check in the task's app version's `healthChecks`. */
    check: integer("check_index").notNull(),
    alive: integer("alive", { mode: "boolean" }).notNull(),
    consecutiveFailures: integer("consecutive_failures").notNull(),
    firstSuccess: real("first_success"),
    lastSuccess: real("last_success"),
    lastFailure: real("last_failure"),
    lastFailureCause: text("last_failure_cause"),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.check] })],
);

/** The latest result of each readiness check of a task (frameworks/marathon/health.ts owns it). */
export const taskReadiness = sqliteTable(
  "task_readiness",
  {
    taskId: text("task_id").notNull(),
    name: text("name").notNull(),
    ready: integer("ready", { mode: "boolean" }).notNull(),
    /** `{status, contentType, body}` when the check preserves its last response. */
    lastResponse: text("last_response", { mode: "json" }),
    updatedAt: real("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.name] })],
);

/** Metronome's jobs, schedules and runs (frameworks/metronome/store.ts owns these). */
export * from "./frameworks/metronome/schema.ts";

/** External frameworks, their tasks' launch info and the status updates they have not acknowledged. */
export * from "./frameworks/external/schema.ts";

/**
 * Outstanding offers (allocator/offers.ts owns it): what is offered to an external framework
 * is held for it alone until it is used, declined, rescinded or expires.
 */
export const offers = sqliteTable(
  "offers",
  {
    id: text("id").primaryKey(),
    framework: text("framework").notNull(),
    agentId: text("agent_id").notNull(),
    /** `{cpus, mem, disk, gpus, ports: [[begin, end]...]}`. */
    resources: text("resources", { mode: "json" }).notNull(),
    createdAt: real("created_at").notNull(),
    expiresAt: real("expires_at").notNull(),
  },
  (t) => [index("offers_framework").on(t.framework), index("offers_agent").on(t.agentId), index("offers_expires").on(t.expiresAt)],
);

/**
 * The cluster's history (history.ts owns it): a sample per minute, and per hour once the hour
 * is over (the average of its minutes; `samples` says how many there were).
 */
export const history = sqliteTable(
  "history",
  {
    resolution: text("resolution", { enum: ["minute", "hour"] }).notNull(),
    /** Start of the minute or hour, in ms since the epoch. */
    at: integer("at").notNull(),
    samples: integer("samples").notNull(),
    cpusUsed: real("cpus_used").notNull(),
    cpusTotal: real("cpus_total").notNull(),
    memUsed: real("mem_used").notNull(),
    memTotal: real("mem_total").notNull(),
    diskUsed: real("disk_used").notNull(),
    diskTotal: real("disk_total").notNull(),
    deployments: real("deployments").notNull(),
    /** Live tasks by state, and agents by state: `{state: count}`. */
    tasks: text("tasks", { mode: "json" }).notNull(),
    agents: text("agents", { mode: "json" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.resolution, t.at] })],
);

/**
 * Each agent's latest self-check report (diagnostics.ts owns it): the checks as the agent sent
 * them plus the master's clock check, and when it arrived.
 */
export const agentDiagnostics = sqliteTable("agent_diagnostics", {
  agentId: text("agent_id").primaryKey(),
  /** `DiagnosticCheck[]` JSON. */
  checks: text("checks", { mode: "json" }).notNull(),
  reportedAt: real("reported_at").notNull(),
});

/**
 * The cluster's audit log (cluster/audit.ts owns it): every change made through the API or the
 * UI (apps, groups, jobs, agents, settings), written in the change's own transaction, so a
 * change that fails or rolls back leaves no row.
 */
export const audit = sqliteTable(
  "audit",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    /** Who acted: the user, and the id of the API token (session) they acted with. */
    userId: text("user_id"),
    tokenId: text("token_id"),
    action: text("action").notNull(),
    target: text("target"),
    detail: text("detail", { mode: "json" }),
  },
  (t) => [index("audit_at").on(t.at)],
);

/**
 * The cluster's package repositories, in the order packages are looked up (package-repositories.ts
 * owns these): a package name is served by the first repository that has it, as in Cosmos.
 */
export const packageRepositories = sqliteTable("package_repositories", {
  name: text("name").primaryKey(),
  uri: text("uri").notNull().unique(),
  /** 0 is searched first. */
  position: integer("position").notNull(),
  etag: text("etag"),
  /** When the stored packages were last fetched (and changed), and when they were last checked. */
  fetchedAt: integer("fetched_at"),
  checkedAt: integer("checked_at"),
  /** Why the last refresh failed (the stored packages stay in use); null when it worked. */
  lastError: text("last_error"),
});

/** One version of one package of a fetched repository: its Universe definition, as JSON. */
export const packageVersions = sqliteTable(
  "package_versions",
  {
    repository: text("repository").notNull(),
    name: text("name").notNull(),
    version: text("version").notNull(),
    releaseVersion: integer("release_version").notNull(),
    definition: text("definition", { mode: "json" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.repository, t.name, t.version] }), index("package_versions_name").on(t.name)],
);

/**
 * The cluster's secret store (secrets.ts owns it), as DC/OS's secrets service at
 * `/secrets/v1/secret/default/<path>`: values go to tasks whose app names them in `secrets`, and
 * never back out through the API. Durable Object storage is encrypted at rest by the platform.
 */
export const secrets = sqliteTable("secrets", {
  path: text("path").primaryKey(),
  value: text("value").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
