/** The placement benchmark's profiler, wrangler error extraction and cleanup. */
import { readdirSync, readlinkSync } from "node:fs";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import type { Api } from "../lib/api.ts";
import { bundleResolver, findWorkerInspector, InspectorProfiler, summarizeProfile } from "../lib/inspector.ts";
import { round, writeJson } from "../lib/report.ts";
import { log, sleep } from "./common.ts";

/**
 * The errors wrangler printed (log level error), each with its first frames outside
 * node_modules: `Uncaught Error: … (at insertTasks control/cluster/tasks.ts:48 < …)`.
 */
export function errorsLogged(output: string): string[] {
  const lines = output.replace(/\u001b\[[0-9;]*m/g, "").split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /\[ERROR\]\s*(.*)$/.exec(lines[i] ?? "");
    if (!m) continue;
    const frames: string[] = [];
    for (let j = i + 1; j < Math.min(lines.length, i + 30) && frames.length < 4; j++) {
      const line = lines[j] ?? "";
      if (/\[ERROR\]/.test(line)) break;
      const f = /^\s+at (\S+) \(?(?:async )?file:\/\/(\S+?):(\d+):\d+\)?/.exec(line);
      if (f && !f[2]?.includes("node_modules") && !f[2]?.includes(".wrangler")) frames.push(`${f[1]} ${String(f[2]).replace(ROOT, "")}:${f[3]}`);
    }
    out.push(frames.length ? `${m[1]?.trim()} (at ${frames.join(" < ")})` : (m[1]?.trim() ?? ""));
  }
  return out;
}

export async function startProfiler(workerdPids: number[], notes: string[]): Promise<InspectorProfiler | undefined> {
  for (const pid of workerdPids) {
    const url = await findWorkerInspector(pid);
    if (!url) continue;
    try {
      const p = await InspectorProfiler.connect(url);
      await p.start(200).catch((err: unknown) => {
        p.close();
        throw err;
      });
      log(`profiling the Worker isolate through ${url}`);
      if (!notes.some((n) => n.startsWith("--profile: the V8")))
        notes.push("--profile: the V8 sampling profiler ran during the measured phases; their figures are slower than unprofiled ones");
      return p;
    } catch (err) {
      notes.push(`--profile: ${String(err)}`);
    }
  }
  notes.push("--profile: no inspector of the Worker found on the workerd processes");
  return undefined;
}

export async function stopProfiler(p: InspectorProfiler, path: string, notes: string[], startedAtMs: number) {
  try {
    const profile = await p.stop();
    writeJson(path, profile);
    const s = summarizeProfile(profile, ROOT, bundleResolver(ROOT, startedAtMs));
    const top = (k: "selfMs" | "totalMs", n: number) =>
      [...s.functions]
        .sort((a, b) => b[k] - a[k])
        .slice(0, n)
        .map((f) => ({ name: f.name, location: f.location, selfMs: round(f.selfMs), totalMs: round(f.totalMs) }));
    return { file: path, sampledMs: round(s.sampledMs), idleMs: round(s.idleMs), topSelf: top("selfMs", 30), topTotal: top("totalMs", 40) };
  } catch (err) {
    notes.push(`--profile: ${String(err)}`);
    return undefined;
  } finally {
    p.close();
  }
}

/** Removes every app of a cluster (force), so a real agent kills its tasks before it stops. */
export async function deleteAllApps(api: Api): Promise<void> {
  try {
    const apps = (await api.call<{ apps: { id: string }[] }>("GET", api.c("/v2/apps"))).body.apps;
    for (const a of apps) await api.call("DELETE", api.c(`/v2/apps${a.id}?force=true`), undefined, true);
    if (apps.length) await sleep(1000);
  } catch {
    // The control plane may be gone; the agent's own kill-on-exit and the sweep below remain.
  }
}

/** Kills processes whose working directory is under `dir` (task sandboxes of our agents). */
export function killProcessesUnder(dir: string): void {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${name}/cwd`);
    } catch {
      continue;
    }
    if (cwd === dir || cwd.startsWith(dir + "/")) {
      try {
        process.kill(Number(name), "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}
