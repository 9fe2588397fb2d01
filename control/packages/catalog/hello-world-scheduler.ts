/**
 * The hello-world package's scheduler: one small JavaScript file (Node or Bun, no dependency)
 * that is a Mesos framework over the v1 scheduler HTTP API. The package ships it in its
 * `resource` as a data URI and the app writes it to the sandbox and runs it, so the scheduler
 * needs only a JavaScript runtime in its image.
 *
 * What it does, as DC/OS's hello-world does with its own pods: SUBSCRIBE (with the framework id
 * the installer assigned, so a restarted scheduler fails over and keeps its tasks), RECONCILE
 * what the master knows before using offers, launch `WORKER_COUNT` worker tasks (`worker-<i>`)
 * from offers, ACKNOWLEDGE every update carrying a uuid, REVIVE when a worker ends, and
 * re-subscribe with backoff when the stream breaks or heartbeats stop. It serves `/health`
 * (200 once subscribed) and `/` (its state as JSON) on PORT0.
 *
 * Held as text (no backticks or template placeholders inside) because it runs on the agent,
 * not in the Worker; test/e2e/packages-framework.test.ts runs it for real.
 */
export const HELLO_WORLD_SCHEDULER = String.raw`// hello-world: a Mesos framework over the v1 scheduler HTTP API (DCX built-in package).
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";

const env = process.env;
const need = (name) => { if (!env[name]) { console.error("missing " + name); process.exit(2); } return env[name]; };
const URL_ = need("DCX_SCHEDULER_URL");
const AUTH = "Basic " + Buffer.from(need("DCX_SERVICE_PRINCIPAL") + ":" + need("DCX_SERVICE_SECRET")).toString("base64");
const FRAMEWORK = {
  id: { value: need("DCX_FRAMEWORK_ID") },
  name: env.FRAMEWORK_NAME || "hello-world",
  user: env.FRAMEWORK_USER || "nobody",
  principal: env.DCX_SERVICE_PRINCIPAL,
  role: env.FRAMEWORK_ROLE || "*",
  failover_timeout: Number(env.FAILOVER_TIMEOUT_SECONDS || 604800),
  checkpoint: true,
  capabilities: [{ type: "TASK_KILLING_STATE" }],
};
const COUNT = Number(env.WORKER_COUNT || 1);
const CPUS = Number(env.WORKER_CPUS || 0.1);
const MEM = Number(env.WORKER_MEM || 32);
const CMD = env.WORKER_CMD || "echo hello from $MESOS_TASK_ID && exec sleep 86400";
const RECONCILE_MS = Number(env.RECONCILE_SECONDS || 3) * 1000;
const ACTIVE = new Set(["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"]);

const state = { subscribed: false, streamId: undefined, reconcilingUntil: 0, tasks: new Map(), launched: 0, failovers: 0 };
const log = (...a) => console.log(new Date().toISOString(), ...a);
const indexOf = (taskId) => Number(/^worker-(\d+)__/.exec(taskId)?.[1] ?? -1);

async function call(body) {
  const res = await fetch(URL_, {
    method: "POST",
    headers: { Authorization: AUTH, "Content-Type": "application/json", Accept: "application/json", "Mesos-Stream-Id": state.streamId },
    body: JSON.stringify({ framework_id: FRAMEWORK.id, ...body }),
  });
  if (res.status >= 300) log("call", body.type, "->", res.status, await res.text());
  else await res.body?.cancel();
}

function missingIndexes() {
  const held = new Set([...state.tasks].filter(([, s]) => ACTIVE.has(s)).map(([id]) => indexOf(id)));
  return Array.from({ length: COUNT }, (_, i) => i).filter((i) => !held.has(i));
}

const scalar = (offer, name) => offer.resources.filter((r) => r.name === name && r.scalar).reduce((sum, r) => sum + r.scalar.value, 0);
function take(offer, name, amount) {
  const r = offer.resources.find((x) => x.name === name && x.scalar);
  return { ...r, scalar: { value: amount } };
}

function workersFor(offer, indexes) {
  let cpus = scalar(offer, "cpus");
  let mem = scalar(offer, "mem");
  const tasks = [];
  while (indexes.length > 0 && cpus >= CPUS && mem >= MEM) {
    const i = indexes.shift();
    const id = "worker-" + i + "__" + randomUUID();
    tasks.push({
      name: "worker-" + i,
      task_id: { value: id },
      agent_id: offer.agent_id,
      resources: [take(offer, "cpus", CPUS), take(offer, "mem", MEM)],
      command: { shell: true, value: CMD, environment: { variables: [{ name: "WORKER_INDEX", value: String(i) }] } },
    });
    state.tasks.set(id, "TASK_STAGING");
    cpus -= CPUS;
    mem -= MEM;
  }
  return tasks;
}

async function onOffers(offers) {
  const ids = offers.map((o) => o.id);
  if (Date.now() < state.reconcilingUntil) return call({ type: "DECLINE", decline: { offer_ids: ids, filters: { refuse_seconds: 1 } } });
  const missing = missingIndexes();
  for (const offer of offers) {
    const tasks = workersFor(offer, missing);
    if (tasks.length === 0) { await call({ type: "DECLINE", decline: { offer_ids: [offer.id], filters: { refuse_seconds: 30 } } }); continue; }
    state.launched += tasks.length;
    log("launching", tasks.map((t) => t.task_id.value).join(", "), "on", offer.hostname);
    await call({ type: "ACCEPT", accept: { offer_ids: [offer.id], operations: [{ type: "LAUNCH", launch: { task_infos: tasks } }], filters: { refuse_seconds: 5 } } });
  }
}

async function onUpdate(status) {
  const id = status.task_id.value;
  const was = state.tasks.get(id);
  if (indexOf(id) >= 0 && indexOf(id) < COUNT && ACTIVE.has(status.state)) state.tasks.set(id, status.state);
  else state.tasks.delete(id);
  if (was !== status.state) log("update", id, status.state, status.message || "");
  if (status.uuid) await call({ type: "ACKNOWLEDGE", acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } });
  // A worker that is not this instance's (an index above WORKER_COUNT) is stopped.
  if (ACTIVE.has(status.state) && !(indexOf(id) >= 0 && indexOf(id) < COUNT)) await call({ type: "KILL", kill: { task_id: status.task_id, agent_id: status.agent_id } });
  if (!ACTIVE.has(status.state) && missingIndexes().length > 0) await call({ type: "REVIVE", revive: {} });
}

async function onEvent(event) {
  switch (event.type) {
    case "SUBSCRIBED":
      state.subscribed = true;
      log("subscribed as", event.subscribed.framework_id.value);
      // Before launching, learn which workers still run (after a failover they do).
      state.reconcilingUntil = Date.now() + RECONCILE_MS;
      await call({ type: "RECONCILE", reconcile: { tasks: [] } });
      return;
    case "OFFERS": return onOffers(event.offers.offers);
    case "UPDATE": return onUpdate(event.update.status);
    case "ERROR": log("error from the master:", event.error?.message); process.exit(1);
  }
}

/** Reads RecordIO ("<bytes>\n<json>") across chunk boundaries, byte-exact. */
async function* records(body) {
  let buf = new Uint8Array(0);
  for await (const chunk of body) {
    const next = new Uint8Array(buf.length + chunk.length);
    next.set(buf); next.set(chunk, buf.length); buf = next;
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0) break;
      const size = Number(new TextDecoder().decode(buf.subarray(0, nl)));
      if (buf.length < nl + 1 + size) break;
      yield JSON.parse(new TextDecoder().decode(buf.subarray(nl + 1, nl + 1 + size)));
      buf = buf.subarray(nl + 1 + size);
    }
  }
}

async function subscribeOnce() {
  const abort = new AbortController();
  let heartbeatMs = 15000;
  let watchdog;
  const alive = () => { clearTimeout(watchdog); watchdog = setTimeout(() => abort.abort(), heartbeatMs * 5); };
  const res = await fetch(URL_, {
    method: "POST",
    signal: abort.signal,
    headers: { Authorization: AUTH, "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: FRAMEWORK } }),
  });
  if (res.status !== 200) throw new Error("SUBSCRIBE -> " + res.status + ": " + (await res.text()));
  state.streamId = res.headers.get("Mesos-Stream-Id");
  alive();
  try {
    for await (const event of records(res.body)) {
      if (event.type === "SUBSCRIBED") heartbeatMs = (event.subscribed.heartbeat_interval_seconds || 15) * 1000;
      alive();
      await onEvent(event);
    }
  } finally {
    clearTimeout(watchdog);
    state.subscribed = false;
  }
}

async function run() {
  for (let backoff = 500; ; backoff = Math.min(backoff * 2, 15000)) {
    try {
      await subscribeOnce();
      backoff = 500;
    } catch (err) {
      log("subscription ended:", err.message);
    }
    state.failovers++;
    await new Promise((r) => setTimeout(r, backoff));
  }
}

createServer((req, res) => {
  const workers = [...state.tasks].map(([id, s]) => ({ id, state: s }));
  const body = { framework: FRAMEWORK.name, frameworkId: FRAMEWORK.id.value, subscribed: state.subscribed, wanted: COUNT, launched: state.launched, workers };
  const ok = req.url === "/health" ? state.subscribed : true;
  res.writeHead(ok ? 200 : 503, { "Content-Type": "application/json" }).end(JSON.stringify(body));
}).listen(Number(env.PORT0 || 0), () => log("serving on", env.PORT0));
process.on("SIGTERM", () => process.exit(0));
run();
`;
