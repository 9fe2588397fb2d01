import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { purgeExpired, ENDED_SECRET_RETENTION_MS } from "../../control/accounts/account.ts";
import { accountsDb } from "../../control/accounts/db.ts";
import type { Cluster } from "../../control/cluster/cluster.ts";
import app from "../../control/index.ts";
import { PASSWORD, call, joinAgent, randomAddress, signUp } from "./helpers.ts";

const NEW_PASSWORD = "a different long passphrase";

const login = async (email: string, password: string) => {
  const res = await call("/auth/login", { method: "POST", headers: { "CF-Connecting-IP": randomAddress() }, json: { email, password } });
  return { status: res.status, token: res.status === 200 ? ((await res.json()) as { token: string }).token : "" };
};

interface Session {
  id: string;
  origin: string;
  address: string;
  current: boolean;
}

const sessions = async (token: string) => ((await (await call("/auth/sessions", { token })).json()) as { sessions: Session[] }).sessions;

describe("sessions", () => {
  it("lists the user's sessions with where they came from, marks the current one, and revokes one by id", async () => {
    const account = await signUp();
    const other = await login(account.user.email, PASSWORD);
    const list = await sessions(account.token);
    expect(list).toHaveLength(2);
    expect(list.filter((s) => s.current)).toHaveLength(1);
    expect(list.map((s) => s.origin).sort()).toEqual(["login", "signup"]);
    expect(list.every((s) => /^10\./.test(s.address))).toBe(true);
    const loginSession = list.find((s) => s.origin === "login");
    expect((await call(`/auth/sessions/${loginSession?.id}`, { method: "DELETE", token: account.token })).status).toBe(204);
    expect((await call("/auth/me", { token: other.token })).status).toBe(401);
    expect((await call("/auth/me", { token: account.token })).status).toBe(200);
    // Another user's session id is a 404, and stays alive.
    const stranger = await signUp();
    const theirs = (await sessions(stranger.token))[0]?.id;
    expect((await call(`/auth/sessions/${theirs}`, { method: "DELETE", token: account.token })).status).toBe(404);
    expect((await call("/auth/me", { token: stranger.token })).status).toBe(200);
  });
});

describe("password change", () => {
  it("needs the current password, revokes every other session, keeps this one, and is audited", async () => {
    const account = await signUp();
    const other = await login(account.user.email, PASSWORD);
    const wrong = await call("/auth/password", { method: "POST", token: account.token, json: { currentPassword: "not it at all", newPassword: NEW_PASSWORD } });
    expect(wrong.status).toBe(403);
    const weak = await call("/auth/password", { method: "POST", token: account.token, json: { currentPassword: PASSWORD, newPassword: "short" } });
    expect(weak.status).toBe(422);
    expect((await call("/auth/me", { token: other.token })).status).toBe(200);
    const changed = await call("/auth/password", { method: "POST", token: account.token, json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } });
    expect(changed.status).toBe(204);
    expect((await call("/auth/me", { token: other.token })).status).toBe(401);
    expect((await call("/auth/me", { token: account.token })).status).toBe(200);
    expect((await login(account.user.email, PASSWORD)).status).toBe(401);
    expect((await login(account.user.email, NEW_PASSWORD)).status).toBe(200);
    const audit = (await (await call("/auth/audit", { token: account.token })).json()) as { entries: { action: string }[] };
    expect(audit.entries.map((e) => e.action)).toContain("user.password-change");
  });
});

describe("account deletion", () => {
  it("needs the password, then deletes the user, their clusters' rows and Durable Object storage, and frees the email", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    const stub = env.CLUSTER.getByName(account.cluster.id);
    expect(
      (
        await call(`/c/${account.cluster.id}/v2/apps`, {
          method: "POST",
          token: account.token,
          json: { id: "/gone", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 1 },
        })
      ).status,
    ).toBe(201);
    expect((await call("/auth/account", { method: "DELETE", token: account.token, json: { password: "not the password" } })).status).toBe(403);
    expect((await call("/auth/account", { method: "DELETE", token: account.token, json: { password: PASSWORD } })).status).toBe(204);
    expect((await socket.waitClosed()).code).toBe(4002);
    expect((await call("/auth/me", { token: account.token })).status).toBe(401);
    for (const table of ["users WHERE id", "clusters WHERE owner_id", "api_tokens WHERE user_id"]) {
      const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} = ?`).bind(account.user.id).first<{ n: number }>();
      expect(row?.n, table).toBe(0);
    }
    for (const table of ["cluster_secrets", "memberships", "agent_credentials", "audit_log"]) {
      const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE cluster_id = ?`).bind(account.cluster.id).first<{ n: number }>();
      expect(row?.n, table).toBe(0);
    }
    // The object's storage is empty: no table of the cluster is left.
    await runInDurableObject(stub, (_i: Cluster, state) => {
      const tables = state.storage.sql
        .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'")
        .toArray();
      expect(tables).toEqual([]);
    });
    expect((await call("/auth/signup", { method: "POST", json: { email: account.user.email, password: PASSWORD } })).status).toBe(201);
  });

  it("deletes one cluster, by its owner only", async () => {
    const owner = await signUp();
    expect((await call(`/clusters/${owner.cluster.id}`, { method: "DELETE", token: owner.token })).status).toBe(204);
    expect((await call(`/clusters/${owner.cluster.id}`, { token: owner.token })).status).toBe(404);
    const audit = (await (await call("/auth/audit", { token: owner.token })).json()) as { entries: { action: string; target: string }[] };
    expect(audit.entries).toContainEqual(expect.objectContaining({ action: "cluster.delete", target: owner.cluster.id }));
  });
});

