/** The scale benchmark's table. */
import { fmt, table, type Row } from "../lib/report.ts";
import { TARGETS } from "./common.ts";

interface ScaleResult {
  agents: number;
  tasks: number;
  registrationCpuMsPerAgent: number;
  timeToAllActiveSeconds: number;
  placementsPerSecond: number | null;
  clusterHeapMb: number | null;
  stormRecoverySeconds: number | null;
  apiP99MsDuringStorm: number | null;
  storm: {
    api: { p50Ms: number; calls: number; failures: number };
    resumed: number;
    deferred: number;
    heldAtGateways: number;
    reconnectWindowMs: number;
  } | null;
  idle: { pingsPerAgentPerMinute: number; runtimeCpuMsPerSecond: number } | null;
  placement: {
    allRunningAckedMs: number | null;
    runningCountedByMaster: number;
    postResponseMs: number;
    runtimeCpuMsPerPlacement: number;
    launchFrames: number;
    statusFrames: number;
  };
}

const verdict = (ok: boolean, target: string) => (ok ? `target ${target}: met` : `MISSES target ${target}`);

export function printTable(r: ScaleResult): void {
  const p = r.placement;
  const rows: Row[] = [
    { name: "agents", value: fmt(r.agents, 0), note: `all active after ${fmt(r.timeToAllActiveSeconds, 1)} s` },
    {
      name: "registrationCpuMsPerAgent",
      value: fmt(r.registrationCpuMsPerAgent, 2),
      note: `${verdict(r.registrationCpuMsPerAgent < TARGETS.registrationCpuMsPerAgent, `< ${TARGETS.registrationCpuMsPerAgent}`)} (the Cluster object's share of the runtime's CPU)`,
    },
    {
      name: "idle runtime CPU",
      value: fmt(r.idle?.runtimeCpuMsPerSecond, 1, " ms/s"),
      note: `${fmt(r.idle?.pingsPerAgentPerMinute, 1)} pings per agent per minute`,
    },
    { name: "tasks", value: fmt(r.tasks, 0) },
    {
      name: "placementsPerSecond",
      value: fmt(r.placementsPerSecond, 0),
      note: verdict((r.placementsPerSecond ?? 0) >= TARGETS.placementsPerSecond, `>= ${TARGETS.placementsPerSecond}`),
    },
    { name: "  POST response", value: fmt(p.postResponseMs, 0, " ms") },
    {
      name: "  all RUNNING acked at sim",
      value: fmt(p.allRunningAckedMs, 0, " ms"),
      note: `${fmt(p.launchFrames, 0)} launch frames, ${fmt(p.statusFrames, 0)} status frames`,
    },
    { name: "  RUNNING counted by the master", value: fmt(p.runningCountedByMaster, 0), note: "GET /v2/apps?id= after the last ack" },
    { name: "  runtime CPU per placement", value: fmt(p.runtimeCpuMsPerPlacement, 3, " ms") },
    {
      name: "stormRecoverySeconds",
      value: fmt(r.stormRecoverySeconds, 1),
      note: r.storm
        ? `${verdict((r.stormRecoverySeconds ?? Infinity) <= TARGETS.stormRecoverySeconds, `<= ${TARGETS.stormRecoverySeconds}`)} (window ${fmt(r.storm.reconnectWindowMs / 1000, 1)} s; ${fmt(r.storm.resumed, 0)} resumed, ${fmt(r.storm.heldAtGateways, 0)} held, ${fmt(r.storm.deferred, 0)} told to retry)`
        : "storm skipped",
    },
    {
      name: "apiP99MsDuringStorm",
      value: fmt(r.apiP99MsDuringStorm, 0),
      note: r.storm
        ? `${verdict((r.apiP99MsDuringStorm ?? Infinity) < TARGETS.apiP99MsDuringStorm, `< ${TARGETS.apiP99MsDuringStorm}`)} (p50 ${fmt(r.storm.api.p50Ms, 0)} ms, ${r.storm.api.calls} calls, ${r.storm.api.failures} failed)`
        : "",
    },
    {
      name: "clusterHeapMb",
      value: fmt(r.clusterHeapMb, 1),
      note: verdict((r.clusterHeapMb ?? Infinity) < TARGETS.clusterHeapMb, `< ${TARGETS.clusterHeapMb}`),
    },
  ];
  process.stdout.write(`\n${table(`DCX scale: ${r.agents} simulated agents, ${r.tasks} tasks, one Cluster object`, rows)}\n`);
}
