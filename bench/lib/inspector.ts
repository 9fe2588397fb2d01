import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { SourceMap } from "node:module";
import { join, relative } from "node:path";
import WebSocket from "ws";

/**
 * A CPU profile of the user Worker's isolate (the Worker and its Durable Objects share it)
 * through the V8 inspector. Under Miniflare's API the runtime's own inspector serves it
 * (`core:user:<name>`). wrangler dev holds that session and re-serves it from its proxy workerd
 * (`/ws`, which wants `Host: localhost`); a second direct session to its runtime is accepted but
 * never answered, so the proxy's is used (procfs.ts inspectorPids).
 * Optional: sampling perturbs the timings it explains.
 */

/** Loopback TCP ports a process listens on (from /proc/net/tcp and its socket fds). */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m?.[1]) inodes.add(m[1]);
      } catch {
        // fd closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && f[9] && inodes.has(f[9])) ports.push(parseInt(f[1]?.split(":")[1] ?? "0", 16));
    }
  }
  return ports;
}

/** The inspector WebSocket URL of the user worker served by a workerd process (proxy `/ws`, or runtime `core:user:<name>`). */
export async function findWorkerInspector(pid: number): Promise<string | undefined> {
  for (const port of listeningPorts(pid)) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) continue;
      const targets = (await res.json()) as { id: string; webSocketDebuggerUrl: string }[];
      const user = targets.find((t) => t.id.startsWith("core:user:")) ?? targets.find((t) => (t as { title?: string }).title === "Cloudflare Worker");
      if (user) return user.webSocketDebuggerUrl;
    } catch {
      // not an inspector
    }
  }
  return undefined;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export class InspectorProfiler {
  private readonly ws: WebSocket;
  private nextId = 7001;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data) => {
      let msg: { id?: number; result?: unknown; error?: { message: string } };
      try {
        msg = JSON.parse(String(data)) as typeof msg;
      } catch {
        return;
      }
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result ?? {});
    });
  }

  static async connect(url: string): Promise<InspectorProfiler> {
    const ws = new WebSocket(url, { headers: { Host: "localhost" }, perMessageDeflate: false, maxPayload: 1024 * 2 ** 20 });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the inspector at ${url} did not open`)), 5000);
      ws.once("open", () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot open the inspector at ${url}: ${err.message}`));
      });
    });
    return new InspectorProfiler(ws);
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`inspector: no answer to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async start(intervalUs = 200): Promise<void> {
    await this.call("Profiler.enable");
    await this.call("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.call("Profiler.start");
  }

  async stop(): Promise<CpuProfile> {
    const { profile } = await this.call<{ profile: CpuProfile }>("Profiler.stop", {}, 60_000);
    return profile;
  }

  close(): void {
    this.ws.terminate();
  }
}

export interface HotFunction {
  name: string;
  location: string;
  selfMs: number;
  totalMs: number;
}

/** Maps a position in wrangler's bundle to its source, `control/cluster/tasks.ts:80`. */
export type Resolver = (line: number, column: number) => string | undefined;

/**
 * The source map of the bundle `wrangler dev` built (under `<root>/.wrangler/tmp/dev-*`) or
 * startControlPlane built for Miniflare (`bundle-*`):
 * the newest one written since `sinceMs`. Other sessions in the same tree may build theirs
 * too; a bundle of the same sources maps the same way.
 */
export function bundleResolver(rootDir: string, sinceMs: number): Resolver | undefined {
  const tmp = join(rootDir, ".wrangler", "tmp");
  let best: { path: string; mtime: number } | undefined;
  try {
    for (const d of readdirSync(tmp)) {
      if (!d.startsWith("dev-") && !d.startsWith("bundle-")) continue;
      const path = join(tmp, d, "index.js.map");
      try {
        const mtime = statSync(path).mtimeMs;
        if (mtime >= sinceMs - 1000 && (!best || mtime > best.mtime)) best = { path, mtime };
      } catch {
        // no map here
      }
    }
    if (!best) return undefined;
    const map = new SourceMap(JSON.parse(readFileSync(best.path, "utf8")));
    const dir = join(best.path, "..");
    return (line, column) => {
      const e = map.findEntry(line, column) as { originalSource?: string; originalLine?: number };
      if (!e.originalSource) return undefined;
      const source = e.originalSource.replace(/^file:\/\//, "");
      const abs = source.startsWith("/") ? source : join(dir, source);
      return `${relative(rootDir, abs).replace(/^(\.\.\/)+/, "")}:${(e.originalLine ?? 0) + 1}`;
    };
  } catch {
    return undefined;
  }
}

/** Self and inclusive time per function (name + location), from a V8 CPU profile. */
export function summarizeProfile(profile: CpuProfile, rootDir: string, resolve?: Resolver): { sampledMs: number; idleMs: number; functions: HotFunction[] } {
  const selfByNode = new Map<number, number>();
  profile.samples.forEach((node, i) => selfByNode.set(node, (selfByNode.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keys = new Map<number, string>();
  const key = (n: ProfileNode) => {
    let k = keys.get(n.id);
    if (k === undefined) {
      const cf = n.callFrame;
      const url = cf.url.replace(/^file:\/\//, "").replace(rootDir, "");
      const mapped = url === "index.js" && resolve ? resolve(cf.lineNumber, cf.columnNumber ?? 0) : undefined;
      k = `${cf.functionName || "(anonymous)"}\t${mapped ?? (url ? `${url.split("/").slice(-2).join("/")}:${cf.lineNumber + 1}` : "")}`;
      keys.set(n.id, k);
    }
    return k;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let idle = 0;
  let sampled = 0;
  for (const [nodeId, ms] of selfByNode) {
    const node = byId.get(nodeId);
    if (!node) continue;
    sampled += ms;
    if (node.callFrame.functionName === "(idle)") idle += ms;
    self.set(key(node), (self.get(key(node)) ?? 0) + ms);
    // Inclusive: once per distinct function on the stack.
    const seen = new Set<string>();
    for (let id: number | undefined = nodeId; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id);
      if (!n) break;
      const k = key(n);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + ms);
    }
  }
  const functions = [...self.keys(), ...total.keys()]
    .filter((k, i, all) => all.indexOf(k) === i)
    .map((k) => {
      const [name = "", location = ""] = k.split("\t");
      return { name, location, selfMs: self.get(k) ?? 0, totalMs: total.get(k) ?? 0 };
    });
  return { sampledMs: sampled, idleMs: idle, functions };
}

/**
 * The V8 heap of the user Worker's isolate (the Worker and its Durable Objects share it), as
 * `Runtime.getHeapUsage` reports it: what the isolate holds, without the runtime, SQLite or
 * socket buffers. No GC is forced (workerd does not answer HeapProfiler.collectGarbage), so
 * `usedMb` includes garbage not yet collected.
 */
export function isolateHeap(workerdPids: number[]): Promise<{ usedMb: number; totalMb: number } | undefined> {
  return heapUsage(workerdPids, 5000);
}

/**
 * The isolate's heap after a full garbage collection: V8 collects before it takes a heap
 * snapshot (`HeapProfiler.takeHeapSnapshot`, which workerd answers where it does not answer
 * `HeapProfiler.collectGarbage`), so `Runtime.getHeapUsage` right after it is what is retained.
 * The snapshot's chunks stream back over the socket and are dropped here.
 */
export function retainedHeap(workerdPids: number[]): Promise<{ usedMb: number; totalMb: number } | undefined> {
  return heapUsage(workerdPids, 10_000, async (p) => {
    await p.call("HeapProfiler.enable", {}, 10_000);
    await p.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 180_000);
  });
}

/** `Runtime.getHeapUsage` of the first Worker inspector that answers, after `first` (if any) ran on it. */
async function heapUsage(
  workerdPids: number[],
  timeoutMs: number,
  first?: (p: InspectorProfiler) => Promise<void>,
): Promise<{ usedMb: number; totalMb: number } | undefined> {
  for (const pid of workerdPids) {
    const url = await findWorkerInspector(pid);
    if (!url) continue;
    let p: InspectorProfiler | undefined;
    try {
      p = await InspectorProfiler.connect(url);
      await first?.(p);
      const h = await p.call<{ usedSize: number; totalSize: number }>("Runtime.getHeapUsage", {}, timeoutMs);
      return { usedMb: h.usedSize / 2 ** 20, totalMb: h.totalSize / 2 ** 20 };
    } catch {
      // try the next
    } finally {
      p?.close();
    }
  }
  return undefined;
}
