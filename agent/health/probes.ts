import { MAX_READINESS_BODY } from "../../protocol/index.ts";
import type { ReadinessResult, TaskHealthCheck, TaskReadinessCheck } from "../../protocol/index.ts";
import type { CommandExit } from "../drivers/driver.ts";
import { errorMessage } from "../log.ts";
import { httpGet, openSocket } from "./http-get.ts";

/**
 * One probe of a health or readiness check, run on the agent next to the task. A probe never
 * throws: whatever goes wrong is the check's failure, with a cause a person can act on.
 */

/** What one health probe found. `ignored` is a 1xx answer under `ignoreHttp1xx`: no result at all. */
export type ProbeOutcome = { kind: "pass" } | { kind: "fail"; cause: string } | { kind: "ignored"; cause: string };

/** What the probes need from the task's driver: COMMAND checks run where the task runs. */
export interface ProbeContext {
  runCommand(command: string, timeoutMs: number): Promise<CommandExit>;
}

const loopback = (ipProtocol: "IPv4" | "IPv6") => (ipProtocol === "IPv6" ? "::1" : "127.0.0.1");

/**
 * Marathon's rule for HTTP checks: 200-399 passes; a 1xx is discarded with `ignoreHttp1xx`
 * and fails without it; anything else fails.
 */
export function classifyHttpStatus(status: number, reason: string, ignoreHttp1xx: boolean): ProbeOutcome {
  if (status >= 200 && status <= 399) return { kind: "pass" };
  const cause = `HTTP ${status}${reason ? ` ${reason}` : ""}`;
  if (status >= 100 && status <= 199 && ignoreHttp1xx) return { kind: "ignored", cause };
  return { kind: "fail", cause };
}

/** How a COMMAND check's run reads as a result: exit 0 passes. */
export function classifyCommand(exit: CommandExit, timeoutMs: number): ProbeOutcome {
  if (exit.timedOut) return { kind: "fail", cause: `command timed out after ${timeoutMs} ms` };
  if (exit.code === 0) return { kind: "pass" };
  return { kind: "fail", cause: `command exited with code ${exit.code}${exit.output ? `: ${exit.output}` : ""}` };
}

/** Runs one probe of a health check. */
export async function probeHealth(check: TaskHealthCheck, context: ProbeContext): Promise<ProbeOutcome> {
  if (check.protocol === "COMMAND") {
    try {
      return classifyCommand(await context.runCommand(check.command, check.timeoutMs), check.timeoutMs);
    } catch (error) {
      return { kind: "fail", cause: `command could not run: ${errorMessage(error)}` };
    }
  }
  const host = loopback(check.ipProtocol);
  if (check.protocol === "TCP") {
    try {
      (await openSocket({ tls: false, host, port: check.port }, check.timeoutMs)).destroy();
      return { kind: "pass" };
    } catch (error) {
      return { kind: "fail", cause: `TCP ${host}:${check.port}: ${errorMessage(error)}` };
    }
  }
  try {
    const answer = await httpGet({ tls: check.protocol === "HTTPS", host, port: check.port, path: check.path }, { timeoutMs: check.timeoutMs });
    return classifyHttpStatus(answer.status, answer.reason, check.ignoreHttp1xx);
  } catch (error) {
    return { kind: "fail", cause: `GET ${check.path} on port ${check.port}: ${errorMessage(error)}` };
  }
}

/** One readiness probe's result, and why it is not ready when the task gave no answer. */
export interface ReadinessOutcome {
  result: ReadinessResult;
  cause?: string;
}

/** Runs one probe of a readiness check: ready when the status is one of `httpStatusCodesForReady`. */
export async function probeReadiness(check: TaskReadinessCheck): Promise<ReadinessOutcome> {
  try {
    const answer = await httpGet(
      { tls: check.protocol === "HTTPS", host: "127.0.0.1", port: check.port, path: check.path },
      { timeoutMs: check.timeoutMs, body: check.preserveLastResponse, maxBodyBytes: MAX_READINESS_BODY },
    );
    const ready = check.httpStatusCodesForReady.includes(answer.status);
    const lastResponse = check.preserveLastResponse
      ? { status: answer.status, contentType: answer.contentType.slice(0, 256), body: answer.body.slice(0, MAX_READINESS_BODY) }
      : undefined;
    return {
      result: { name: check.name, ready, ...(lastResponse ? { lastResponse } : {}) },
      ...(ready ? {} : { cause: `HTTP ${answer.status}${answer.reason ? ` ${answer.reason}` : ""}` }),
    };
  } catch (error) {
    return { result: { name: check.name, ready: false }, cause: `GET ${check.path} on port ${check.port}: ${errorMessage(error)}` };
  }
}
