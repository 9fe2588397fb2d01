/** Phase 3 of the scale benchmark: M instances of one Marathon app over the simulated agents. */
import type { Api } from "../lib/api.ts";
import { cpuByPid, sumCpuDelta } from "../lib/procfs.ts";
import { round } from "../lib/report.ts";
import type { SimAgents } from "../lib/sim.ts";
import { log, sleep, type Options } from "./common.ts";

const APP_ID = "/bench/scale";

/**
 * POSTs one app of `opts.tasks` instances and waits until the simulated agents hold an ack for
 * every TASK_RUNNING update: the master writes an update before it acks it, so that is the moment
 * the master has recorded them all RUNNING. The master's own count is then read once
 * (GET /v2/apps?id=) to confirm it, and every `pollMs` meanwhile for progress: that GET reads
 * every task of the app, so polling it often would take the object's time from the placements.
 */
export async function placeTasks(api: Api, sim: SimAgents, opts: Options, runtime: number[]) {
  const notes: string[] = [];
  const statsBefore = await sim.stats();
  const mark = await sim.mark(opts.tasks);
  const epoch0 = performance.timeOrigin + performance.now();
  const cpu = cpuByPid(runtime);
  // The load generator shares this machine's cores with the runtime: its CPU says how much of the wall time was its.
  const simCpu = cpuByPid([sim.pid]);
  const t0 = performance.now();
  log(`POST ${APP_ID} with ${opts.tasks} instances`);
  const post = await api.call<unknown>(
    "POST",
    api.c("/v2/apps"),
    { id: APP_ID, cmd: "sleep 600", cpus: 0.01, mem: 1, disk: 0, instances: opts.tasks, portDefinitions: [] },
    true,
  );
  const postMs = post.doneAt - t0;
  if (post.status !== 201) throw new Error(`POST /v2/apps -> ${post.status}: ${JSON.stringify(post.body).slice(0, 300)}`);
  const launched = sim
    .wait((e) => e.event === "launched" && e.id === mark, opts.timeoutMs, "all launch frames")
    .catch((err: unknown) => {
      notes.push(String(err));
      return undefined;
    });
  let ackedAt: number | undefined;
  const acked = sim
    .wait((e) => e.event === "acked" && e.id === mark, opts.timeoutMs, "all RUNNING acked")
    .then(
      (e) => {
        ackedAt = Number(e.at);
        return e;
      },
      (err: unknown) => {
        notes.push(String(err));
        return undefined;
      },
    );
  const polls: { atMs: number; running: number; tookMs: number }[] = [];
  const running = async () => {
    const r = await api.call<{ apps: { id: string; tasksRunning: number }[] }>("GET", api.c(`/v2/apps?id=${encodeURIComponent(APP_ID)}`));
    const n = r.body.apps.find((a) => a.id === APP_ID)?.tasksRunning ?? 0;
    polls.push({ atMs: round(r.doneAt - t0), running: n, tookMs: round(r.doneAt - r.sentAt) });
    return n;
  };
  while (ackedAt === undefined && performance.now() - t0 < opts.timeoutMs) {
    await Promise.race([acked, sleep(opts.pollMs)]);
    if (ackedAt !== undefined) break;
    log(`${await running()}/${opts.tasks} RUNNING after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const cpuMs = sumCpuDelta(cpu, cpuByPid([...cpu.keys()]));
  const simCpuMs = sumCpuDelta(simCpu, cpuByPid([sim.pid]));
  const [l, a] = await Promise.all([launched, acked]);
  const counted = await running();
  if (counted < opts.tasks) notes.push(`the master counted ${counted} of ${opts.tasks} tasks running at the end`);
  const after = await sim.stats();
  const allAckedMs = a ? Number(a.at) - epoch0 : null;
  const pps = allAckedMs === null || counted < opts.tasks ? null : round(opts.tasks / (allAckedMs / 1000));
  log(`${counted} RUNNING; all acked after ${allAckedMs === null ? "n/a" : (allAckedMs / 1000).toFixed(2)} s: ${pps ?? "n/a"} placements/s`);
  return {
    placementsPerSecond: pps,
    notes,
    detail: {
      tasks: opts.tasks,
      postResponseMs: round(postMs),
      allLaunchFramesMs: l ? round(Number(l.at) - epoch0) : null,
      allRunningAckedMs: allAckedMs === null ? null : round(allAckedMs),
      runningCountedByMaster: counted,
      polls,
      runtimeCpuMs: round(cpuMs),
      runtimeCpuMsPerPlacement: round(cpuMs / opts.tasks, 3),
      simAgentsCpuMs: round(simCpuMs),
      // Counted since the mark: frames of this phase only.
      launchFrames: Number(after.launchFrames),
      statusFrames: Number(after.statusFrames),
      ackFrames: Number(after.ackFrames),
      // The simulated agents count pings apart from their other frames.
      framesFromAgents: Number(after.framesOut) - Number(statsBefore.framesOut),
      measuredBy:
        "placementsPerSecond = tasks / the time from sending the POST until the simulated agents held an ack for every TASK_RUNNING update (the master writes an update before acking it), confirmed by one GET /v2/apps?id= counting them all running; polls lists the progress reads (each reads every task of the app, so they are spaced pollMs apart) and how long each took",
    },
  };
}
