import { sql } from "drizzle-orm";
import { quotaLimit, quotaMessage } from "../quotas.ts";
import type { ClusterDb } from "./db.ts";
import { prepared } from "./prepared.ts";
import type { Failure } from "./frameworks/marathon/commands.ts";
import { apps } from "./schema.ts";

/**
 * The cluster's quotas (QUOTA_AGENTS, QUOTA_APPS, QUOTA_INSTANCES), checked inside the Cluster
 * object where the counts live. A change is refused only when it raises a count past its limit:
 * a cluster already over a lowered limit keeps working, and may shrink, but not grow.
 */

/** Why a new agent may not join, or undefined when it may (a join-token session's register). */
export function agentQuotaRefusal(db: ClusterDb, env: Env): string | undefined {
  const limit = quotaLimit(env, "agents");
  // This runs on every join, and count(*) walks the whole table (0.7 ms at 1,500 agents, more
  // with each). Rowids are distinct positive integers, so the largest bounds the count from
  // above, and is one step down the table's b-tree: below the limit, the count is too.
  const storage = db.$client.sql;
  if ((storage.exec<{ top: number | null }>("SELECT max(rowid) AS top FROM agents").one().top ?? 0) < limit) return undefined;
  const count = storage.exec<{ n: number }>("SELECT count(*) AS n FROM agents").one().n;
  return count >= limit ? quotaMessage("agents", limit) : undefined;
}

interface AppUsage {
  apps: number;
  instances: number;
}

// Read twice by every user's command (before and after it): built once (prepared.ts).
const usageQuery = (db: ClusterDb) =>
  db
    .select({ apps: sql<number>`count(*)`, instances: sql<number>`coalesce(sum(json_extract(${apps.definition}, '$.instances')), 0)` })
    .from(apps)
    .prepare();

function appUsage(db: ClusterDb): AppUsage {
  const row = prepared(db, usageQuery).get();
  return { apps: row?.apps ?? 0, instances: row?.instances ?? 0 };
}

const over = (quota: "apps" | "instances", limit: number, path: string): Failure => {
  const message = quotaMessage(quota, limit);
  return { ok: false, code: "invalid", message, details: [{ path, errors: [message] }] };
};

/**
 * A guard for the coordinator: called in the transaction before a command, it notes the usage;
 * the checker it returns, called after the command, gives the Failure that rolls the command
 * back when it raised apps or instances past their quota.
 */
export function appQuotaGuard(env: Env): (db: ClusterDb) => () => Failure | undefined {
  return (db) => {
    const before = appUsage(db);
    return () => {
      const after = appUsage(db);
      const maxApps = quotaLimit(env, "apps");
      if (after.apps > maxApps && after.apps > before.apps) return over("apps", maxApps, "/id");
      const maxInstances = quotaLimit(env, "instances");
      if (after.instances > maxInstances && after.instances > before.instances) return over("instances", maxInstances, "/instances");
      return undefined;
    };
  };
}
