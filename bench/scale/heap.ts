/** The isolate's V8 heap during and after the scale run. */
import { isolateHeap, retainedHeap } from "../lib/inspector.ts";
import { controlPlaneProcesses, inspectorPids } from "../lib/procfs.ts";
import { round } from "../lib/report.ts";
import { workerdMemory } from "../placement/cpu.ts";
import { log } from "./common.ts";

const proxyPids = (wranglerPid: number) => inspectorPids(controlPlaneProcesses(wranglerPid));

/**
 * Samples the isolate's used heap every `everyMs` until stopped: the peak of a phase (what the
 * 128 MB limit is about while a round runs), garbage included.
 */
export function heapSampler(wranglerPid: number, everyMs = 1000) {
  let peakUsedMb = 0;
  let peakTotalMb = 0;
  let stopped = false;
  const pids = proxyPids(wranglerPid);
  const loop = (async () => {
    while (!stopped) {
      const h = await isolateHeap(pids).catch(() => undefined);
      if (h) {
        peakUsedMb = Math.max(peakUsedMb, h.usedMb);
        peakTotalMb = Math.max(peakTotalMb, h.totalMb);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { peakUsedMb: round(peakUsedMb), peakTotalMb: round(peakTotalMb) };
    },
  };
}

/**
 * What the isolate retains once the run settles: the heap after the full collection V8 makes
 * before a heap snapshot (cluster state held in memory, indexes, socket wrappers), plus workerd's RSS.
 */
export async function heapAfter(wranglerPid: number) {
  const retained = await retainedHeap(proxyPids(wranglerPid));
  const memory = await workerdMemory(wranglerPid);
  const clusterHeapMb = retained ? round(retained.usedMb) : null;
  log(`isolate heap after a full GC: ${clusterHeapMb ?? "n/a"} MB used, ${retained ? round(retained.totalMb) : "n/a"} MB allocated`);
  return { clusterHeapMb, retainedTotalMb: retained ? round(retained.totalMb) : null, memory };
}
