import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import app from "../../control/index.ts";
import { csrfToken } from "../../control/http/session.ts";
import { type Account, TestSocket, call, joinAgent, joinToken, signUp } from "./helpers.ts";
import { Browser, ORIGIN } from "./ui-helpers.ts";

/**
 * The tenant-isolation matrix, built from the router's own route table (`app.routes`): every
 * route of the Worker, called on another tenant's cluster and objects with a stranger's API
 * token, UI session cookie, agent credential, join token and DNS key. Every answer must be a
 * refusal (401, or 404 exactly as for a missing object; a UI page without a session redirects
 * to the login page; an agent socket closes with 1008), and carry none of the victim's data.
 * A route added later is in the matrix without anyone listing it here.
 */

/** Routes that act only on the caller's own account, or are open to anyone: called too, and must not show the victim's data. */
const SELF_SCOPED = new Set([
  "GET /",
  "GET /health",
  "GET /login",
  "GET /signup",
  "POST /login",
  "POST /signup",
  "POST /logout",
  "GET /ui",
  "POST /ui",
  "POST /auth/signup",
  "POST /auth/login",
  "POST /auth/logout",
  "GET /auth/me",
  "GET /auth/sessions",
  "GET /auth/audit",
  "POST /auth/password",
  "DELETE /auth/account",
  "GET /clusters",
  "POST /clusters",
  "GET /dns/:key/dns-query",
  "POST /dns/:key/dns-query",
  "GET /openapi.json",
  "GET /docs",
]);

interface Victim {
  account: Account;
  agentId: string;
  taskId: string;
  joinTokenId: string;
  dnsKeyId: string;
  sessionId: string;
  deploymentId: string;
  runId: string;
}

/** Marks that appear only in the victim's data, never in a path the stranger sends. */
const SECRET_HOST = "victim-node-7";
const SECRET_IP = "10.77.0.1";
const SECRET_CMD = "victim-secret-command";

async function victimWithEverything(): Promise<Victim> {
  const account = await signUp();
  const base = `/c/${account.cluster.id}`;
  const { agentId, socket } = await joinAgent(account, { hostname: SECRET_HOST, ip: SECRET_IP });
  const created = await call(`${base}/v2/apps`, {
    method: "POST",
    token: account.token,
    json: { id: "/web", cmd: `sleep 1000 # ${SECRET_CMD}`, cpus: 0.1, mem: 16, instances: 1 },
  });
  expect(created.status).toBe(201);
  const deploymentId = created.headers.get("Marathon-Deployment-Id") ?? "";
  const launch = await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
  const taskId = launch.tasks[0]?.taskId ?? "";
  const job = { id: "backup", run: { cmd: `sleep 1 # ${SECRET_CMD}`, cpus: 0.1, mem: 32 }, schedules: [{ id: "nightly", cron: "0 2 * * *", timezone: "UTC" }] };
  const jobRes = await call(`${base}/v1/jobs`, { method: "POST", token: account.token, json: job });
  expect(jobRes.status, await jobRes.clone().text()).toBe(201);
  const run = (await (await call(`${base}/v1/jobs/backup/runs`, { method: "POST", token: account.token, json: {} })).json()) as { id: string };
  const joinTokenId = (await joinToken(account, { description: SECRET_CMD })).id;
  const key = (await (
    await call(`/clusters/${account.cluster.id}/dns-keys`, { method: "POST", token: account.token, json: { description: SECRET_CMD } })
  ).json()) as { id: string };
  const sessions = (await (await call("/auth/sessions", { token: account.token })).json()) as { sessions: { id: string }[] };
  return { account, agentId, taskId, joinTokenId, dnsKeyId: key.id, sessionId: sessions.sessions[0]?.id ?? "", deploymentId, runId: run.id };
}

/** A concrete path for a route pattern, aimed at the victim's objects. */
function concrete(pattern: string, v: Victim, strangerDnsKey: string): string {
  const values: Record<string, string> = {
    cluster: v.account.cluster.id,
    id: pattern.includes("/deployments/") ? v.deploymentId : v.account.cluster.id,
    agentId: v.agentId,
    taskId: v.taskId,
    tokenId: v.joinTokenId,
    keyId: v.dnsKeyId,
    sessionId: v.sessionId,
    jobId: "backup",
    scheduleId: "nightly",
    runId: v.runId,
    host: "web",
    service: "_web._tcp",
    key: strangerDnsKey,
  };
  return pattern
    .replace(/:action\{[^}]*\}/, "actions")
    .replace(/:(\w+)/g, (_, name: string) => values[name] ?? name)
    .replace(/\/\*$/, pattern.includes("/queue/") ? "/web/delay" : "/web");
}

interface Stranger {
  name: string;
  headers: (method: string) => Promise<Record<string, string>>;
}

async function strangers(): Promise<{ list: Stranger[]; dnsKey: string }> {
  const mallory = await signUp();
  const browser = await new Browser().signUp();
  const session = browser.session ?? "";
  const csrf = await csrfToken(session);
  const { credential, socket } = await joinAgent(mallory);
  socket.ws.close();
  const join = await joinToken(mallory);
  const key = (await (await call(`/clusters/${mallory.cluster.id}/dns-keys`, { method: "POST", token: mallory.token, json: {} })).json()) as { key: string };
  const bearer = (t: string) => async () => ({ Authorization: `Bearer ${t}` });
  return {
    dnsKey: key.key,
    list: [
      { name: "API token", headers: bearer(mallory.token) },
      { name: "session cookie", headers: async () => ({ Cookie: `dcx_session=${session}`, Origin: ORIGIN, "X-CSRF-Token": csrf }) },
      { name: "agent credential", headers: bearer(credential) },
      { name: "join token", headers: bearer(join.token) },
      { name: "DNS key", headers: bearer(key.key) },
    ],
  };
}

