/**
 * `npm start`: a whole local DCX cluster on this machine. The control plane on workerd,
 * local D1 migrations applied, an admin account bootstrapped on first run, one agent
 * connected. Prints how to use it and writes `.dcx/local.json`. Ctrl-C stops it all.
 * `PORT` sets the port; `DCX_STATE_DIR` moves `.dcx/` and `.wrangler/state` (default: the checkout).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentProcess, startAgent } from "./lib/agent-process.ts";
import { ROOT, startControlPlane } from "./lib/control-plane.ts";

const port = Number(process.env.PORT ?? 8787);
const stateRoot = process.env.DCX_STATE_DIR ?? ROOT;
const dcxDir = join(stateRoot, ".dcx");
const adminFile = join(dcxDir, "admin.json");
const localPath = join(dcxDir, "local.json");
const agentDir = join(dcxDir, "agent");
mkdirSync(dcxDir, { recursive: true, mode: 0o700 });

const cp = await startControlPlane({
  port,
  persistDir: join(stateRoot, ".wrangler", "state"),
  logLevel: "warn",
  onLine: (line) => line.trim() && process.stdout.write(`[control] ${line}\n`),
});

async function api<T>(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = body === undefined ? {} : { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${cp.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as T };
}

/**
 * The local admin's token and cluster: the token of the last start when it still works (a new
 * one each start would pile up sessions), else a login, else the account is created (first run,
 * or the local state was wiped).
 */
async function bootstrapAdmin(): Promise<{ email: string; password: string; token: string; clusterId: string }> {
  const saved = existsSync(adminFile) ? (JSON.parse(readFileSync(adminFile, "utf8")) as { email: string; password: string }) : undefined;
  const last = existsSync(localPath) ? (JSON.parse(readFileSync(localPath, "utf8")) as { token?: string; cluster?: string }) : {};
  if (saved && last.token && last.cluster) {
    const me = await api<{ clusters?: { id: string }[] }>("GET", "/auth/me", last.token);
    if (me.status === 200 && me.body.clusters?.some((c) => c.id === last.cluster)) return { ...saved, token: last.token, clusterId: last.cluster };
  }
  if (saved) {
    const login = await api<{ token: string }>("POST", "/auth/login", undefined, saved);
    if (login.status === 200) {
      const me = await api<{ clusters: { id: string }[] }>("GET", "/auth/me", login.body.token);
      const clusterId = me.body.clusters[0]?.id;
      if (clusterId) return { ...saved, token: login.body.token, clusterId };
    }
  }
  const email = "admin@dcx.local";
  const password = `dcx-${crypto.randomUUID()}`;
  const signup = await api<{ token: string; cluster: { id: string }; message?: string }>("POST", "/auth/signup", undefined, { email, password });
  if (signup.status !== 201) throw new Error(`could not create the local admin account: ${signup.body.message ?? signup.status}`);
  writeFileSync(adminFile, JSON.stringify({ email, password }, null, 2), { mode: 0o600 });
  return { email, password, token: signup.body.token, clusterId: signup.body.cluster.id };
}

const admin = await bootstrapAdmin();

const previous = existsSync(localPath) ? (JSON.parse(readFileSync(localPath, "utf8")) as { dnsUrl?: string; dnsKeyId?: string }) : {};

/** Reuses the DNS key of an earlier run while it is still active; otherwise makes one. */
async function dnsKey(): Promise<{ dnsKeyId: string; dnsUrl: string }> {
  const keys = await api<{ keys: { id: string; status: string }[] }>("GET", `/clusters/${admin.clusterId}/dns-keys`, admin.token);
  const stillActive = keys.body.keys?.some((k) => k.id === previous.dnsKeyId && k.status === "active");
  if (previous.dnsUrl && previous.dnsKeyId && stillActive) {
    return { dnsKeyId: previous.dnsKeyId, dnsUrl: previous.dnsUrl.replace(/^https?:\/\/[^/]+/, cp.url) };
  }
  const created = await api<{ id: string; url: string }>("POST", `/clusters/${admin.clusterId}/dns-keys`, admin.token, { description: "npm start" });
  return { dnsKeyId: created.body.id, dnsUrl: created.body.url };
}
const dns = await dnsKey();

/** Starts the local agent; a fresh join token is made only when it has no identity yet. */
async function launchAgent(): Promise<AgentProcess> {
  const hasIdentity = existsSync(join(agentDir, "identity.json"));
  const token = hasIdentity
    ? undefined
    : (await api<{ token: string }>("POST", `/clusters/${admin.clusterId}/agent-tokens`, admin.token, { description: "npm start local agent" })).body.token;
  return startAgent({ master: cp.url, cluster: admin.clusterId, workDir: agentDir, token, echo: "[agent]" });
}

let agent = await launchAgent();
const first = await Promise.race([agent.waitForEvent("registered", 0, 30_000), agent.exited.then((code) => ({ exitCode: code }))]);
if ("exitCode" in first) {
  // The stored identity belongs to a cluster this state no longer has: join again.
  rmSync(join(agentDir, "identity.json"), { force: true });
  agent = await launchAgent();
  await agent.waitForEvent("registered", 0, 30_000);
}

writeFileSync(localPath, JSON.stringify({ url: cp.url, cluster: admin.clusterId, token: admin.token, ...dns }, null, 2) + "\n", { mode: 0o600 });

console.log(`
DCX is running.
  web UI          ${cp.url}/ui/${admin.clusterId}
  admin login     ${admin.email} (password in .dcx/admin.json)
  API base        ${cp.url}
  cluster         ${admin.clusterId}
  API token       ${admin.token}
  DoH URL         ${dns.dnsUrl}
  written to      .dcx/local.json

  List the agents:
    curl -H "Authorization: Bearer ${admin.token}" ${cp.url}/c/${admin.clusterId}/master/slaves
  Make a join token for another machine:
    curl -X POST -H "Authorization: Bearer ${admin.token}" ${cp.url}/clusters/${admin.clusterId}/agent-tokens

Ctrl-C stops the control plane and the agent.
`);

let stopping = false;
async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await agent.stop("SIGTERM", 5000);
  await cp.stop();
  process.exit(0);
}
process.on("SIGINT", () => void stopAll());
process.on("SIGTERM", () => void stopAll());
await Promise.race([cp.child.exited, agent.exited]);
if (!stopping) {
  console.error("a component stopped unexpectedly; stopping the rest");
  await stopAll();
}
