import { statfsSync } from "node:fs";
import { DIAGNOSTICS_CHECK_MS, DIAGNOSTICS_REFRESH_MS, MAX_BUNDLE_LOG_BYTES, MAX_FRAME_BYTES } from "../protocol/index.ts";
import type { AgentMessage, Bundle, BundleData, DiagnosticCheck } from "../protocol/index.ts";
import type { DriverFingerprint } from "./drivers/driver.ts";
import { errorMessage } from "./log.ts";

/**
 * The agent's self-checks, as DC/OS's diagnostics service runs them on every node: the
 * connection to the master, cgroup isolation, the Docker daemon, the DNS forwarder and the free
 * disk of the work dir (the master adds the clock skew it measures from `sentAt`). They run every
 * DIAGNOSTICS_CHECK_MS; a `diagnostics` frame goes out when a session comes up, when a status
 * changes, and at least every DIAGNOSTICS_REFRESH_MS, so a quiet cluster is not woken every minute.
 */

/** Below either limit the work dir counts as short of disk: tasks' sandboxes and logs live there. */
export const MIN_FREE_DISK_BYTES = 512 * 1024 * 1024;
export const MIN_FREE_DISK_FRACTION = 0.05;
/** More reconnects than this within an hour make the connection check unhealthy (it flaps). */
export const MAX_RECONNECTS_PER_HOUR = 5;

/** What the checks read from the agent; each is a function so the checks always see the present. */
export interface DiagnosticsSources {
  workDir: string;
  /** The task drivers' fingerprints (exec's carries its isolation). */
  drivers: () => DriverFingerprint[];
  /** Whether a docker socket was configured at all. */
  dockerConfigured: boolean;
  /** The DNS forwarder's address while it runs; undefined when it is not configured. */
  dns: () => string | undefined;
  /** Free and total bytes of the work dir's filesystem; statfs by default. */
  disk?: (workDir: string) => { freeBytes: number; totalBytes: number };
  now?: () => number;
}

export class AgentDiagnostics {
  private readonly sessionStarts: number[] = [];
  private connectedSince: number | undefined;
  private lastSent: { key: string; at: number } | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private send: ((message: AgentMessage) => void) | undefined;
  private readonly now: () => number;

  constructor(private readonly sources: DiagnosticsSources) {
    this.now = sources.now ?? Date.now;
  }

