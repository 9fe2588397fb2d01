import { spawnSync } from "node:child_process";
import { join } from "node:path";
import WebSocket from "ws";
import { BUN, ROOT, toolEnv } from "../../scripts/lib/control-plane.ts";
import type { TestCluster } from "../e2e/cluster.ts";
import { dnsMessages } from "../support/dns-mutations.ts";
import { mutate, randomJson } from "../support/json-mutations.ts";
import { seeded } from "../support/prng.ts";
import { Ledger } from "./measure.ts";

/**
 * Fuzzing against the real processes, seeded so a failure can be replayed: agent frames sent
 * to the control plane, master frames sent to a real agent (through a bun test, where the fake
 * master lives), DoH messages, and bodies on the API's write routes.
 */
export interface FuzzResult {
  target: string;
  cases: number;
  /** 5xx answers (HTTP) or a connection the server dropped instead of answering (frames). */
  serverErrors: number;
  /** Writes that failed yet left something behind, or were acknowledged and are gone. */
  halfWritten: number;
  notes: string;
}

/** Frames an agent may send, as templates for mutations. */
function agentFrameTemplates(): unknown[] {
  const now = Date.now();
  return [
    { type: "status", updates: [{ updateId: "u-1", taskId: "t-1", state: "TASK_RUNNING", message: "ok", healthy: true, timestamp: now }] },
    { type: "resources", resources: { cpus: 1, mem: 512, disk: 100, gpus: 0, ports: [[31000, 31010]] }, attributes: { rack: "r1" } },
    { type: "logData", requestId: "r-1", data: "hello", offset: 0, eof: true },
    { type: "diagnostics", checks: [{ name: "disk", status: "healthy", message: "fine" }], sentAt: now },
    { type: "bundleData", requestId: "b-1", checks: [], sentAt: now, logs: "" },
    { type: "error", message: "bad frame" },
  ];
}

