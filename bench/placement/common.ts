/** The placement benchmark's options and small shared helpers. */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { intOption } from "../lib/options.ts";

export const TARGET_PLACEMENTS_PER_SECOND = 5000;
export const DO_MEMORY_BUDGET_MB = 128;
export const BASELINE =
  "Nomad C1M (2015) placed 1,000,000 containers at about 3,750 placements/s on 5 servers; DCX targets >= 5,000/s here, on 2 cores, one Durable Object.";

export const log = (msg: string) => process.stderr.write(`[placement] ${msg}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const epochNow = () => performance.timeOrigin + performance.now();

export interface Options {
  agents: number;
  instances: number;
  iterations: number;
  loadedIterations: number;
  execIterations: number;
  concurrency: number;
  pollMs: number;
  timeoutMs: number;
  out: string;
  /** Sample the Worker isolate's CPU (V8 inspector) during registration, the big run and the loaded latency run. */
  profile: boolean;
  profileDir: string;
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: "string", default: "1000" },
      instances: { type: "string", default: "10000" },
      iterations: { type: "string", default: "100" },
      "loaded-iterations": { type: "string", default: "30" },
      "exec-iterations": { type: "string", default: "50" },
      concurrency: { type: "string", default: "50" },
      "poll-ms": { type: "string", default: "20" },
      "timeout-s": { type: "string", default: "180" },
      out: { type: "string", default: join(ROOT, "bench", "results", "placement.json") },
      profile: { type: "boolean", default: false },
      "profile-dir": { type: "string", default: join(tmpdir(), "dcx-bench-profiles") },
    },
  });
  return {
    agents: intOption("agents", values.agents, 1),
    instances: intOption("instances", values.instances, 1),
    iterations: intOption("iterations", values.iterations, 0),
    loadedIterations: intOption("loaded-iterations", values["loaded-iterations"], 0),
    execIterations: intOption("exec-iterations", values["exec-iterations"], 0),
    concurrency: intOption("concurrency", values.concurrency, 1),
    pollMs: intOption("poll-ms", values["poll-ms"], 1),
    timeoutMs: intOption("timeout-s", values["timeout-s"], 1) * 1000,
    out: values.out ?? join(ROOT, "bench", "results", "placement.json"),
    profile: values.profile ?? false,
    profileDir: values["profile-dir"] ?? join(tmpdir(), "dcx-bench-profiles"),
  };
}
