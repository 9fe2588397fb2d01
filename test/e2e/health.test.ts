import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";

interface Health {
  alive: boolean;
  consecutiveFailures: number;
  firstSuccess: string | null;
  lastFailureCause: string | null;
}
interface Task {
  id: string;
  host: string;
  ports: number[];
  state: string;
  version: string;
  healthCheckResults: Health[];
}
interface App {
  version: string;
  tasksHealthy: number;
  tasksUnhealthy: number;
  deployments: { id: string }[];
}
interface Deployment {
  id: string;
  waiting?: { unready?: { reasons: Record<string, number> }; lastHealthFailure?: { taskId: string; cause: string } };
}
interface MarathonEvent {
  eventType: string;
  id?: string;
  taskId?: string;
  version?: string;
  alive?: boolean;
}

const FIXTURE = join(ROOT, "test", "e2e", "fixtures", "health-server.mjs");
/** Checks tuned for tests: a probe a second from the start (MESOS_* checks wait delaySeconds, 15 by default). */
const check = { intervalSeconds: 1, timeoutSeconds: 1, delaySeconds: 0, gracePeriodSeconds: 10, maxConsecutiveFailures: 3 };
const AGENT_NAMES: Record<string, string> = { "node-a": "a", "node-b": "b" };

/**
 * Health checks end to end: the control plane on workerd, two real Bun agents running the
 * checks next to real task processes, and a task whose health endpoint a test turns off from
 * outside (a file in its sandbox). Waits are bounded; no timing is asserted.
 */
