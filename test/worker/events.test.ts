import { describe, expect, it } from "vitest";
import { call, joinAgent, signUp } from "./helpers.ts";

/** Reads Server-Sent Events from a response body until `until` says stop. */
async function readEvents(res: Response, until: (events: { type: string; data: Record<string, unknown> }[]) => boolean, timeoutMs = 8000) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: { type: string; data: Record<string, unknown> }[] = [];
  let buffer = "";
  const deadline = Date.now() + timeoutMs;
  while (!until(events)) {
    if (Date.now() > deadline) throw new Error(`timed out; got ${events.map((e) => e.type).join(", ")}`);
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const type = /^event: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (type && data) events.push({ type, data: JSON.parse(data) as Record<string, unknown> });
    }
  }
  await reader.cancel();
  return events;
}

describe("/v2/events", () => {
  it("streams one task's status and its deployment's events in order", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    const stream = await call(`/c/${account.cluster.id}/v2/events`, { token: account.token, headers: { Accept: "text/event-stream" } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("Content-Type")).toBe("text/event-stream");
    const collecting = readEvents(stream, (e) => e.some((x) => x.type === "deployment_success"));
    const created = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/ev", cmd: "sleep 100", cpus: 0.1, mem: 16 },
    });
    const deploymentId = created.headers.get("Marathon-Deployment-Id");
    let launch: { type?: string; tasks?: { taskId: string }[] };
    do launch = await socket.next();
    while (launch.type !== "launch");
    const taskId = launch.tasks?.[0]?.taskId ?? "";
    for (const [i, state] of ["TASK_STARTING", "TASK_RUNNING"].entries()) {
      socket.send({ type: "status", updates: [{ updateId: `ev-${i}`, taskId, state, timestamp: Date.now() }] });
    }
    const events = await collecting;
    const sequence = events.map((e) => (e.type === "status_update_event" ? `status:${String(e.data.taskStatus)}` : e.type));
    expect(sequence).toEqual([
      "event_stream_attached",
      "api_post_event",
      "deployment_info",
      "deployment_step_success",
      "status:TASK_STAGING",
      "status:TASK_STARTING",
      "status:TASK_RUNNING",
      "deployment_step_success",
      "deployment_success",
    ]);
    const steps = events
      .filter((e) => e.type === "deployment_step_success")
      .map((e) => (e.data.currentStep as { actions: { action: string }[] }).actions[0]?.action);
    expect(steps).toEqual(["StartApplication", "ScaleApplication"]);
    expect(events.find((e) => e.type === "deployment_success")?.data.id).toBe(deploymentId);
    expect(events.filter((e) => e.type === "status_update_event").every((e) => e.data.taskId === taskId && e.data.appId === "/ev")).toBe(true);
  });

  it("a canceled deployment's step fails: deployment_step_failure, then deployment_failed", async () => {
    const account = await signUp();
    const stream = await call(`/c/${account.cluster.id}/v2/events?event_type=deployment_step_failure&event_type=deployment_failed`, {
      token: account.token,
      headers: { Accept: "text/event-stream" },
    });
    const collecting = readEvents(stream, (e) => e.some((x) => x.type === "deployment_failed"));
    // No agent: the deployment cannot finish, and is canceled.
    const created = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/c", cmd: "sleep 1", cpus: 0.1, mem: 16 },
    });
    const id = created.headers.get("Marathon-Deployment-Id");
    expect((await call(`/c/${account.cluster.id}/v2/deployments/${id}?force=true`, { method: "DELETE", token: account.token })).status).toBe(202);
    const events = await collecting;
    expect(events.map((e) => e.type)).toEqual(["event_stream_attached", "deployment_step_failure", "deployment_failed"]);
    expect(events[1]?.data).toMatchObject({
      plan: { id, steps: [{ actions: [{ action: "StartApplication", app: "/c" }] }, { actions: [{ action: "ScaleApplication", app: "/c" }] }] },
      currentStep: { actions: [{ action: "ScaleApplication" }] },
      reason: "canceled",
    });
  });

  it("filters by event_type and refuses a non-SSE Accept", async () => {
    const account = await signUp();
    await joinAgent(account);
    const stream = await call(`/c/${account.cluster.id}/v2/events?event_type=deployment_info`, {
      token: account.token,
      headers: { Accept: "text/event-stream" },
    });
    const collecting = readEvents(stream, (e) => e.some((x) => x.type === "deployment_info"));
    await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { id: "/f", cmd: "sleep 1", cpus: 0.1, mem: 16 } });
    expect((await collecting).map((e) => e.type)).toEqual(["event_stream_attached", "deployment_info"]);
    const refused = await call(`/c/${account.cluster.id}/v2/events`, { token: account.token, headers: { Accept: "application/json" } });
    expect(refused.status).toBe(406);
  });

  it("sends Marathon's full plan, the group before and after, unless plan-format=light; event_type lists may be comma-separated", async () => {
    const account = await signUp();
    const open = (query: string) => call(`/c/${account.cluster.id}/v2/events?${query}`, { token: account.token, headers: { Accept: "text/event-stream" } });
    const wanted = (e: { type: string }[]) => e.some((x) => x.type === "deployment_info");
    const full = readEvents(await open("event_type=deployment_info,deployment_failed"), wanted);
    const light = readEvents(await open("event_type=deployment_info&plan-format=LIGHT"), wanted);
    await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { id: "/shop/web", cmd: "sleep 1", cpus: 0.1, mem: 16 } });
    const plan = (await full).find((e) => e.type === "deployment_info")?.data.plan as Record<string, unknown>;
    expect(plan.original).toEqual({ id: "/", apps: [], groups: [], dependencies: [], pods: [], version: plan.version });
    const target = plan.target as { apps: unknown[]; groups: { id: string; apps: { id: string; cmd: string }[] }[] };
    expect(target.apps).toEqual([]);
    expect(target.groups.map((g) => [g.id, g.apps.map((a) => [a.id, a.cmd])])).toEqual([["/shop", [["/shop/web", "sleep 1"]]]]);
    const lightPlan = (await light).find((e) => e.type === "deployment_info")?.data.plan as Record<string, unknown>;
    expect(Object.keys(lightPlan).sort()).toEqual(["id", "steps", "version"]);
    expect((await open("plan-format=heavy")).status).toBe(400);
  });
});
