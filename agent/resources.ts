import { statfsSync } from "node:fs";
import os from "node:os";
import { Resources } from "../protocol/index.ts";
import type { PortRange } from "../protocol/index.ts";

/**
 * What this machine offers to the cluster. Like the Mesos agent, DCX keeps part of the memory
 * and disk for the OS and the agent itself, and offers the rest.
 */

const MIB = 1024 * 1024;
/** Memory kept back: 1 GiB, or half the machine when it has less than 2 GiB. */
export const MEM_RESERVE_MAX_MB = 1024;
/** Disk kept back: 5 GiB, or half the filesystem when it is smaller than 10 GiB. */
export const DISK_RESERVE_MAX_MB = 5 * 1024;
/** The port range Mesos agents offer by default. */
export const DEFAULT_PORTS: readonly PortRange[] = [[31000, 32000]];

/** What the host looks like; injectable so tests can describe any machine. */
export interface HostFacts {
  cpuCount: number;
  totalMemBytes: number;
  /** Size of the filesystem holding the work dir. */
  diskBytes: number;
}

/** Reads the facts of this machine; `workDir` must exist. */
export function readHostFacts(workDir: string): HostFacts {
  const fs = statfsSync(workDir);
  return {
    // os.cpus() is empty on some restricted containers; availableParallelism still answers.
    cpuCount: os.cpus().length || os.availableParallelism(),
    totalMemBytes: os.totalmem(),
    diskBytes: fs.blocks * fs.bsize,
  };
}

/** Total minus a reserve of min(cap, total/2), in whole MB. */
export function afterReserve(totalMb: number, reserveCapMb: number): number {
  return Math.floor(totalMb - Math.min(reserveCapMb, totalMb / 2));
}

/** The resources a machine with these facts offers when the operator names none. */
export function resourcesFromFacts(facts: HostFacts): Resources {
  return {
    cpus: facts.cpuCount,
    mem: afterReserve(facts.totalMemBytes / MIB, MEM_RESERVE_MAX_MB),
    disk: afterReserve(facts.diskBytes / MIB, DISK_RESERVE_MAX_MB),
    gpus: 0,
    ports: DEFAULT_PORTS.map((range) => [...range]),
  };
}

/**
 * Detected resources with the operator's `--resources` entries laid over them: a named entry
 * replaces the detected one, the others stay. Throws if the result breaks the protocol schema.
 */
export function mergeResources(detected: Resources, overrides: Partial<Resources>): Resources {
  const named = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const checked = Resources.safeParse({ ...detected, ...named });
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new Error(`resources ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  return checked.data;
}

/** This machine's resources, with the operator's overrides applied. */
export function resolveResources(workDir: string, overrides: Partial<Resources>): Resources {
  return mergeResources(resourcesFromFacts(readHostFacts(workDir)), overrides);
}

/** The hostname to report when `--hostname` is not given. */
export function detectHostname(): string {
  return os.hostname();
}

type Interfaces = ReturnType<typeof os.networkInterfaces>;

/**
 * The IP to report when `--advertise-ip` is not given: the first non-internal IPv4 address, so
 * a multi-homed machine is reachable by other agents; loopback when the machine has none.
 */
export function detectAdvertiseIp(interfaces: Interfaces = os.networkInterfaces()): string {
  for (const addresses of Object.values(interfaces)) {
    for (const address of addresses ?? []) {
      if (address.family === "IPv4" && !address.internal) return address.address;
    }
  }
  return "127.0.0.1";
}
