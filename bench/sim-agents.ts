/**
 * Simulated agents for benchmarks: ONE Node process holding N agent WebSockets to a DCX
 * control plane. Each registers as `sim-<i>` with generous resources, answers every `launch`
 * frame at once with ONE `status` frame (TASK_RUNNING for all its tasks), every `kill` with
 * TASK_KILLED, and pings at the interval the master gives. Nothing is executed. When the master
 * drops it, it comes back as a real agent does (agent/backoff.ts): after a random delay within
 * the window the master suggested, with its credential and the resume digest of its tasks, and
 * at the time a `retry` frame names when its registration is turned away.
 *
 *   node bench/sim-agents.ts --url ws://127.0.0.1:PORT/c/CLUSTER/agent/connect --token dcxj_… \
 *     [--count 1000] [--concurrency 50] [--prefix sim]
 *
 * The parent talks to it over stdio, one JSON object per line:
 *   stdout (events):  {"event":"progress"|"ready"|"launched"|"acked"|"killed"|"launch"|"stats"|"closed"|"master_error"|"fatal", …}
 *   stdin (commands): {"cmd":"mark","id":…,"expect":N}  reset counters; report "launched" once N tasks
 *                       arrived in launch frames, "acked" once N TASK_RUNNING updates were acked,
 *                       "killed" once N TASK_KILLED updates were acked
 *                     {"cmd":"trace","on":true}  report every launch frame ("launch" event)
 *                     {"cmd":"stats","id":…}     counters, CPU and RSS of this process
 *                     {"cmd":"storm","id":…}     the master is about to drop every socket: report
 *                       "recovered" once every registered agent is registered again on a new session
 *                     {"cmd":"stop"}             close every socket and exit
 * Times are epoch milliseconds with sub-millisecond precision (performance.timeOrigin + now()).
 * It exits when stdin closes or its parent goes away: it never outlives the benchmark.
 */
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { Backoff } from "../agent/backoff.ts";
import { MasterMessage, PING, PROTOCOL_VERSION, type StatusUpdate, type TaskState, taskSetDigest } from "../protocol/index.ts";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    token: { type: "string" },
    count: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "50" },
    prefix: { type: "string", default: "sim" },
  },
});
if (!args.url || !args.token) {
  process.stderr.write("usage: sim-agents.ts --url WS_URL --token JOIN_TOKEN [--count N] [--concurrency C] [--prefix P]\n");
  process.exit(2);
}
const URL_ = args.url;
const TOKEN = args.token;
const COUNT = Number(args.count);
const CONCURRENCY = Math.max(1, Number(args.concurrency));
const PREFIX = args.prefix ?? "sim";
/** The protocol caps a status frame at 10,000 updates. */
const MAX_UPDATES_PER_FRAME = 10_000;
const RESOURCES = { cpus: 64, mem: 262_144, disk: 1_000_000, gpus: 0, ports: [[31000, 32000]] };

const now = () => performance.timeOrigin + performance.now();
const emit = (event: Record<string, unknown>) => process.stdout.write(JSON.stringify(event) + "\n");

interface SimAgent {
  index: number;
  ws: WebSocket;
  agentId?: string;
  /** Kept from the first `registered`: every later session authenticates with it. */
  credential?: string;
  /** Whether the current session is registered. */
  registered: boolean;
  tasks: Set<string>;
  ping?: ReturnType<typeof setInterval>;
  /** Reconnect delays, as the real agent's (agent/backoff.ts). */
  backoff: Backoff;
  /** Set by a `retry` frame: the next session opens after this many ms. */
  retryAfterMs?: number;
  /** The storm this agent has come back from (its number), once registered again after it. */
  backFrom: number;
}

/** The real agent's reconnect cap (agent/config.ts DEFAULT_BACKOFF_MAX_MS). */
const BACKOFF_MAX_MS = 30_000;

const agents: SimAgent[] = [];
let stopping = false;

