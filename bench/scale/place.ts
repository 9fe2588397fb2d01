/** Phase 3 of the scale benchmark: M instances of one Marathon app over the simulated agents. */
import type { Api } from "../lib/api.ts";
import { cpuByPid, sumCpuDelta } from "../lib/procfs.ts";
import { round } from "../lib/report.ts";
import type { SimAgents } from "../lib/sim.ts";
import { log, sleep, type Options } from "./common.ts";

const APP_ID = "/bench/scale";

/**
 * POSTs one app of `opts.tasks` instances and waits for the master to count them all RUNNING
 * (GET /v2/apps?id=, one request in flight, `pollMs` apart): placements per second is the
 * instances over that time. The simulated agents time the last launch frame and the last ack.
 */
export async function placeTasks(api: Api, sim: SimAgents, opts: Options, runtime: number[]) {
  const notes: string[] = [];
  const statsBefore = await sim.stats();
  const mark = await sim.mark(opts.tasks);
  const epoch0 = performance.timeOrigin + performance.now();
  const cpu = cpuByPid(runtime);
  const t0 = performance.now();
  log(`POST ${APP_ID} with ${opts.tasks} instances`);
  const post = await api.call<unknown>("POST", api.c("/v2/apps"), { id: APP_ID, cmd: "sleep 600", cpus: 0.01, mem: 1, disk: 0, instances: opts.tasks, portDefinitions: [] }, true);
  const postMs = post.doneAt - t0;
  if (post.status !== 201) throw new Error(`POST /v2/apps -> ${post.status}: ${JSON.stringify(post.body).slice(0, 300)}`);
  const launched = sim.wait((e) => e.event === "launched" && e.id === mark, opts.timeoutMs, "all launch frames").catch((err: unknown) => {
    notes.push(String(err));
    return undefined;
  });
  const acked = sim.wait((e) => e.event === "acked" && e.id === mark, opts.timeoutMs, "all RUNNING acked").catch(() => undefined);
  let running = 0;
  let polls = 0;
  let slowestPollMs = 0;
  let allRunningMs: number | null = null;
  let lastLog = 0;
  while (performance.now() - t0 < opts.timeoutMs) {
    const r = await api.call<{ apps: { id: string; tasksRunning: number }[] }>("GET", api.c(`/v2/apps?id=${encodeURIComponent(APP_ID)}`));
    polls++;
    slowestPollMs = Math.max(slowestPollMs, r.doneAt - r.sentAt);
    running = r.body.apps.find((a) => a.id === APP_ID)?.tasksRunning ?? 0;
    if (running >= opts.tasks) {
      allRunningMs = r.doneAt - t0;
      break;
    }
    if (r.doneAt - lastLog > 2000) {
      lastLog = r.doneAt;
      log(`${running}/${opts.tasks} RUNNING after ${((r.doneAt - t0) / 1000).toFixed(1)} s`);
    }
    await sleep(opts.pollMs);
  }
  const cpuMs = sumCpuDelta(cpu, cpuByPid([...cpu.keys()]));
  if (allRunningMs === null) notes.push(`after ${opts.timeoutMs / 1000} s the master counted ${running} of ${opts.tasks} tasks running`);
  const [l, a] = await Promise.all([launched, acked]);
  const after = await sim.stats();
  const pps = allRunningMs === null ? null : round(opts.tasks / (allRunningMs / 1000));
  log(`${opts.tasks} RUNNING in ${allRunningMs === null ? "n/a" : (allRunningMs / 1000).toFixed(2)} s: ${pps ?? "n/a"} placements/s`);
  return {
    placementsPerSecond: pps,
    notes,
    detail: {
      tasks: opts.tasks,
      postResponseMs: round(postMs),
      allLaunchFramesMs: l ? round(Number(l.at) - epoch0) : null,
      allRunningAckedMs: a ? round(Number(a.at) - epoch0) : null,
      allRunningMs: allRunningMs === null ? null : round(allRunningMs),
      placementsPerSecondByAck: a ? round(opts.tasks / ((Number(a.at) - epoch0) / 1000)) : null,
      polls,
      slowestPollMs: round(slowestPollMs),
      runtimeCpuMs: round(cpuMs),
      runtimeCpuMsPerPlacement: round(cpuMs / opts.tasks, 3),
      // Counted since the mark: frames of this phase only.
      launchFrames: Number(after.launchFrames),
      statusFrames: Number(after.statusFrames),
      ackFrames: Number(after.ackFrames),
      framesFromAgents: Number(after.framesOut) - Number(statsBefore.framesOut) - (Number(after.pings) - Number(statsBefore.pings)),
      measuredBy: "all RUNNING = the first GET /v2/apps?id= answer with tasksRunning = tasks (one request in flight); allRunningAckedMs = when the simulated agents held an ack for every TASK_RUNNING update (a lower bound of the same moment)",
    },
  };
}
