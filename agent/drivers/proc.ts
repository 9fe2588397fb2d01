import { readFileSync, readdirSync } from "node:fs";
import os from "node:os";

/**
 * What the exec driver reads of a process from Linux's /proc, and how it signals a task's
 * process group. Reading /proc rather than keeping child handles is what lets an agent that
 * restarted watch tasks it is no longer the parent of.
 */

/** The fields of /proc/<pid>/stat the driver uses. */
export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie: exited, not yet reaped), T, X… */
  state: string;
  ppid: number;
  pgid: number;
  /** Clock ticks after boot at which the process started: with the pid, it names one process. */
  startTime: number;
}

/** Reads /proc/<pid>/stat; undefined when there is no such process (or no /proc). */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Field 2 (comm) is in parentheses and may itself hold spaces and ')', so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After comm: [0] state (field 3), [1] ppid (field 4), [2] pgrp (field 5), [19] starttime (field 22).
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (state === undefined || !Number.isSafeInteger(ppid) || !Number.isSafeInteger(pgid) || !Number.isSafeInteger(startTime)) return undefined;
  return { pid, state, ppid, pgid, startTime };
}

/** `pid` and every process descended from it, parents before children (one pass over /proc). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const stat = /^\d+$/.test(entry) ? readProcStat(Number(entry)) : undefined;
    if (stat !== undefined) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat.pid]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i] ?? 0) ?? []));
  return tree;
}

/**
 * Whether the process `pid` that started at `startTime` still runs. A zombie has ended; a pid
 * with another start time is a different process that reused the number. A start time of 0
 * (unknown) trusts the pid alone.
 */
export function isRunning(pid: number, startTime: number): boolean {
  const stat = readProcStat(pid);
  if (stat === undefined || stat.state === "Z" || stat.state === "X") return false;
  return startTime === 0 || stat.startTime === startTime;
}

/**
 * Sends `signal` to every process of group `pgid`, whose leader is `pid` started at
 * `startTime`. Returns whether any process got it.
 *
 * Safe against pid reuse: while the leader lives with its start time, the group is ours. Once
 * the leader is gone, Linux does not hand its number out again while any process still uses it
 * as a group id, so remaining members are ours too. Only a leader pid held by a process with
 * another start time means the number was reused, and then nothing is sent.
 */
export function signalGroup(pid: number, pgid: number, startTime: number, signal: NodeJS.Signals): boolean {
  // kill(0) and kill(-1) would hit the agent's own group or every process: never let a damaged record get there.
  if (!Number.isSafeInteger(pgid) || pgid <= 1) return false;
  const leader = readProcStat(pid);
  if (leader !== undefined && startTime !== 0 && leader.startTime !== startTime) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ESRCH") return false;
    throw error;
  }
}

/** Number to name; where two names share a number (SIGABRT, SIGIOT) the first listed, the usual one, wins. */
const SIGNAL_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(os.constants.signals)
    .reverse()
    .map(([name, number]) => [number, name]),
);

/** `SIGTERM` for 15; undefined for a number that is no signal. */
export function signalName(signal: number): string | undefined {
  return SIGNAL_NAMES.get(signal);
}