/** Counters since the last `mark`. */
const fresh = () => ({
  markId: null as unknown,
  expect: 0,
  launchFrames: 0,
  launchTasks: 0,
  firstLaunchAt: 0,
  lastLaunchAt: 0,
  statusFrames: 0,
  runningSent: 0,
  killedSent: 0,
  killFrames: 0,
  runningAcked: 0,
  killedAcked: 0,
  ackFrames: 0,
  lastAckAt: 0,
  launchedAt: 0,
  ackedAt: 0,
  killedAt: 0,
});
let c = fresh();
const totals = {
  connected: 0,
  registered: 0,
  failed: 0,
  closedAfterRegister: 0,
  masterErrors: 0,
  pings: 0,
  framesIn: 0,
  framesOut: 0,
  bytesIn: 0,
  /** Sessions opened after a drop, registrations turned away with `retry`, and registered again. */
  reconnects: 0,
  retries: 0,
  reregistered: 0,
  /** The last reconnect window the master suggested, and the `window` frames that grew it since registration. */
  reconnectWindowMs: 0,
  windowsTold: 0,
};
/** The current storm: its number, when it was announced, and how many agents must come back. */
const storm = { n: 0, id: null as unknown, startedAt: 0, expect: 0, back: 0, reported: true };
let trace = false;
/** The first frame of each type is checked against the protocol's zod schema; the rest only for `type`. */
const validated = new Set<string>();

function sendJson(a: SimAgent, message: unknown): void {
  if (a.ws.readyState !== WebSocket.OPEN) return;
  a.ws.send(JSON.stringify(message));
  totals.framesOut++;
}

function sendStatus(a: SimAgent, taskIds: string[], state: TaskState): void {
  const timestamp = Date.now();
  for (let i = 0; i < taskIds.length; i += MAX_UPDATES_PER_FRAME) {
    const updates: StatusUpdate[] = taskIds.slice(i, i + MAX_UPDATES_PER_FRAME).map((taskId) => ({ updateId: `${taskId}/${state}`, taskId, state, timestamp }));
    sendJson(a, { type: "status", updates });
    c.statusFrames++;
  }
}

function onFrame(a: SimAgent, text: string): void {
  const at = now();
  totals.framesIn++;
  totals.bytesIn += text.length;
  if (text === "pong") return;
  let msg: { type?: string; [k: string]: unknown };
  try {
    msg = JSON.parse(text) as typeof msg;
  } catch {
    emit({ event: "master_error", agent: a.index, message: `unparseable frame: ${text.slice(0, 200)}` });
    return;
  }
  const type = String(msg.type);
  if (!validated.has(type)) {
    validated.add(type);
    const checked = MasterMessage.safeParse(msg);
    if (!checked.success)
      emit({ event: "master_error", agent: a.index, message: `frame '${type}' does not match the protocol: ${checked.error.message.slice(0, 500)}` });
  }
  switch (type) {
    case "registered": {
      const first = a.agentId === undefined;
      a.agentId = String(msg.agentId);
      if (typeof msg.credential === "string") a.credential = msg.credential;
      if (typeof msg.reconnectWindowMs === "number") {
        a.backoff.setWindow(msg.reconnectWindowMs);
        totals.reconnectWindowMs = msg.reconnectWindowMs;
      }
      a.backoff.reset();
      if (!a.registered) {
        a.registered = true;
        if (first) totals.registered++;
        else totals.reregistered++;
        if (storm.n > 0 && a.backFrom < storm.n) cameBack(a, at);
      }
      const interval = Number(msg.pingIntervalMs) || 15_000;
      clearInterval(a.ping);
      // Spread the heartbeats over the interval.
      setTimeout(() => {
        if (stopping || a.ws.readyState !== WebSocket.OPEN) return;
        a.ping = setInterval(() => {
          if (a.ws.readyState === WebSocket.OPEN) {
            a.ws.send(PING);
            totals.pings++;
          }
        }, interval);
      }, Math.random() * interval);
      return;
    }
    case "launch": {
      const ids = (msg.tasks as { taskId: string }[]).map((t) => t.taskId);
      for (const id of ids) a.tasks.add(id);
      c.launchFrames++;
      c.launchTasks += ids.length;
      if (c.firstLaunchAt === 0) c.firstLaunchAt = at;
      c.lastLaunchAt = at;
      // Answer at once, one frame for the whole launch.
      sendStatus(a, ids, "TASK_RUNNING");
      c.runningSent += ids.length;
      if (trace) emit({ event: "launch", agent: a.index, at, taskIds: ids });
      if (c.expect > 0 && c.launchedAt === 0 && c.launchTasks >= c.expect) {
        c.launchedAt = at;
        emit({ event: "launched", id: c.markId, at, firstAt: c.firstLaunchAt, frames: c.launchFrames, tasks: c.launchTasks });
      }
      return;
    }
    case "kill": {
      const ids = msg.taskIds as string[];
      for (const id of ids) a.tasks.delete(id);
      c.killFrames++;
      sendStatus(a, ids, "TASK_KILLED");
      c.killedSent += ids.length;
      return;
    }
    case "reconcile": {
      const ids = msg.taskIds as string[];
      const known = ids.filter((id) => a.tasks.has(id));
      const unknown = ids.filter((id) => !a.tasks.has(id));
      if (known.length) sendStatus(a, known, "TASK_RUNNING");
      if (unknown.length) sendStatus(a, unknown, "TASK_LOST");
      return;
    }
    case "ack": {
      c.ackFrames++;
      c.lastAckAt = at;
      for (const id of msg.updateIds as string[]) {
        if (id.endsWith("/TASK_RUNNING")) c.runningAcked++;
        else if (id.endsWith("/TASK_KILLED")) c.killedAcked++;
      }
      if (c.expect > 0 && c.ackedAt === 0 && c.runningAcked >= c.expect) {
        c.ackedAt = at;
        emit({ event: "acked", id: c.markId, at, frames: c.ackFrames, updates: c.runningAcked });
      }
      if (c.expect > 0 && c.killedAt === 0 && c.killedAcked >= c.expect) {
        c.killedAt = at;
        emit({ event: "killed", id: c.markId, at, killFrames: c.killFrames, updates: c.killedAcked });
      }
      return;
    }
    case "window": {
      a.backoff.setWindow(Number(msg.reconnectWindowMs));
      totals.reconnectWindowMs = Number(msg.reconnectWindowMs);
      totals.windowsTold++;
      return;
    }
    case "retry": {
      a.retryAfterMs = Number(msg.retryAfterMs);
      totals.retries++;
      return;
    }
    case "error": {
      totals.masterErrors++;
      if (totals.masterErrors <= 5) emit({ event: "master_error", agent: a.index, message: String(msg.message), details: msg.details });
      return;
    }
    default:
      emit({ event: "master_error", agent: a.index, message: `unknown frame type '${type}'` });
  }
}

