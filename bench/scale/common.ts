/** The scale benchmark's options, targets and the direct route to the runtime workerd. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { listeningPorts } from "../lib/inspector.ts";
import { intOption } from "../lib/options.ts";

/** Issue 14's targets for one cluster object on this machine. */
export const TARGETS = { registrationCpuMsPerAgent: 1, stormRecoverySeconds: 30, apiP99MsDuringStorm: 1_000, placementsPerSecond: 20_000, clusterHeapMb: 64 };

export const log = (msg: string) => process.stderr.write(`[scale] ${msg}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Options {
  agents: number;
  tasks: number;
  concurrency: number;
  pollMs: number;
  timeoutMs: number;
  /** Seconds of idle (heartbeats only) measured for the cost model. */
  idleSeconds: number;
  /** Agents and API calls go through wrangler's proxy workerd instead of straight to the runtime. */
  viaProxy: boolean;
  out: string;
  /** A file to copy wrangler's output to (errors of the Worker and the object), for a run that goes wrong. */
  wranglerLog: string | undefined;
  profile: boolean;
  profileDir: string;
  /** Skip the reset-and-storm phase. */
  skipStorm: boolean;
  /** The Cluster object's AGENT_ADMISSION_PER_SECOND for the run; undefined keeps wrangler.toml's. */
  admissionPerSecond: number | undefined;
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: "string", default: "10000" },
      tasks: { type: "string", default: "100000" },
      concurrency: { type: "string", default: "100" },
      "poll-ms": { type: "string", default: "5000" },
      "timeout-s": { type: "string", default: "600" },
      "idle-s": { type: "string", default: "30" },
      "via-proxy": { type: "boolean", default: false },
      out: { type: "string", default: join(ROOT, "bench", "results", "scale.json") },
      "wrangler-log": { type: "string" },
      profile: { type: "boolean", default: false },
      "profile-dir": { type: "string", default: join(tmpdir(), "dcx-bench-profiles") },
      "skip-storm": { type: "boolean", default: false },
      admission: { type: "string" },
    },
  });
  return {
    agents: intOption("agents", values.agents, 1),
    tasks: intOption("tasks", values.tasks, 1),
    concurrency: intOption("concurrency", values.concurrency, 1),
    pollMs: intOption("poll-ms", values["poll-ms"], 1),
    timeoutMs: intOption("timeout-s", values["timeout-s"], 1) * 1000,
    idleSeconds: intOption("idle-s", values["idle-s"], 0),
    viaProxy: values["via-proxy"] ?? false,
    out: values.out ?? join(ROOT, "bench", "results", "scale.json"),
    wranglerLog: values["wrangler-log"],
    profile: values.profile ?? false,
    profileDir: values["profile-dir"] ?? join(tmpdir(), "dcx-bench-profiles"),
    skipStorm: values["skip-storm"] ?? false,
    admissionPerSecond: values.admission === undefined ? undefined : intOption("admission", values.admission, 1),
  };
}

/**
 * The runtime workerd's own HTTP port (the one answering /health), found from its listening
 * sockets. wrangler's proxy workerd holds two sockets per proxied WebSocket (client side and
 * runtime side), so 10,000 agents through it would need 20,000 descriptors in one process,
 * the limit here; going straight to the runtime is also what Cloudflare's edge does.
 */
export async function runtimeUrl(runtimePids: number[]): Promise<string | undefined> {
  for (const pid of runtimePids) {
    for (const port of listeningPorts(pid)) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
        await res.text();
        if (res.status === 200) return `http://127.0.0.1:${port}`;
      } catch {
        // not the entry socket
      }
    }
  }
  return undefined;
}

/** The soft and hard limits on open files of this process, from /proc/self/limits. */
function fileLimits(): { soft: number; hard: number } {
  const line =
    readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files")) ?? "";
  const [soft = 0, hard = 0] = line
    .replace("Max open files", "")
    .trim()
    .split(/\s+/)
    .map((v) => (v === "unlimited" ? Infinity : Number(v)));
  return { soft, hard };
}

/**
 * workerd holds two descriptors per accepted WebSocket (the socket and a dup), and SQLite must
 * still open its files: past the limit, workerd fails to open the object's database
 * (SQLITE_CANTOPEN), resets the object and every agent drops. The limit of this process
 * (inherited by wrangler, workerd and the simulated agents) is raised with util-linux's `prlimit`
 * when it is too low and that is permitted; otherwise the run takes as many agents as fit, and
 * says so. Returns the agents to run and the limit in force.
 */
export function agentsThatFit(agents: number): { agents: number; fileLimit: number; note?: string } {
  const needed = agents * 2 + RESERVED_FILES;
  const before = fileLimits();
  if (before.soft < needed) {
    try {
      execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${needed}:${Math.max(needed, before.hard)}`], { stdio: "ignore" });
    } catch {
      // not permitted (a container without CAP_SYS_RESOURCE): fewer agents below
    }
  }
  const { soft, hard } = fileLimits();
  if (soft >= needed) return { agents, fileLimit: soft };
  const fit = Math.floor((soft - RESERVED_FILES) / 2);
  if (fit < 1) throw Object.assign(new Error(`the open-file limit (${soft}) leaves no room for agents`), { name: "UsageError" });
  const note = `${agents} agents need about ${needed} open files in the runtime workerd (two per socket); this machine allows ${soft} (hard ${hard}, not raisable here), so the run used ${fit} agents`;
  log(note);
  return { agents: fit, fileLimit: soft, note };
}

/** Descriptors kept free for SQLite (D1, the object's database, their journals), logs and the inspector. */
const RESERVED_FILES = 2000;
