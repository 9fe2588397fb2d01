import { z } from "zod";

/**
 * Health and readiness checks on the wire. The agent runs them next to the task (so they work
 * behind NAT) and reports results in status updates; the master decides what a result means
 * (grace period, consecutive failures, kills, deployment progress). The master resolves every
 * input before it sends a launch: Marathon's protocol variants fold into four kinds, a
 * `portIndex` or `portName` becomes the task's host port, seconds become milliseconds.
 */

/** Most health checks, and most readiness checks, one task carries. */
export const MAX_TASK_CHECKS = 16;

const HostPort = z.number().int().min(1).max(65535);
/**
 * A path the agent puts on the request line of an HTTP probe. A control character (CR, LF, NUL,
 * TAB...) or a space there would end the request line early and let the app's author write
 * headers or a second request to whatever listens on the port, so both are refused.
 */
export const HttpPath = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^\//, "must start with '/'")
  .regex(/^[^\x00-\x20\x7f]*$/, "must not contain spaces or control characters (CR, LF, tab...): percent-encode them");

/** How often a check probes and how long one probe may take. */
const timing = {
  /** Time from the end of one probe to the start of the next. */
  intervalMs: z.number().int().positive(),
  /** A probe that has not answered by then fails. */
  timeoutMs: z.number().int().positive(),
  /** Wait after the task starts running before the first probe (Mesos `delaySeconds`). */
  delayMs: z.number().int().nonnegative().default(0),
};

/**
 * One health check. HTTP and HTTPS pass on a first status line of 200-399 (a 1xx is discarded
 * with `ignoreHttp1xx`, a failure otherwise); TCP passes when a connection opens; COMMAND passes
 * when `/bin/sh -c command` exits 0, run with the task's environment in its sandbox (inside the
 * container for docker tasks). HTTP, HTTPS and TCP probe `port` on the agent's loopback.
 */
export const TaskHealthCheck = z.discriminatedUnion("protocol", [
  z.strictObject({
    protocol: z.enum(["HTTP", "HTTPS"]),
    port: HostPort,
    path: HttpPath.default("/"),
    ignoreHttp1xx: z.boolean().default(false),
    ipProtocol: z.enum(["IPv4", "IPv6"]).default("IPv4"),
    ...timing,
  }),
  z.strictObject({
    protocol: z.literal("TCP"),
    port: HostPort,
    ipProtocol: z.enum(["IPv4", "IPv6"]).default("IPv4"),
    ...timing,
  }),
  z.strictObject({
    protocol: z.literal("COMMAND"),
    command: z.string().min(1).max(65_536),
    ...timing,
  }),
]);
export type TaskHealthCheck = z.infer<typeof TaskHealthCheck>;

/**
 * One readiness check (Marathon `readinessChecks`): an HTTP(S) GET of `path` on `port` that is
 * ready when its status is one of `httpStatusCodesForReady`. The agent probes until the check is
 * ready, then stops; it reports each change of the result.
 */
export const TaskReadinessCheck = z.strictObject({
  name: z.string().min(1).max(128),
  protocol: z.enum(["HTTP", "HTTPS"]),
  port: HostPort,
  path: HttpPath,
  intervalMs: z.number().int().positive(),
  timeoutMs: z.number().int().positive(),
  httpStatusCodesForReady: z.array(z.number().int().min(100).max(599)).min(1).max(100),
  /** Report the last response (status, content type, body) with each result. */
  preserveLastResponse: z.boolean().default(false),
});
export type TaskReadinessCheck = z.infer<typeof TaskReadinessCheck>;

/** Longest response body a readiness result carries; the rest is cut. */
export const MAX_READINESS_BODY = 4096;

/** The result of a readiness check, in a status update. */
export const ReadinessResult = z.strictObject({
  name: z.string().min(1).max(128),
  ready: z.boolean(),
  /** Only with `preserveLastResponse`, and only when the task answered. */
  lastResponse: z
    .strictObject({
      status: z.number().int().min(100).max(999),
      contentType: z.string().max(256),
      body: z.string().max(MAX_READINESS_BODY),
    })
    .optional(),
});
export type ReadinessResult = z.infer<typeof ReadinessResult>;