/** The register frame: a known agent sends its tasks (all RUNNING here) and their resume digest. */
function registerFrame(a: SimAgent) {
  const tasks = [...a.tasks].map((taskId) => ({ taskId, state: "TASK_RUNNING" as const }));
  return {
    type: "register",
    protocol: PROTOCOL_VERSION,
    ...(a.agentId ? { agentId: a.agentId } : {}),
    hostname: `${PREFIX}-${a.index}`,
    ip: "127.0.0.1",
    resources: RESOURCES,
    attributes: { sim: "true" },
    version: "bench-sim/1",
    tasks,
    resume: { digest: taskSetDigest(tasks) },
  };
}

/** Opens one agent's first session and resolves once it is registered (or has failed). */
function connect(index: number): Promise<void> {
  return new Promise((resolve) => {
    const a: SimAgent = {
      index,
      ws: undefined as unknown as WebSocket,
      registered: false,
      tasks: new Set(),
      backoff: new Backoff({ capMs: BACKOFF_MAX_MS }),
      backFrom: 0,
    };
    agents.push(a);
    openSession(a, resolve);
  });
}

/** One session of an agent: its first, or a reconnect after the master dropped it. `settled` runs once it is registered or failed. */
function openSession(a: SimAgent, settled?: () => void): void {
  const bearer = a.credential ?? TOKEN;
  const ws = new WebSocket(URL_, { headers: { Authorization: `Bearer ${bearer}` }, perMessageDeflate: false, handshakeTimeout: 60_000 });
  a.ws = ws;
  a.registered = false;
  a.retryAfterMs = undefined;
  let done = false;
  const settle = () => {
    if (!done) {
      done = true;
      settled?.();
    }
  };
  ws.on("open", () => {
    totals.connected++;
    sendJson(a, registerFrame(a));
  });
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    onFrame(a, data.toString());
    if (a.registered) settle();
  });
  ws.on("error", (err) => {
    if (!a.registered && !done && a.credential === undefined) {
      totals.failed++;
      if (totals.failed <= 5) emit({ event: "closed", agent: a.index, registered: false, message: err.message });
    }
  });
  ws.on("close", (code, reason) => {
    clearInterval(a.ping);
    const wasRegistered = a.registered;
    a.registered = false;
    if (stopping) return settle();
    // A first session turned away over the admission rate joins again when told; its first
    // registration (and the pool's slot) waits for that.
    if (a.credential === undefined && a.retryAfterMs !== undefined && !done) return reconnectLater(a, settle);
    // A first session that never registered otherwise is a failure of the run, not something to retry.
    if (a.credential === undefined) {
      if (!done) {
        totals.failed++;
        if (totals.failed <= 5) emit({ event: "closed", agent: a.index, registered: false, code, reason: reason.toString() });
      }
      return settle();
    }
    if (wasRegistered && storm.n === 0) {
      totals.closedAfterRegister++;
      if (totals.closedAfterRegister <= 5) emit({ event: "closed", agent: a.index, registered: true, code, reason: reason.toString() });
    }
    settle();
    reconnectLater(a);
  });
}

