import { describe, expect, it } from "vitest";
import { type App, parseAppDefinition } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { unreadyReason } from "../../control/cluster/frameworks/marathon/deployment-views.ts";
import { currentStep, deploymentSteps } from "../../control/cluster/frameworks/marathon/deployments.ts";
import { type CheckHealth, NO_RESULT } from "../../control/cluster/frameworks/marathon/health-state.ts";

/** What /v2/deployments says of a deployment: Marathon's plan steps, and why new instances are not ready. */

function app(json: Record<string, unknown>): App {
  const result = parseAppDefinition({ id: "/web", cmd: "serve", ...json });
  if (!result.ok) throw new Error(JSON.stringify(result.details));
  return result.app;
}

const checked = app({
  portDefinitions: [{ name: "http" }],
  healthChecks: [{ protocol: "TCP" }, { protocol: "HTTP", path: "/health" }],
  readinessChecks: [{ name: "warm", portName: "http" }],
});
const alive: CheckHealth = { ...NO_RESULT, alive: true, firstSuccess: 1, lastSuccess: 1 };
const failing: CheckHealth = { ...NO_RESULT, consecutiveFailures: 2, lastFailure: 2, lastFailureCause: "HTTP 500 Internal Server Error" };

describe("deployment plans", () => {
  it("starts a new app in two steps and does everything else in one, the current step being the last", () => {
    expect(deploymentSteps({ action: "StartApplication" })).toEqual(["StartApplication", "ScaleApplication"]);
    expect(currentStep({ action: "StartApplication" })).toBe(2);
    for (const action of ["ScaleApplication", "RestartApplication", "StopApplication"] as const) {
      expect(deploymentSteps({ action })).toEqual([action]);
      expect(currentStep({ action })).toBe(1);
    }
  });
});

describe("why a new instance is not ready", () => {
  it("names the state of a task not running yet", () => {
    expect(unreadyReason({ state: "TASK_STAGING", healthy: null }, checked, undefined, [])).toBe("not running yet (TASK_STAGING)");
  });

  it("names the failing health check and its cause, or says none has passed yet", () => {
    expect(
      unreadyReason(
        { state: "TASK_RUNNING", healthy: false },
        checked,
        new Map([
          [0, alive],
          [1, failing],
        ]),
        [],
      ),
    ).toBe("health check 1 (HTTP) failing: HTTP 500 Internal Server Error");
    expect(
      unreadyReason(
        { state: "TASK_RUNNING", healthy: null },
        checked,
        new Map([
          [0, alive],
          [1, NO_RESULT],
        ]),
        [],
      ),
    ).toBe("no health check passed yet");
  });

  it("then the readiness checks, with the status of the last answer", () => {
    const healthy = new Map([
      [0, alive],
      [1, alive],
    ]);
    expect(unreadyReason({ state: "TASK_RUNNING", healthy: true }, checked, healthy, [])).toBe("readiness check 'warm' not ready");
    const warming = [{ name: "warm", taskId: "t", ready: false, lastResponse: { status: 503, contentType: "text/plain", body: "" } }];
    expect(unreadyReason({ state: "TASK_RUNNING", healthy: true }, checked, healthy, warming)).toBe("readiness check 'warm' not ready: HTTP 503");
    expect(unreadyReason({ state: "TASK_RUNNING", healthy: true }, checked, healthy, [{ name: "warm", taskId: "t", ready: true }])).toBeNull();
  });

  it("a running task of an app without checks is ready", () => {
    expect(unreadyReason({ state: "TASK_RUNNING", healthy: null }, app({}), undefined, [])).toBeNull();
  });
});
