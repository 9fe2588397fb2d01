import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";
import { requirement } from "./tools.ts";

/** Debian's Python, which the python3-marathon package installs for (not any other python3 on PATH). */
const PYTHON = "/usr/bin/python3";
const SCRIPT = join(ROOT, "test", "e2e", "fixtures", "marathon-client.py");

function marathonPython(): string | undefined {
  const probe = spawnSync(PYTHON, ["-c", "import marathon"], { stdio: "pipe", encoding: "utf8" });
  if (probe.error !== undefined) return `${PYTHON} is missing (apt-get install python3-marathon; .ci/run installs it)`;
  if (probe.status !== 0) return "marathon-python is not installed for Debian's python3 (apt-get install python3-marathon; .ci/run installs it)";
  return undefined;
}

const client = requirement("python3-marathon", marathonPython());
const root = requirement("root", process.getuid?.() === 0 ? undefined : "the agents must run as root for cgroups (CI runs as root)");
const skip = client.skip || root.skip;

/**
 * Marathon's own client library, marathon-python (Debian's python3-marathon), drives a real
 * local cluster: the control plane on workerd and a real Bun agent running real processes.
 * Each scenario of test/e2e/fixtures/marathon-client.py raises on any difference from
 * Marathon; the test checks its exit and what it reports.
 */
describe("marathon-python against DCX", () => {
  const cluster = new TestCluster();

  /** Runs one scenario of the Python script; throws with its output when it fails. */
  function scenario(name: string): Record<string, unknown> {
    const run = spawnSync(PYTHON, [SCRIPT, name], {
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, DCX_URL: `${cluster.url}/c/${cluster.clusterId}`, DCX_TOKEN: cluster.token, PYTHONDONTWRITEBYTECODE: "1" },
    });
    if (run.status !== 0) throw new Error(`scenario ${name} failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
    const last = run.stdout.trim().split("\n").at(-1) ?? "";
    return (JSON.parse(last) as { result: Record<string, unknown> }).result;
  }

  beforeAll(async () => {
    if (skip) return;
    client.require();
    root.require();
    await cluster.start();
    await cluster.signUp();
    const token = await cluster.joinToken();
    cluster.startAgent("a", { token, hostname: "node-a", advertiseIp: "127.0.0.2", resources: "cpus:2;mem:2048;disk:1024;ports:[31000-31099]" });
    await waitFor("the agent", async () =>
      (await cluster.api<{ slaves: unknown[] }>("GET", `/c/${cluster.clusterId}/master/slaves`)).slaves.length === 1 ? true : undefined,
    );
  });
  afterAll(() => (skip ? undefined : cluster.stop()));

  it.skipIf(skip)("reads /v2/info, /ping, /metrics and the leader as Marathon's", () => {
    expect(scenario("system")).toEqual({ version: "1.11.0" });
  });

  it.skipIf(skip)("creates, lists, merges a partial update into, and versions an app (ids with and without their slash)", () => {
    expect(scenario("apps")).toEqual({ versions: 2, env: { COLOR: "blue" } });
  });

  it.skipIf(skip)("scales an app to a count and by a delta", () => {
    expect(scenario("scale")).toEqual({ instances: 2 });
  });

  it.skipIf(skip)("kills tasks: replaced, with scale=True shrinking the app, by id list, and all of an app", () => {
    expect(scenario("tasks")).toEqual({ instances: 1, all: 1, endpoints: 1, after: 0 });
  });

  it.skipIf(skip)("locks an app during a deployment, overrides with force, rolls back, shows the queue, cancels with force", () => {
    expect(scenario("deployments")).toEqual({ rejected: 1, versions: 4, deleted: true });
  });

  it.skipIf(skip)("creates, reads, scales, updates and removes a group", () => {
    expect(scenario("groups")).toEqual({ groups: ["/mc"] });
  });

  it.skipIf(skip)("parses the event stream (Basic auth, full deployment plans) as the client's event objects", () => {
    const { types } = scenario("events") as { types: string[] };
    expect(types).toEqual(expect.arrayContaining(["deployment_info", "status_update_event"]));
  });
});
