import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import type { ClusterDb } from "../../control/cluster/db.ts";
import { prepared } from "../../control/cluster/prepared.ts";
import { getApp, listApps } from "../../control/cluster/frameworks/marathon/apps.ts";
import { summarize } from "../../control/cluster/frameworks/marathon/demand.ts";
import { call, joinAgent, signUp } from "./helpers.ts";

const dbOf = (instance: Cluster) => (instance as unknown as { db: ClusterDb }).db;
const appCount = (db: ClusterDb) => db.$client.sql.exec<{ n: number }>("SELECT count(*) AS n FROM apps").one().n;
const countQuery = (db: ClusterDb) => ({ db, at: Math.random() });

/**
 * The statements of every command and round are built once per object (db.ts `prepared`): a
 * statement built once must still read what is there now, and never another object's rows.
 */
describe("prepared statements", () => {
  it("are built once per object, and read the rows as they are now, inside a transaction and after its rollback", async () => {
    const account = await signUp();
    await joinAgent(account);
    const post = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/one", cmd: "sleep 600", cpus: 0.1, mem: 32 },
    });
    expect(post.status).toBe(201);
    const other = await signUp();
    const otherBuilt = await runInDurableObject(env.CLUSTER.getByName(other.cluster.id), (instance: Cluster) => prepared(dbOf(instance), countQuery));
    await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (instance: Cluster, state) => {
      const db = dbOf(instance);
      const built = prepared(db, countQuery);
      expect(prepared(db, countQuery)).toBe(built);
      expect(built.db).toBe(db);
      expect(otherBuilt.db).not.toBe(db);
      expect(otherBuilt.at).not.toBe(built.at);
      expect(listApps(db).map((a) => a.id)).toEqual(["/one"]);
      expect(() =>
        state.storage.transactionSync(() => {
          db.$client.sql.exec(
            "INSERT INTO apps (id, version, definition, last_scaling_at, last_config_change_at, backoff_seconds) SELECT '/two', version, definition, last_scaling_at, last_config_change_at, backoff_seconds FROM apps WHERE id = '/one'",
          );
          // The statements built before the write see it.
          expect(listApps(db).map((a) => a.id)).toEqual(["/one", "/two"]);
          expect(getApp(db, "/two")?.version).toBe(getApp(db, "/one")?.version);
          throw new Error("roll back");
        }),
      ).toThrow("roll back");
      expect(appCount(db)).toBe(1);
      expect(listApps(db).map((a) => a.id)).toEqual(["/one"]);
      expect(getApp(db, "/two")).toBeUndefined();
    });
  });

  it("a create's raw writes (app, deployment, audit row) keep SQL NULLs and store JSON as drizzle reads it", async () => {
    const account = await signUp();
    const post = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/raw", cmd: "sleep 600", cpus: 0.1, mem: 32, labels: { a: "b" } },
    });
    expect(post.status).toBe(201);
    await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (instance: Cluster) => {
      const db = dbOf(instance);
      const types = db.$client.sql
        .exec<{ f: string; d: string }>("SELECT typeof(last_task_failure) AS f, typeof(delay_until) AS d FROM apps WHERE id = '/raw'")
        .one();
      expect(types).toEqual({ f: "null", d: "null" });
      expect(db.$client.sql.exec<{ p: string }>("SELECT typeof(previous) AS p FROM deployments WHERE app_id = '/raw'").one().p).toBe("null");
      const stored = getApp(db, "/raw");
      expect(stored?.app.labels).toEqual({ a: "b" });
      expect(stored?.lastTaskFailure).toBeNull();
      const row = db.$client.sql
        .exec<{ action: string; target: string; detail: string | null }>("SELECT action, target, detail FROM audit ORDER BY id DESC LIMIT 1")
        .one();
      expect(row.target).toBe("/raw");
      expect(row.detail === null || typeof JSON.parse(row.detail) === "object").toBe(true);
    });
  });

  it("summarize each app with its own version and ready rule, whatever shape was built first", async () => {
    const account = await signUp();
    const agent = await joinAgent(account);
    for (const id of ["/plain", "/checked"]) {
      const body = id === "/plain" ? {} : { healthChecks: [{ protocol: "COMMAND", command: { value: "true" } }] };
      const post = await call(`/c/${account.cluster.id}/v2/apps`, {
        method: "POST",
        token: account.token,
        json: { id, cmd: "sleep 600", cpus: 0.1, mem: 32, ...body },
      });
      expect(post.status).toBe(201);
    }
    const launches = await agent.socket.framesWithin<{ type?: string; tasks?: { taskId: string }[] }>(500);
    const taskIds = launches.filter((f) => f.type === "launch").flatMap((f) => (f.tasks ?? []).map((t) => t.taskId));
    expect(taskIds).toHaveLength(2);
    agent.socket.send({
      type: "status",
      updates: taskIds.map((taskId) => ({ updateId: crypto.randomUUID(), taskId, state: "TASK_RUNNING", timestamp: Date.now() })),
    });
    await agent.socket.nextOfType("ack");
    await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (instance: Cluster) => {
      const db = dbOf(instance);
      const plain = getApp(db, "/plain");
      const checked = getApp(db, "/checked");
      if (!plain || !checked) throw new Error("apps missing");
      // Running and not known unhealthy: ready without checks; not ready until its check passes.
      expect(summarize(db, "/plain", plain.version, { healthy: false, readinessChecks: 0 })).toEqual({
        current: { total: 1, ready: 1 },
        old: { total: 0, ready: 0 },
        killing: 0,
      });
      expect(summarize(db, "/checked", checked.version, { healthy: true, readinessChecks: 0 })).toEqual({
        current: { total: 1, ready: 0 },
        old: { total: 0, ready: 0 },
        killing: 0,
      });
      // Another version's tasks count as old, the same statement with other values.
      expect(summarize(db, "/plain", "2000-01-01T00:00:00.000Z")).toEqual({ current: { total: 0, ready: 0 }, old: { total: 1, ready: 1 }, killing: 0 });
      // A readiness rule asks for ready checks that have not reported: not ready.
      expect(summarize(db, "/plain", plain.version, { healthy: false, readinessChecks: 1 }).current).toEqual({ total: 1, ready: 0 });
    });
  });
});
