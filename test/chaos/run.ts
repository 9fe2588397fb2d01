/**
 * `npm run chaos [-- --quick] [--only NAME,...] [--seed N]`: the fault suite. Each fault runs on
 * a fresh local cluster (loopback only, bounded in time), is measured the same way, and the
 * whole is printed as a table and written to bench/results/chaos.json. Exits 1 when any figure
 * that must be zero is not (tasks lost or duplicated, acknowledged writes lost, 5xx answers,
 * half-written state) or a fault never recovered; 2 on a usage error.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { TestCluster } from "../e2e/cluster.ts";
import {
  agentKillMidKill,
  agentKillMidLaunch,
  controlPlaneKill,
  delayedConnections,
  diskFull,
  dockerdRestart,
  dropConnections,
  partition,
  privileges,
} from "./faults.ts";
import { type FuzzResult, fuzzAgentFrames, fuzzApiBodies, fuzzDoh, fuzzMasterFrames } from "./fuzz.ts";
import type { FaultResult } from "./measure.ts";

const { values } = parseArgs({ options: { quick: { type: "boolean" }, only: { type: "string" }, seed: { type: "string", default: "20261204" } } });
const seed = Number(values.seed);
if (!Number.isInteger(seed)) {
  process.stderr.write(`--seed: '${values.seed}' is not an integer\n`);
  process.exit(2);
}
const quick = values.quick === true;
const can = privileges();

/** Every fault: name, how to run it, whether --quick runs it, and why it is skipped here if it is. */
const FAULTS: { name: string; run: () => Promise<FaultResult>; quick: boolean; skip?: string }[] = [
  { name: "control-plane-kill", run: controlPlaneKill, quick: false },
  { name: "agent-kill-launch", run: agentKillMidLaunch, quick: true },
  { name: "agent-kill-kill", run: agentKillMidKill, quick: false },
  { name: "partition", run: partition, quick: true },
  { name: "drop", run: dropConnections, quick: false },
  { name: "delay", run: delayedConnections, quick: false },
  {
    name: "dockerd-restart",
    run: dockerdRestart,
    quick: false,
    skip: can.dockerd ? undefined : "needs root, dockerd started by scripts/docker-setup.sh and the test image",
  },
  { name: "disk-full", run: diskFull, quick: false, skip: can.root ? undefined : "needs root to mount a tmpfs" },
];
const FUZZ_CASES = quick ? { frames: 2000, doh: 1000, api: 600, master: 2000 } : { frames: 10_000, doh: 5000, api: 3000, master: 20_000 };
const FUZZERS = ["fuzz-agent-frames", "fuzz-master-frames", "fuzz-doh", "fuzz-api"];

const only = values.only?.split(",").filter(Boolean);
const unknown = (only ?? []).filter((n) => !FAULTS.some((f) => f.name === n) && !FUZZERS.includes(n));
if (unknown.length > 0) {
  process.stderr.write(`unknown case(s): ${unknown.join(", ")}\ncases: ${[...FAULTS.map((f) => f.name), ...FUZZERS].join(", ")}\n`);
  process.exit(2);
}
const selected = (name: string, isQuick: boolean) => (only ? only.includes(name) : !quick || isQuick);

const faults: FaultResult[] = [];
const skipped: { name: string; why: string }[] = [];
for (const fault of FAULTS) {
  if (!selected(fault.name, fault.quick)) continue;
  if (fault.skip !== undefined) {
    if (process.env.CI === "true") throw new Error(`chaos case ${fault.name} ${fault.skip}`);
    skipped.push({ name: fault.name, why: fault.skip });
    continue;
  }
  console.log(`--- ${fault.name}`);
  faults.push(await fault.run());
}

const fuzz: FuzzResult[] = [];
if (FUZZERS.some((name) => selected(name, true))) {
  const cluster = new TestCluster();
  await cluster.start();
  await cluster.signUp();
  try {
    if (selected("fuzz-agent-frames", true)) fuzz.push(await fuzzAgentFrames(cluster, FUZZ_CASES.frames, seed));
    if (selected("fuzz-doh", true)) fuzz.push(await fuzzDoh(cluster, FUZZ_CASES.doh, seed));
    if (selected("fuzz-api", true)) fuzz.push(await fuzzApiBodies(cluster, FUZZ_CASES.api, seed));
  } finally {
    await cluster.stop();
  }
  if (selected("fuzz-master-frames", true)) fuzz.push(fuzzMasterFrames(FUZZ_CASES.master, seed));
}

const pad = (s: string | number, n: number) => String(s).padEnd(n);
console.log(`\n${pad("fault", 44)}${pad("lost", 6)}${pad("dup", 5)}${pad("acked lost", 12)}${pad("5xx", 5)}${pad("recovery", 10)}notes`);
for (const f of faults) {
  console.log(
    `${pad(f.fault, 44)}${pad(f.tasksLost, 6)}${pad(f.tasksDuplicated, 5)}${pad(f.ackedWritesLost, 12)}${pad(f.serverErrors, 5)}${pad(f.recoveryMs === null ? "never" : `${(f.recoveryMs / 1000).toFixed(1)} s`, 10)}${f.notes}`,
  );
}
console.log(`\n${pad("fuzz target", 30)}${pad("cases", 8)}${pad("5xx", 5)}${pad("half-written", 14)}notes`);
for (const f of fuzz) console.log(`${pad(f.target, 30)}${pad(f.cases, 8)}${pad(f.serverErrors, 5)}${pad(f.halfWritten, 14)}${f.notes}`);
for (const s of skipped) console.log(`SKIPPED ${s.name}: ${s.why}`);

const failures = [
  ...faults.filter((f) => f.tasksLost + f.tasksDuplicated + f.ackedWritesLost + f.serverErrors > 0 || f.recoveryMs === null).map((f) => f.fault),
  ...fuzz.filter((f) => f.serverErrors + f.halfWritten > 0).map((f) => f.target),
];
const results = join(ROOT, "bench", "results");
mkdirSync(results, { recursive: true });
writeFileSync(join(results, "chaos.json"), JSON.stringify({ date: new Date().toISOString(), quick, seed, faults, fuzz, skipped, failures }, null, 2) + "\n");
console.log(`\nwrote bench/results/chaos.json; ${failures.length === 0 ? "zero losses" : `NOT ZERO: ${failures.join("; ")}`}`);
process.exit(failures.length === 0 ? 0 : 1);