describe("purge of expired rows", () => {
  it("drops expired API tokens, long-ended agent tokens and DNS keys, and old login failures; keeps live ones", async () => {
    const account = await signUp();
    const now = Date.now();
    const old = now - ENDED_SECRET_RETENTION_MS - 1000;
    await env.DB.batch([
      env.DB.prepare("INSERT INTO api_tokens (id, user_id, token_hash, expires_at) VALUES (?1, ?2, ?3, ?4)").bind(
        `exp-${now}`,
        account.user.id,
        `h-${now}`,
        now - 1,
      ),
      env.DB.prepare("INSERT INTO cluster_secrets (id, cluster_id, kind, secret_hash, created_by, revoked_at) VALUES (?1, ?2, 'dns', ?3, ?4, ?5)").bind(
        `rev-${now}`,
        account.cluster.id,
        `s-${now}`,
        account.user.id,
        old,
      ),
      env.DB.prepare("INSERT INTO cluster_secrets (id, cluster_id, kind, secret_hash, created_by, revoked_at) VALUES (?1, ?2, 'dns', ?3, ?4, ?5)").bind(
        `recent-${now}`,
        account.cluster.id,
        `r-${now}`,
        account.user.id,
        now - 1000,
      ),
      env.DB.prepare("INSERT INTO login_failures (email, source, failures, window_start) VALUES (?1, '*', 3, ?2)").bind(account.user.email, now - 3600_000),
    ]);
    await purgeExpired(accountsDb(env.DB), now);
    const count = async (sql: string, arg: string) => (await env.DB.prepare(sql).bind(arg).first<{ n: number }>())?.n;
    expect(await count("SELECT COUNT(*) AS n FROM api_tokens WHERE id = ?", `exp-${now}`)).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM cluster_secrets WHERE id = ?", `rev-${now}`)).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM cluster_secrets WHERE id = ?", `recent-${now}`)).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM login_failures WHERE email = ?", account.user.email)).toBe(0);
    expect((await call("/auth/me", { token: account.token })).status).toBe(200);
  });

  it("runs from the Worker's cron trigger", () => {
    expect(typeof app.scheduled).toBe("function");
  });
});

describe("account-level audit rows are written with their change, or not at all", () => {
  it("a DNS key refused by the quota leaves no audit row; a created and a revoked one leave one each", async () => {
    const account = await signUp();
    const base = `/clusters/${account.cluster.id}`;
    const auditCount = async () =>
      (
        await env.DB.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE cluster_id = ? AND action LIKE 'dns-key.%'")
          .bind(account.cluster.id)
          .first<{ n: number }>()
      )?.n;
    const ids: string[] = [];
    for (let i = 0; i < 20; i++)
      ids.push(((await (await call(`${base}/dns-keys`, { method: "POST", token: account.token, json: {} })).json()) as { id: string }).id);
    expect(await auditCount()).toBe(20);
    expect((await call(`${base}/dns-keys`, { method: "POST", token: account.token, json: {} })).status).toBe(422);
    expect(await auditCount()).toBe(20);
    await call(`${base}/dns-keys/${ids[0]}`, { method: "DELETE", token: account.token });
    await call(`${base}/dns-keys/${ids[0]}`, { method: "DELETE", token: account.token });
    expect(await auditCount()).toBe(21);
    const page = (await (await call(`${base}/audit?limit=5`, { token: account.token })).json()) as {
      entries: { id: string; action: string; actor: { userId: string } }[];
      next: string;
    };
    expect(page.entries).toHaveLength(5);
    expect(page.entries[0]).toMatchObject({ action: "dns-key.revoke", actor: { userId: account.user.id } });
    const next = (await (await call(`${base}/audit?limit=5&before=${page.next}`, { token: account.token })).json()) as { entries: { id: string }[] };
    expect(next.entries).toHaveLength(5);
    expect(next.entries.filter((e) => page.entries.some((p) => p.id === e.id))).toEqual([]);
    expect((await call(`${base}/audit?limit=0`, { token: account.token })).status).toBe(422);
    expect((await call(`${base}/audit?before=junk`, { token: account.token })).status).toBe(422);
  });
});