describe("health checks on real agents", () => {
  const cluster = new TestCluster();
  const c = (path: string) => `/c/${cluster.clusterId}${path}`;
  const tasks = async (id: string) => (await cluster.api<{ tasks: Task[] }>("GET", c(`/v2/apps${id}/tasks`))).tasks;
  const app = async (id: string) => (await cluster.api<{ app: App }>("GET", c(`/v2/apps${id}`))).app;
  const deployments = () => cluster.api<Deployment[]>("GET", c("/v2/deployments?embed=waiting"));
  const sandbox = (t: Task) => join(cluster.dir, AGENT_NAMES[t.host] ?? "?", "sandboxes", t.id);
  const answers = async (t: Task) =>
    (await fetch(`http://127.0.0.1:${t.ports[0]}/`).then(
      (r) => r.text(),
      () => "",
    )) === `${t.id} hello`;
  /** Ports of the app's SRV answers, from the Mesos-DNS HTTP API. */
  const dnsPorts = async (name: string) =>
    (await cluster.api<{ port: string }[]>("GET", c(`/mesos_dns/v1/services/_${name}._tcp.marathon.mesos`))).map((r) => Number(r.port)).filter((p) => p > 0);
  const healthy = (id: string, count: number) =>
    waitFor(
      `${id}: ${count} healthy task(s), no deployment`,
      async () => {
        const [a, t] = await Promise.all([app(id), tasks(id)]);
        // Two reads: the task list must show every task alive too, not only the app's count.
        const alive = t.every((x) => x.healthCheckResults.length > 0 && x.healthCheckResults.every((r) => r.alive));
        return a.deployments.length === 0 && a.tasksHealthy === count && t.length === count && alive ? t : undefined;
      },
      60_000,
      200,
    );
  const events: MarathonEvent[] = [];
  let stopEvents = () => {};

  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
    const token = await cluster.joinToken();
    cluster.startAgent("a", { token, hostname: "node-a", resources: "cpus:2;mem:2048;disk:1024;ports:[31300-31399]" });
    cluster.startAgent("b", { token, hostname: "node-b", resources: "cpus:2;mem:2048;disk:1024;ports:[31400-31499]" });
    await waitFor("two agents", async () => ((await cluster.api<{ slaves: unknown[] }>("GET", c("/master/slaves"))).slaves.length === 2 ? true : undefined));
    stopEvents = await collectEvents(cluster, c("/v2/events"), events);
  });
  afterAll(async () => {
    stopEvents();
    await cluster.stop();
  });

  it("HTTP: tasks become healthy, and their health survives a restart of the control plane", async () => {
    await cluster.api("POST", c("/v2/apps"), {
      id: "/web",
      cmd: `exec node ${FIXTURE}`,
      cpus: 0.1,
      mem: 64,
      instances: 2,
      healthChecks: [{ protocol: "MESOS_HTTP", path: "/health", portIndex: 0, ...check }],
    });
    const before = await healthy("/web", 2);
    expect(before.every((t) => t.healthCheckResults[0]?.alive === true && t.healthCheckResults[0].firstSuccess !== null)).toBe(true);
    expect((await dnsPorts("web")).sort()).toEqual(before.map((t) => t.ports[0]).sort());

    stopEvents();
    await cluster.controlPlane.stop();
    await cluster.start();
    stopEvents = await collectEvents(cluster, c("/v2/events"), events);
    await waitFor(
      "both agents back",
      async () => {
        const { slaves } = await cluster.api<{ slaves: { active: boolean }[] }>("GET", c("/master/slaves"));
        return slaves.filter((s) => s.active).length === 2 ? true : undefined;
      },
      30_000,
      200,
    );
    // Agents only report a check's changes, so this is the stored state, not a fresh report.
    const after = await tasks("/web");
    expect(after.map((t) => [t.id, t.healthCheckResults[0]?.alive, t.healthCheckResults[0]?.firstSuccess])).toEqual(
      before.map((t) => [t.id, true, t.healthCheckResults[0]?.firstSuccess]),
    );
    expect(await app("/web")).toMatchObject({ tasksHealthy: 2, tasksUnhealthy: 0 });
  });

  it("HTTP: a task whose endpoint fails leaves DNS at once, then is killed and replaced", async () => {
    const [victim, survivor] = await tasks("/web");
    if (victim === undefined || survivor === undefined) throw new Error("two tasks expected");
    writeFileSync(join(sandbox(victim), "unhealthy"), "");
    await waitFor(
      "the victim unhealthy and out of DNS while it still runs",
      async () => {
        const [t, ports] = await Promise.all([tasks("/web"), dnsPorts("web")]);
        const sick = t.find((x) => x.id === victim.id);
        return sick?.state === "TASK_RUNNING" && sick.healthCheckResults[0]?.alive === false && !ports.includes(victim.ports[0] ?? 0) ? true : undefined;
      },
      30_000,
      100,
    );
    expect(await dnsPorts("web")).toContain(survivor.ports[0]);
    const replaced = await waitFor(
      "a healthy replacement",
      async () => {
        const t = await tasks("/web");
        const ids = t.map((x) => x.id);
        // The task list and the app's counts are two reads: both must show the replacement healthy.
        const alive = t.every((x) => x.healthCheckResults[0]?.alive === true);
        return !ids.includes(victim.id) && ids.includes(survivor.id) && t.length === 2 && alive && (await app("/web")).tasksHealthy === 2 ? t : undefined;
      },
      60_000,
      200,
    );
    expect(replaced.find((t) => t.id !== survivor.id)?.healthCheckResults[0]?.alive).toBe(true);
    const about = (type: string) => events.filter((e) => e.eventType === type && e.taskId === victim.id);
    expect(about("failed_health_check_event").length).toBeGreaterThanOrEqual(3);
    expect(about("health_status_changed_event").map((e) => e.alive)).toContain(false);
    expect(about("unhealthy_instance_kill_event")).toHaveLength(1);
  });

  it("TCP and COMMAND: pass when the port answers or the command exits 0, fail (and kill) otherwise", async () => {
    await cluster.api("POST", c("/v2/apps"), { id: "/tcp-up", cmd: `exec node ${FIXTURE}`, cpus: 0.1, mem: 64, healthChecks: [{ protocol: "TCP", ...check }] });
    await cluster.api("POST", c("/v2/apps"), {
      id: "/tcp-down",
      cmd: "sleep 600",
      cpus: 0.1,
      mem: 16,
      healthChecks: [{ protocol: "MESOS_TCP", ...check, gracePeriodSeconds: 0, maxConsecutiveFailures: 2 }],
    });
    const command = { protocol: "COMMAND", command: { value: 'test -f "$MESOS_SANDBOX/ok"' }, ...check, gracePeriodSeconds: 0, maxConsecutiveFailures: 0 };
    await cluster.api("POST", c("/v2/apps"), { id: "/cmd", cmd: "sleep 600", cpus: 0.1, mem: 16, healthChecks: [command] });

    await healthy("/tcp-up", 1);
    const [down] = await waitFor(
      "the closed port's failure",
      async () => {
        const t = await tasks("/tcp-down");
        return t[0]?.healthCheckResults[0]?.lastFailureCause ? t : undefined;
      },
      30_000,
      100,
    );
    expect(down?.healthCheckResults[0]?.lastFailureCause).toMatch(/^TCP 127\.0\.0\.1:\d+: connection refused/);
    await waitFor(
      "the closed port's task killed and replaced",
      async () => {
        const t = await tasks("/tcp-down");
        return t.length === 1 && t[0]?.id !== down?.id ? true : undefined;
      },
      30_000,
      200,
    );

    const [unhealthy] = await waitFor(
      "the command's failure",
      async () => {
        const t = await tasks("/cmd");
        return (await app("/cmd")).tasksUnhealthy === 1 ? t : undefined;
      },
      30_000,
      100,
    );
    expect(unhealthy?.healthCheckResults[0]).toMatchObject({ alive: false, lastFailureCause: "command exited with code 1" });
    writeFileSync(join(sandbox(unhealthy as Task), "ok"), "");
    // maxConsecutiveFailures 0: the task was never killed, and now passes.
    expect((await healthy("/cmd", 1)).map((t) => t.id)).toEqual([unhealthy?.id]);
    for (const id of ["/tcp-up", "/tcp-down", "/cmd"]) await cluster.api("DELETE", c(`/v2/apps${id}?force=true`));
  });

  it("a rolling upgrade to a version that never passes keeps the old tasks serving; a rollback undoes it", async () => {
    const before = await app("/web");
    const old = await healthy("/web", 2);
    const patch = await cluster.fetch("PATCH", c("/v2/apps/web"), {
      env: { HEALTH: "broken" },
      healthChecks: [{ protocol: "MESOS_HTTP", path: "/health", ...check, gracePeriodSeconds: 1 }],
    });
    expect(patch.status).toBe(200);
    const { deploymentId, version } = (await patch.json()) as { deploymentId: string; version: string };
    const stuck = await waitFor(
      "the new version's tasks killed for failing their checks",
      async () => {
        const [d] = await deployments();
        const killed = events.filter((e) => e.eventType === "unhealthy_instance_kill_event" && e.version === version);
        for (const t of old) if (!(await answers(t))) throw new Error(`old task ${t.id} stopped serving`);
        return d?.id === deploymentId && killed.length > 0 && d.waiting?.lastHealthFailure ? d : undefined;
      },
      60_000,
      200,
    );
    expect(stuck.waiting?.lastHealthFailure?.cause).toBe("HTTP 500 Internal Server Error");
    const running = await tasks("/web");
    expect(old.every((t) => running.some((r) => r.id === t.id && r.state === "TASK_RUNNING"))).toBe(true);
    // The deployment never finished and never touched an old task.
    expect(events.filter((e) => e.eventType === "deployment_success" && e.id === deploymentId)).toEqual([]);

    const rollback = await cluster.fetch("DELETE", c(`/v2/deployments/${deploymentId}`));
    expect(rollback.status).toBe(200);
    const after = await healthy("/web", 2);
    expect(after.map((t) => t.id).sort()).toEqual(old.map((t) => t.id).sort());
    expect((await app("/web")).version).toBe(before.version);
    for (const t of old) expect(await answers(t)).toBe(true);
  });
});

/** Follows /v2/events into `into` until the returned function is called. */
async function collectEvents(cluster: TestCluster, path: string, into: MarathonEvent[]): Promise<() => void> {
  const abort = new AbortController();
  const res = await fetch(`${cluster.url}${path}`, {
    headers: { Authorization: `Bearer ${cluster.token}`, Accept: "text/event-stream" },
    signal: abort.signal,
  });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  void (async () => {
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const data = /^data: (.+)$/m.exec(buffer.slice(0, end))?.[1];
        buffer = buffer.slice(end + 2);
        if (data) into.push(JSON.parse(data) as MarathonEvent);
      }
    }
  })().catch(() => undefined);
  return () => abort.abort();
}
