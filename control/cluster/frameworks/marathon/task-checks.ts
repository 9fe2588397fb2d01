import type { TaskHealthCheck, TaskReadinessCheck } from "../../../../protocol/index.ts";
import type { App, HealthCheck, ReadinessCheck } from "./app-definition.ts";
import { declaredPorts } from "./task-ports.ts";

/**
 * An app's checks as the launch frame carries them. The agent probes the task's host port on
 * its loopback: for a bridge container that is the published port of the mapping, so the check
 * goes through Docker's port forwarding rather than into the container's network namespace.
 */

const MS = 1000;

/**
 * Mesos runs MESOS_* and COMMAND checks after `delaySeconds`; Marathon's own HTTP, HTTPS and
 * TCP checks ignore it (reference §1.4), and so does DCX for those.
 */
function delayMs(hc: HealthCheck): number {
  return hc.protocol.startsWith("MESOS_") || hc.protocol === "COMMAND" ? hc.delaySeconds * MS : 0;
}

/**
 * A check's port: its own `port`, or the task's host port at `portIndex`. Validation makes
 * every `portIndex` address a declared port, and placement gives every declared port a host
 * port, so a miss here is a bug rather than bad input.
 */
function checkPort(hc: HealthCheck, hostPorts: readonly number[]): number {
  const port = hc.port ?? hostPorts[hc.portIndex ?? 0];
  if (port === undefined || port === 0) throw new Error(`health check portIndex ${hc.portIndex} has no host port among [${hostPorts.join(", ")}]`);
  return port;
}

/** One health check for the agent: Marathon's seven protocols fold into the four probes the agent runs. */
export function taskHealthCheck(hc: HealthCheck, hostPorts: readonly number[]): TaskHealthCheck {
  const timing = { intervalMs: hc.intervalSeconds * MS, timeoutMs: hc.timeoutSeconds * MS, delayMs: delayMs(hc) };
  switch (hc.protocol) {
    case "COMMAND":
      return { protocol: "COMMAND", command: hc.command?.value ?? "", ...timing };
    case "TCP":
    case "MESOS_TCP":
      return { protocol: "TCP", port: checkPort(hc, hostPorts), ipProtocol: hc.ipProtocol, ...timing };
    default:
      return {
        protocol: hc.protocol.endsWith("HTTPS") ? "HTTPS" : "HTTP",
        port: checkPort(hc, hostPorts),
        path: hc.path ?? "/",
        ignoreHttp1xx: hc.ignoreHttp1xx,
        ipProtocol: hc.ipProtocol,
        ...timing,
      };
  }
}

/** One readiness check for the agent: `portName` becomes the host port of the port with that name. */
export function taskReadinessCheck(rc: ReadinessCheck, app: App, hostPorts: readonly number[]): TaskReadinessCheck {
  const index = declaredPorts(app).findIndex((p) => p.name === rc.portName);
  const port = hostPorts[index];
  if (port === undefined || port === 0) throw new Error(`readiness check '${rc.name}' names port '${rc.portName}', which has no host port`);
  return {
    name: rc.name,
    protocol: rc.protocol,
    port,
    path: rc.path,
    intervalMs: rc.intervalSeconds * MS,
    timeoutMs: rc.timeoutSeconds * MS,
    httpStatusCodesForReady: rc.httpStatusCodesForReady,
    preserveLastResponse: rc.preserveLastResponse,
  };
}

/** The launch frame's checks for one task of `app`; absent when the app has none, so frames stay small. */
export function launchChecks(app: App, hostPorts: readonly number[]): { healthChecks?: TaskHealthCheck[]; readinessChecks?: TaskReadinessCheck[] } {
  const out: { healthChecks?: TaskHealthCheck[]; readinessChecks?: TaskReadinessCheck[] } = {};
  if (app.healthChecks.length > 0) out.healthChecks = app.healthChecks.map((hc) => taskHealthCheck(hc, hostPorts));
  // Stored apps from before readiness checks existed lack the field.
  const readiness = app.readinessChecks ?? [];
  if (readiness.length > 0) out.readinessChecks = readiness.map((rc) => taskReadinessCheck(rc, app, hostPorts));
  return out;
}
