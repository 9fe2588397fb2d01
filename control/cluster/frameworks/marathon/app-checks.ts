import { z } from "zod";
import { HttpPath, MAX_TASK_CHECKS } from "../../../../protocol/index.ts";
import { Port, type Issue } from "./app-fields.ts";

/**
 * An app's health checks and readiness checks (RAML `types/healthCheck.raml` and
 * `readinessCheck.raml`, reference §1.4), and the rules that tie them to the app's ports. Same
 * invariant as app-fields.ts: each schema's output parses back to itself.
 */

export const HEALTH_CHECK_PROTOCOLS = ["HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_TCP", "MESOS_HTTP", "MESOS_HTTPS"] as const;
export type HealthCheckProtocol = (typeof HEALTH_CHECK_PROTOCOLS)[number];

/** RAML durations are int32 seconds, minimum 0. */
const Seconds = z.int32().min(0);
/** A probe interval or timeout: 0 would probe in a busy loop, or fail every probe at once. */
const ProbeSeconds = z.int32().min(1);

const HTTP_PROTOCOLS: ReadonlySet<HealthCheckProtocol> = new Set(["HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"]);

const HealthCheckFields = z.strictObject({
  protocol: z.enum(HEALTH_CHECK_PROTOCOLS).default("HTTP"),
  path: HttpPath.optional(),
  port: Port.optional(),
  portIndex: z.int32().min(0).optional(),
  command: z.strictObject({ value: z.string().min(1).max(65_536) }).optional(),
  gracePeriodSeconds: Seconds.default(300),
  intervalSeconds: ProbeSeconds.default(60),
  timeoutSeconds: ProbeSeconds.default(20),
  maxConsecutiveFailures: Seconds.default(3),
  delaySeconds: Seconds.default(15),
  ignoreHttp1xx: z.boolean().default(false),
  ipProtocol: z.enum(["IPv4", "IPv6"]).default("IPv4"),
});
type HealthCheckFields = z.output<typeof HealthCheckFields>;

/**
 * The agent starts a probe only once the previous one has ended, so a probe may take the
 * whole interval without two ever overlapping; more than that would stretch the interval.
 */
function timeoutIssues(check: { timeoutSeconds: number; intervalSeconds: number }): Issue[] {
  // An interval below 1 has its own issue; comparing with it would only add noise.
  if (check.intervalSeconds < 1 || check.timeoutSeconds <= check.intervalSeconds) return [];
  return [{ path: ["timeoutSeconds"], message: `must not exceed intervalSeconds (${check.intervalSeconds})` }];
}

function healthCheckIssues(hc: HealthCheckFields): Issue[] {
  const issues = timeoutIssues(hc);
  if (hc.port === 0) issues.push({ path: ["port"], message: "must be a port from 1 to 65535; use portIndex for the task's own port" });
  if (hc.port !== undefined && hc.portIndex !== undefined) {
    issues.push({ path: ["portIndex"], message: "may not be combined with port" });
  }
  if (hc.protocol === "COMMAND" && hc.command === undefined) {
    issues.push({ path: ["command"], message: "is required for protocol COMMAND" });
  }
  if (hc.protocol !== "COMMAND" && hc.command !== undefined) {
    issues.push({ path: ["command"], message: `is only used with protocol COMMAND, not ${hc.protocol}` });
  }
  if (hc.path !== undefined && !HTTP_PROTOCOLS.has(hc.protocol)) {
    issues.push({ path: ["path"], message: `is only used with HTTP and HTTPS checks, not ${hc.protocol}` });
  }
  return issues;
}

/**
 * `health.AppHealthCheck` with its defaults (§1.4). A check that probes a port and names none
 * probes the app's first port, so `portIndex` 0 is filled in.
 */
export const HealthCheck = HealthCheckFields.superRefine((hc, ctx) => {
  for (const issue of healthCheckIssues(hc)) ctx.addIssue({ code: "custom", ...issue });
}).transform((hc) => {
  const probesPort = hc.protocol !== "COMMAND";
  return probesPort && hc.port === undefined && hc.portIndex === undefined ? { ...hc, portIndex: 0 } : hc;
});
export type HealthCheck = z.output<typeof HealthCheck>;

/** `readiness.ReadinessCheck` with Marathon's defaults. */
export const ReadinessCheck = z
  .strictObject({
    name: z.string().min(1).max(128).default("readinessCheck"),
    protocol: z.enum(["HTTP", "HTTPS"]).default("HTTP"),
    path: HttpPath.default("/"),
    portName: z.string().min(1).max(63).default("http-api"),
    intervalSeconds: ProbeSeconds.default(30),
    timeoutSeconds: ProbeSeconds.default(10),
    httpStatusCodesForReady: z.array(z.int().min(100).max(599)).min(1).max(100).default([200]),
    preserveLastResponse: z.boolean().default(false),
  })
  .superRefine((rc, ctx) => {
    for (const issue of timeoutIssues(rc)) ctx.addIssue({ code: "custom", ...issue });
  });
export type ReadinessCheck = z.output<typeof ReadinessCheck>;

export const HealthChecks = z.array(HealthCheck).max(MAX_TASK_CHECKS);
export const ReadinessChecks = z.array(ReadinessCheck).max(MAX_TASK_CHECKS);

/** The ports checks may address: how many the app declares, and their names in order. */
export interface AddressablePorts {
  count: number;
  names: (string | undefined)[];
}

function healthPortIssues(checks: readonly HealthCheck[], ports: AddressablePorts): Issue[] {
  return checks.flatMap((hc, i) => {
    if (hc.portIndex === undefined || hc.portIndex < ports.count) return [];
    const message =
      ports.count === 0
        ? "addresses no port: the app has none, so give port instead"
        : `must address one of the app's ${ports.count} port(s) in portDefinitions or container.portMappings`;
    return [{ path: ["healthChecks", i, "portIndex"], message }];
  });
}

function readinessIssues(checks: readonly ReadinessCheck[], ports: AddressablePorts): Issue[] {
  const named = ports.names.filter((n): n is string => n !== undefined);
  const seen = new Map<string, number>();
  return checks.flatMap((rc, i): Issue[] => {
    const issues: Issue[] = [];
    const first = seen.get(rc.name);
    if (first === undefined) seen.set(rc.name, i);
    else issues.push({ path: ["readinessChecks", i, "name"], message: `must be unique: '${rc.name}' is also at index ${first}` });
    if (!named.includes(rc.portName)) {
      const message =
        named.length === 0
          ? `names port '${rc.portName}', but no port of the app has a name: name one in portDefinitions or container.portMappings`
          : `names port '${rc.portName}', which is not one of the app's port names (${named.join(", ")})`;
      issues.push({ path: ["readinessChecks", i, "portName"], message });
    }
    return issues;
  });
}

/** Rules between the checks and the app's ports: each check must address a port the app has. */
export function checkPortIssues(app: { healthChecks: readonly HealthCheck[]; readinessChecks: readonly ReadinessCheck[] }, ports: AddressablePorts): Issue[] {
  return [...healthPortIssues(app.healthChecks, ports), ...readinessIssues(app.readinessChecks, ports)];
}