  /** A session came up: report at once, then keep checking while it lasts. */
  connected(send: (message: AgentMessage) => void): void {
    const now = this.now();
    this.sessionStarts.push(now);
    this.connectedSince = now;
    this.send = send;
    this.lastSent = undefined;
    this.report();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.report(), DIAGNOSTICS_CHECK_MS);
    this.timer.unref();
  }

  disconnected(): void {
    this.send = undefined;
    this.connectedSince = undefined;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.disconnected();
  }

  /** Answers the master's `bundle` request with the checks and the recent log lines. */
  answerBundle(request: Bundle, recentLogs: string): void {
    if (this.send === undefined) return;
    const frame: BundleData = { type: "bundleData", requestId: request.requestId, checks: this.checks(), sentAt: this.now(), logs: recentLogs };
    // The logs are JSON lines inside a JSON string: quotes and backslashes grow when escaped, so
    // the oldest lines go until the encoded frame fits the protocol's limit.
    for (let over = JSON.stringify(frame).length - MAX_FRAME_BYTES; over > 0; over = JSON.stringify(frame).length - MAX_FRAME_BYTES) {
      const cut = frame.logs.indexOf("\n", over);
      frame.logs = cut < 0 ? "" : frame.logs.slice(cut + 1);
    }
    this.send(frame);
  }

  /** Runs every check now. Never throws: a check that fails to run is itself unhealthy. */
  checks(): DiagnosticCheck[] {
    return [this.connection(), this.cgroups(), this.docker(), this.dns(), this.disk()];
  }

  /** Sends the checks if their statuses changed since the last report, or the last one is getting old. */
  private report(): void {
    if (this.send === undefined) return;
    const checks = this.checks();
    const key = checks.map((c) => `${c.name}=${c.status}`).join(",");
    const now = this.now();
    if (this.lastSent !== undefined && this.lastSent.key === key && now - this.lastSent.at < DIAGNOSTICS_REFRESH_MS) return;
    this.lastSent = { key, at: now };
    this.send({ type: "diagnostics", checks, sentAt: now });
  }

  private connection(): DiagnosticCheck {
    const hourAgo = this.now() - 3600_000;
    while (this.sessionStarts.length > 0 && (this.sessionStarts[0] ?? 0) < hourAgo) this.sessionStarts.shift();
    const reconnects = Math.max(0, this.sessionStarts.length - 1);
    if (this.connectedSince === undefined) return { name: "connection", status: "unhealthy", message: "not connected to the master" };
    const since = `connected since ${new Date(this.connectedSince).toISOString()}; ${reconnects} reconnect(s) in the last hour`;
    if (reconnects > MAX_RECONNECTS_PER_HOUR) return { name: "connection", status: "unhealthy", message: `${since}: the connection keeps dropping` };
    return { name: "connection", status: "healthy", message: since };
  }

  private cgroups(): DiagnosticCheck {
    const exec = this.sources.drivers().find((d) => d.name === "exec");
    if (exec === undefined) return { name: "cgroups", status: "disabled", message: "the exec driver is not in use" };
    const isolation = exec.isolation;
    if (isolation === undefined) return { name: "cgroups", status: "disabled", message: "the exec driver reports no isolation" };
    const enforced = isolation.mode !== "process-group";
    return {
      name: "cgroups",
      status: enforced ? "healthy" : "unhealthy",
      message: enforced ? `${isolation.mode}: ${isolation.reason}` : `tasks' cpus and mem are not enforced: ${isolation.reason}`,
    };
  }

  private docker(): DiagnosticCheck {
    if (!this.sources.dockerConfigured) return { name: "docker", status: "disabled", message: "no docker socket configured (--docker-socket)" };
    const docker = this.sources.drivers().find((d) => d.name === "docker");
    if (docker?.available === true)
      return { name: "docker", status: "healthy", message: `dockerd ${docker.attributes?.docker ?? ""} answers`.replace("  ", " ") };
    return { name: "docker", status: "unhealthy", message: `dockerd does not answer: ${docker?.reason ?? "the docker driver is missing"}` };
  }

  private dns(): DiagnosticCheck {
    const address = this.sources.dns();
    if (address === undefined) return { name: "dns", status: "disabled", message: "the DNS forwarder is not configured (--dns-listen)" };
    return { name: "dns", status: "healthy", message: `the DNS forwarder answers on ${address}` };
  }

  private disk(): DiagnosticCheck {
    let free: { freeBytes: number; totalBytes: number };
    try {
      free = (this.sources.disk ?? statfsDisk)(this.sources.workDir);
    } catch (error) {
      return { name: "disk", status: "unhealthy", message: `cannot read the work dir's filesystem: ${errorMessage(error)}` };
    }
    const mb = (bytes: number) => Math.floor(bytes / (1024 * 1024));
    const message = `${mb(free.freeBytes)} MB free of ${mb(free.totalBytes)} MB in ${this.sources.workDir}`;
    const short = free.freeBytes < MIN_FREE_DISK_BYTES || free.freeBytes < free.totalBytes * MIN_FREE_DISK_FRACTION;
    return short
      ? { name: "disk", status: "unhealthy", message: `${message}: tasks may fail to write their sandboxes` }
      : { name: "disk", status: "healthy", message };
  }
}

function statfsDisk(workDir: string): { freeBytes: number; totalBytes: number } {
  const fs = statfsSync(workDir);
  return { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
}

/**
 * The agent's own recent log lines, kept for diagnostics bundles: a ring of whole lines holding at
 * most MAX_BUNDLE_LOG_BYTES (oldest dropped first), so a bundle never needs the agent's log files.
 */
export class RecentLog {
  private readonly lines: string[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes = MAX_BUNDLE_LOG_BYTES) {}

  push(line: string): void {
    const kept = line.length > this.maxBytes ? line.slice(0, this.maxBytes - 1) + "\n" : line;
    this.lines.push(kept);
    this.bytes += kept.length;
    while (this.bytes > this.maxBytes) this.bytes -= this.lines.shift()?.length ?? this.bytes;
  }

  text(): string {
    return this.lines.join("");
  }
}
