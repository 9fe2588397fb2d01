/**
 * Which part of the isolate's time was the Cluster object's: the runtime workerd runs the Worker
 * and the object in one isolate, so its CPU alone cannot say. A V8 CPU profile of the phase is
 * split by the innermost frame from our sources on each sample's stack: control/cluster/** is the
 * object (with the drizzle, SQLite, D1 and protocol/ calls it makes), the rest of control/ (routes,
 * auth) the Worker; samples with no frame of ours (GC, wrangler's middleware) are left apart.
 */
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { bundleResolver, findWorkerInspector, InspectorProfiler, type CpuProfile } from "../lib/inspector.ts";
import { round } from "../lib/report.ts";

export interface Attribution {
  sampledMs: number;
  idleMs: number;
  objectMs: number;
  workerMs: number;
  otherMs: number;
  /** The object's part of the isolate's busy time. */
  objectShare: number;
}

/** Starts a sampling profile of the Worker isolate (1 ms interval: light enough to leave on). */
export async function startSampling(proxyPids: number[]): Promise<InspectorProfiler | undefined> {
  for (const pid of proxyPids) {
    const url = await findWorkerInspector(pid);
    if (!url) continue;
    try {
      const p = await InspectorProfiler.connect(url);
      await p.start(1000);
      return p;
    } catch {
      // try the next
    }
  }
  return undefined;
}

export async function stopSampling(p: InspectorProfiler | undefined, startedAtMs: number): Promise<Attribution | undefined> {
  if (!p) return undefined;
  try {
    return attribute(await p.stop(), startedAtMs);
  } catch {
    return undefined;
  } finally {
    p.close();
  }
}

function attribute(profile: CpuProfile, startedAtMs: number): Attribution {
  const resolve = bundleResolver(ROOT, startedAtMs);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const owner = new Map<number, "object" | "worker" | "other" | "idle">();
  const ownerOf = (leaf: number): "object" | "worker" | "other" | "idle" => {
    const known = owner.get(leaf);
    if (known) return known;
    let found: "object" | "worker" | "other" | "idle" = byId.get(leaf)?.callFrame.functionName === "(idle)" ? "idle" : "other";
    for (let id: number | undefined = leaf; id !== undefined && found === "other"; id = parent.get(id)) {
      const cf = byId.get(id)?.callFrame;
      if (!cf?.url.endsWith("index.js") || !resolve) continue;
      const at = resolve(cf.lineNumber, cf.columnNumber ?? 0) ?? "";
      // protocol/ is shared by both sides: its frames count for whoever called them.
      if (at.startsWith("control/cluster/")) found = "object";
      else if (at.startsWith("control/")) found = "worker";
    }
    owner.set(leaf, found);
    return found;
  };
  const ms = { object: 0, worker: 0, other: 0, idle: 0 };
  profile.samples.forEach((node, i) => {
    ms[ownerOf(node)] += (profile.timeDeltas[i] ?? 0) / 1000;
  });
  const busy = ms.object + ms.worker + ms.other;
  return {
    sampledMs: round(busy + ms.idle),
    idleMs: round(ms.idle),
    objectMs: round(ms.object),
    workerMs: round(ms.worker),
    otherMs: round(ms.other),
    objectShare: busy > 0 ? round(ms.object / busy, 3) : 0,
  };
}