/** Mutated agent frames on a registered agent's socket: each answered, the socket kept, the cluster unharmed. */
export async function fuzzAgentFrames(cluster: TestCluster, cases: number, seed: number): Promise<FuzzResult> {
  const random = seeded(seed);
  const token = await cluster.joinToken();
  const ws = new WebSocket(`${cluster.url.replace("http", "ws")}/c/${cluster.clusterId}/agent/connect`, { headers: { Authorization: `Bearer ${token}` } });
  let closed: string | undefined;
  let errors = 0;
  ws.on("close", (code, reason) => (closed = `${code} ${reason.toString()}`));
  ws.on("message", (data) => {
    if (String(data).includes('"type":"error"')) errors++;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  ws.send(
    JSON.stringify({
      type: "register",
      protocol: 1,
      hostname: "fuzz-agent",
      ip: "127.0.0.9",
      resources: { cpus: 1, mem: 256, disk: 0, gpus: 0, ports: [] },
      version: "fuzz",
    }),
  );
  const templates = agentFrameTemplates();
  for (let i = 0; i < cases && closed === undefined; i++) {
    const kind = i % 10;
    if (kind === 0) ws.send(Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))));
    else if (kind === 1) ws.send(JSON.stringify(randomJson(random)));
    else if (kind === 2) ws.send(String.fromCharCode(...Array.from({ length: 100 }, () => Math.floor(random() * 128))));
    else ws.send(JSON.stringify(mutate(templates[i % templates.length] as never, random)));
    // Let the object keep up: a burst of thousands would only measure the socket's buffer. And
    // heartbeat as a real agent does, or the liveness sweep rightly closes the socket once the
    // cluster's agent timeout (3 s in the e2e cluster) passes, whether the runtime is fast or not.
    if (i % 50 === 49) {
      ws.send("ping");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const ledger = new Ledger(cluster);
  const health = await ledger.call("GET", `/c/${cluster.clusterId}/master/slaves`);
  const stillOpen = closed === undefined && ws.readyState === WebSocket.OPEN;
  ws.close();
  return {
    target: "agent frames → control plane",
    cases,
    serverErrors: ledger.serverErrors + (stillOpen ? 0 : 1) + (health?.status === 200 ? 0 : 1),
    halfWritten: 0,
    notes: `${errors} error frames back; socket ${stillOpen ? "kept open" : `closed (${closed ?? "?"})`}`,
  };
}

/** Mutated DoH messages by POST: every answer a 4xx or a DNS response, never a 5xx. */
export async function fuzzDoh(cluster: TestCluster, cases: number, seed: number): Promise<FuzzResult> {
  const key = (await cluster.api<{ key: string }>("POST", `/clusters/${cluster.clusterId}/dns-keys`, {})).key;
  const ledger = new Ledger(cluster);
  const messages = dnsMessages(cases, seeded(seed));
  const statuses = new Map<number, number>();
  for (let i = 0; i < messages.length; i += 32) {
    await Promise.all(
      messages.slice(i, i + 32).map(async (body) => {
        const res = await fetch(`${cluster.url}/dns/${key}/dns-query`, {
          method: "POST",
          headers: { "Content-Type": "application/dns-message" },
          body: Buffer.from(body),
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) ledger.serverErrors++;
        await res.arrayBuffer();
      }),
    );
  }
  return { target: "DoH messages", cases, serverErrors: ledger.serverErrors, halfWritten: 0, notes: [...statuses].map(([s, n]) => `${n}×${s}`).join(", ") };
}

/** The API's write routes with mutated and random bodies: no 5xx; a refused write leaves nothing; an acknowledged one stays. */
export async function fuzzApiBodies(cluster: TestCluster, cases: number, seed: number): Promise<FuzzResult> {
  const random = seeded(seed);
  const ledger = new Ledger(cluster);
  const c = `/c/${cluster.clusterId}`;
  const app = {
    id: "/fuzz/app",
    cmd: "sleep 100",
    cpus: 0.01,
    mem: 32,
    instances: 0,
    env: { A: "1" },
    labels: { l: "v" },
    portDefinitions: [{ port: 0, name: "http" }],
    healthChecks: [{ protocol: "HTTP", path: "/", portIndex: 0 }],
    constraints: [["hostname", "UNIQUE"]],
  };
  const routes: [string, string, unknown][] = [
    ["POST", `${c}/v2/apps`, app],
    ["PUT", `${c}/v2/apps/fuzz/app`, app],
    ["PATCH", `${c}/v2/apps/fuzz/app`, { instances: 0, labels: { a: "b" } }],
    ["POST", `${c}/v2/groups`, { id: "/fuzzgroup", apps: [{ ...app, id: "a" }] }],
    ["PUT", `${c}/v2/groups/fuzzgroup`, { apps: [{ ...app, id: "/fuzzgroup/a" }] }],
    ["POST", `${c}/v1/jobs`, { id: "fuzz.job", run: { cmd: "true", cpus: 0.01, mem: 32, disk: 0 } }],
    ["POST", `${c}/v2/tasks/delete`, { ids: ["nope"] }],
    ["POST", "/auth/login", { email: "fuzz@example.com", password: "x" }],
    ["POST", `/clusters/${cluster.clusterId}/agent-tokens`, { description: "fuzz", expiresInSeconds: 60 }],
  ];
  const acked = new Set<string>();
  for (let i = 0; i < cases; i++) {
    const [method, path, template] = routes[i % routes.length] as [string, string, unknown];
    const body = i % 4 === 0 ? randomJson(random) : mutate(template as never, random);
    const res = await ledger.call(method, path, body);
    if (res === undefined) continue;
    // Marathon makes a relative id absolute: `web` is acknowledged as `/web`.
    if (res.ok && path.endsWith("/v2/apps") && method === "POST") acked.add(String((body as { id?: unknown }).id).replace(/^(?!\/)/, "/"));
    await res.arrayBuffer();
  }
  // Every app there was acknowledged by a create, or came from a route that may create (PUT, groups).
  const listed = ((await cluster.api<{ apps: { id: string }[] }>("GET", `${c}/v2/apps`)).apps ?? []).map((a) => a.id);
  const gone = [...acked].filter((id) => id.startsWith("/") && !listed.includes(id));
  const stray = listed.filter((id) => !acked.has(id) && !id.startsWith("/fuzz/app") && !id.startsWith("/fuzzgroup"));
  const short = (id: string) => (id.length > 60 ? `${id.slice(0, 40)}…(${id.length} characters)` : id);
  const wrong = [...gone.map((id) => `acknowledged, gone: ${short(id)}`), ...stray.map((id) => `never acknowledged: ${short(id)}`)];
  return {
    target: "API bodies",
    cases,
    serverErrors: ledger.serverErrors,
    halfWritten: wrong.length,
    notes: wrong.length === 0 ? `${listed.length} apps left, each acknowledged` : wrong.slice(0, 5).join("; "),
  };
}

/** Mutated master frames against a real agent, run by bun (agent/frame-fuzz.test.ts) with this many cases. */
export function fuzzMasterFrames(cases: number, seed: number): FuzzResult {
  const run = spawnSync(BUN, ["test", join(ROOT, "agent", "frame-fuzz.test.ts")], {
    cwd: ROOT,
    env: toolEnv({ DCX_FUZZ_CASES: String(cases), DCX_FUZZ_SEED: String(seed) }),
    encoding: "utf8",
    timeout: 300_000,
  });
  const passed = run.status === 0;
  const output = `${run.stdout}${run.stderr}`;
  return {
    target: "master frames → agent",
    cases,
    serverErrors: passed ? 0 : 1,
    halfWritten: 0,
    notes: passed
      ? "the agent stayed connected and kept serving"
      : output
          .split("\n")
          .filter((l) => /error|fail/i.test(l))
          .slice(0, 3)
          .join(" | "),
  };
}