/** Schedules the next session as the real agent does: the master's retry slot, else the jittered backoff. */
function reconnectLater(a: SimAgent, settled?: () => void): void {
  const delay = a.retryAfterMs === undefined ? a.backoff.next() : a.backoff.retryAfter(a.retryAfterMs);
  setTimeout(() => {
    if (stopping) return settled?.();
    totals.reconnects++;
    openSession(a, settled);
  }, delay);
}

/** An agent registered again after the storm was announced; the last one back reports it. */
function cameBack(a: SimAgent, at: number): void {
  a.backFrom = storm.n;
  storm.back++;
  if (!storm.reported && storm.back >= storm.expect) {
    storm.reported = true;
    emit({ event: "recovered", id: storm.id, at, ms: at - storm.startedAt, agents: storm.back });
  }
}

async function connectAll(): Promise<void> {
  const started = now();
  let next = 0;
  const progress = setInterval(() => emit({ event: "progress", ...totals, ms: now() - started }), 1000);
  const worker = async () => {
    while (next < COUNT && !stopping) await connect(next++);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, COUNT) }, worker));
  clearInterval(progress);
  emit({ event: "ready", ...totals, ms: now() - started });
}

function stats(id: unknown): void {
  const cpu = process.cpuUsage();
  emit({
    event: "stats",
    id,
    ...totals,
    ...c,
    open: agents.filter((a) => a.ws.readyState === WebSocket.OPEN).length,
    tasksHeld: agents.reduce((n, a) => n + a.tasks.size, 0),
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssMb: process.memoryUsage().rss / 2 ** 20,
  });
}

function shutdown(code = 0): void {
  if (stopping) return;
  stopping = true;
  for (const a of agents) {
    clearInterval(a.ping);
    try {
      a.ws.close(1000, "benchmark done");
    } catch {
      // already closed
    }
  }
  // Give the close frames a moment, then go regardless.
  setTimeout(() => {
    for (const a of agents) a.ws.terminate();
    process.exit(code);
  }, 300).unref();
  setTimeout(() => process.exit(code), 1000);
}

// Commands from the parent; the end of stdin means the parent is gone.
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  input += chunk;
  let nl: number;
  while ((nl = input.indexOf("\n")) >= 0) {
    const line = input.slice(0, nl).trim();
    input = input.slice(nl + 1);
    if (!line) continue;
    let cmd: { cmd?: string; id?: unknown; expect?: number; on?: boolean };
    try {
      cmd = JSON.parse(line) as typeof cmd;
    } catch {
      emit({ event: "fatal", message: `bad command: ${line}` });
      continue;
    }
    if (cmd.cmd === "mark") {
      c = fresh();
      c.markId = cmd.id ?? null;
      c.expect = Number(cmd.expect ?? 0);
      emit({ event: "marked", id: c.markId });
    } else if (cmd.cmd === "trace") {
      trace = cmd.on === true;
    } else if (cmd.cmd === "storm") {
      storm.n++;
      storm.id = cmd.id ?? null;
      storm.startedAt = now();
      storm.expect = agents.filter((a) => a.agentId !== undefined).length;
      storm.back = 0;
      storm.reported = false;
      emit({ event: "storming", id: storm.id, expect: storm.expect });
    } else if (cmd.cmd === "stats") {
      stats(cmd.id);
    } else if (cmd.cmd === "stop") {
      shutdown(0);
    }
  }
});
process.stdin.on("end", () => shutdown(0));
process.stdin.on("close", () => shutdown(0));
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown(0);
}, 1000).unref();
process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));
process.on("uncaughtException", (err) => {
  emit({ event: "fatal", message: String(err?.stack ?? err) });
  shutdown(1);
});

await connectAll();