/** The body a route gets: JSON for the API, a form with the CSRF field for the UI's pages. */
async function requestFor(method: string, path: string, headers: Record<string, string>): Promise<Request> {
  const init: RequestInit = { method, headers: { ...headers, "CF-Connecting-IP": "192.0.2.66" }, redirect: "manual" };
  if (method === "GET" && path.endsWith("/agent/connect")) (init.headers as Record<string, string>).Upgrade = "websocket";
  if (method !== "GET" && method !== "DELETE") {
    if (path.startsWith("/ui/") || (!path.startsWith("/c/") && !path.startsWith("/clusters") && !path.startsWith("/auth") && !path.startsWith("/dns"))) {
      const csrf = headers["X-CSRF-Token"] ?? "";
      init.body = new URLSearchParams({ _csrf: csrf, op: "create-dns-key", json: "{}" });
      (init.headers as Record<string, string>)["Content-Type"] = "application/x-www-form-urlencoded";
    } else if (path.endsWith("/dns-query")) {
      init.body = new Uint8Array(12);
      (init.headers as Record<string, string>)["Content-Type"] = "application/dns-message";
    } else {
      init.body = JSON.stringify(path.includes("/v2/apps") ? { id: "/web", cmd: "x", instances: 5 } : {});
      (init.headers as Record<string, string>)["Content-Type"] = "application/json";
    }
  }
  return new Request(`${ORIGIN}${path}`, init);
}

/** Whether the answer is a refusal: 401, 404, a UI redirect to the login page, or an agent socket closed with 1008. */
async function refusal(res: Response, path: string): Promise<string | undefined> {
  if (res.status === 401 || res.status === 404) return undefined;
  // Public ingress takes no credential at all; a stranger's requests to it are counted like anyone's.
  if (res.status === 429 && path.startsWith("/public/")) return undefined;
  if (res.status === 303 || res.status === 302) {
    const to = res.headers.get("Location") ?? "";
    return to.startsWith("/login") ? undefined : `redirect to ${to}`;
  }
  if (res.status === 101 && res.webSocket) {
    const socket = new TestSocket(res.webSocket);
    const closed = await socket.waitClosed();
    return closed.code === 1008 ? undefined : `socket closed with ${closed.code}`;
  }
  return `status ${res.status}`;
}

const routeTable = () => {
  const seen = new Set<string>();
  return app.routes.filter((r) => r.method !== "ALL" && !seen.has(`${r.method} ${r.path}`) && seen.add(`${r.method} ${r.path}`));
};

describe("tenant isolation matrix (every route of app.routes)", () => {
  it("covers the routes that matter: the table is the router's own", () => {
    const keys = new Set(routeTable().map((r) => `${r.method} ${r.path}`));
    for (const k of [
      "GET /c/:cluster/v2/apps",
      "DELETE /clusters/:id",
      "GET /clusters/:id/audit",
      "GET /ui/:cluster/nodes/:agentId",
      "GET /c/:cluster/agent/connect",
    ])
      expect(keys).toContain(k);
    expect(keys.size).toBeGreaterThan(100);
  });

  it("refuses a stranger's token, cookie, agent credential, join token and DNS key on every route of another tenant, and shows none of its data", async () => {
    const victim = await victimWithEverything();
    const { list, dnsKey } = await strangers();
    const problems: string[] = [];
    // Self-scoped routes last: they include the stranger's own logout, which would make every later refusal trivial.
    const routes = routeTable().sort((a, b) => Number(SELF_SCOPED.has(`${a.method} ${a.path}`)) - Number(SELF_SCOPED.has(`${b.method} ${b.path}`)));
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      const path = concrete(route.path, victim, dnsKey);
      for (const stranger of list) {
        const res = await exports.default.fetch(await requestFor(route.method, path, await stranger.headers(route.method)));
        const text = res.status === 101 ? "" : await res.text();
        if ([SECRET_HOST, SECRET_IP, SECRET_CMD, victim.account.user.email].some((s) => text.includes(s)))
          problems.push(`${key} with ${stranger.name}: leaked the victim's data`);
        if (SELF_SCOPED.has(key)) continue;
        const why = await refusal(res, path);
        if (why) problems.push(`${key} (${path}) with ${stranger.name}: ${why}`);
      }
    }
    expect(problems).toEqual([]);
    // Nothing of the victim's changed: the app, its agent, the job, the tokens and the session are all there.
    const base = `/c/${victim.account.cluster.id}`;
    const token = victim.account.token;
    expect((await call(`${base}/v2/apps/web`, { token })).status).toBe(200);
    expect((await call(`${base}/agents/${victim.agentId}`, { token })).status).toBe(200);
    expect((await call(`${base}/v1/jobs/backup`, { token })).status).toBe(200);
    const tokens = (await (await call(`/clusters/${victim.account.cluster.id}/agent-tokens`, { token })).json()) as {
      tokens: { id: string; status: string }[];
    };
    expect(tokens.tokens.find((t) => t.id === victim.joinTokenId)?.status).toBe("active");
    const keys = (await (await call(`/clusters/${victim.account.cluster.id}/dns-keys`, { token })).json()) as { keys: { id: string; status: string }[] };
    expect(keys.keys.find((k) => k.id === victim.dnsKeyId)?.status).toBe("active");
    expect((await call("/auth/me", { token })).status).toBe(200);
  }, 120_000);
});
