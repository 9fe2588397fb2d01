import { describe, expect, it } from "vitest";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";
import { Framework, launch } from "./scheduler-helpers.ts";

const AGENT = { resources: { cpus: 4, mem: 4096, disk: 10_000, gpus: 0, ports: [[31000, 31009]] } };

const operator = (account: Account, type: string, path = "/api/v1") =>
  call(`/c/${account.cluster.id}${path}`, { method: "POST", token: account.token, json: { type } });

async function json<T>(res: Response): Promise<T> {
  expect(res.status).toBe(200);
  return res.json() as Promise<T>;
}

describe("the operator API and master state with an external framework", () => {
  it("answers GET_HEALTH, GET_VERSION, GET_AGENTS, GET_FRAMEWORKS, GET_TASKS and GET_STATE; /master/frameworks lists the framework, its tasks and offers", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account, { name: "spark", capabilities: [{ type: "PARTITION_AWARE" }] });
    const [offer] = await fw.offers();
    await fw.call("ACCEPT", { accept: { ...launch(offer!, "driver-1"), filters: { refuse_seconds: 0 } } });
    await socket.nextOfType("launch");
    await fw.call("REVIVE");
    await fw.offers();

    expect(await json(await operator(account, "GET_HEALTH"))).toEqual({ type: "GET_HEALTH", get_health: { healthy: true } });
    const version = await json<{ get_version: { version_info: { version: string } } }>(await operator(account, "GET_VERSION", "/api/v1/operator"));
    expect(version.get_version.version_info.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(await json<{ version: string }>(await call(`/c/${account.cluster.id}/version`, { token: account.token }))).toMatchObject({
      version: version.get_version.version_info.version,
    });

    const frameworks = await json<{
      get_frameworks: { frameworks: { framework_info: { id: { value: string }; name: string }; offers: unknown[]; connected: boolean }[] };
    }>(await operator(account, "GET_FRAMEWORKS"));
    expect(frameworks.get_frameworks.frameworks.map((f) => f.framework_info.name)).toEqual(["marathon", "metronome", "spark"]);
    const spark = frameworks.get_frameworks.frameworks[2];
    expect(spark?.framework_info.id.value).toBe(fw.frameworkId);
    expect(spark?.connected).toBe(true);
    expect(spark?.offers).toHaveLength(1);

    const tasks = await json<{ get_tasks: { tasks: { task_id: { value: string }; framework_id: { value: string }; state: string }[] } }>(
      await operator(account, "GET_TASKS"),
    );
    expect(tasks.get_tasks.tasks).toEqual([
      expect.objectContaining({ task_id: { value: "driver-1" }, framework_id: { value: fw.frameworkId }, state: "TASK_STAGING" }),
    ]);
    const agents = await json<{ get_agents: { agents: { agent_info: { id: { value: string } }; offered_resources: unknown[] }[] } }>(
      await operator(account, "GET_AGENTS"),
    );
    expect(agents.get_agents.agents[0]?.agent_info.id.value).toBe(agentId);
    expect(agents.get_agents.agents[0]?.offered_resources.length).toBeGreaterThan(0);
    const state = await json<{ get_state: Record<string, unknown> }>(await operator(account, "GET_STATE"));
    expect(Object.keys(state.get_state).sort()).toEqual(["get_agents", "get_executors", "get_frameworks", "get_tasks"]);

    const master = await json<{ frameworks: { id: string; name: string; principal?: string; tasks: { id: string }[]; offers: unknown[] }[] }>(
      await call(`/c/${account.cluster.id}/master/frameworks`, { token: account.token }),
    );
    const listed = master.frameworks.find((f) => f.id === fw.frameworkId);
    expect(listed).toMatchObject({ name: "spark", principal: account.user.email });
    expect(listed?.tasks.map((t) => t.id)).toEqual(["driver-1"]);
    expect(listed?.offers).toHaveLength(1);
    const metrics = await json<Record<string, number>>(await call(`/c/${account.cluster.id}/metrics/snapshot`, { token: account.token }));
    expect(metrics["master/outstanding_offers"]).toBe(1);
    expect(metrics["master/frameworks_active"]).toBe(3);

    const teardown = await call(`/c/${account.cluster.id}/api/v1`, {
      method: "POST",
      token: account.token,
      json: { type: "TEARDOWN", teardown: { framework_id: { value: fw.frameworkId } } },
    });
    expect(teardown.status).toBe(200);
    expect((await socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual([fw.taskId("driver-1")]);
    await expect(fw.next("NEVER", 3000)).rejects.toThrow(/stream ended/);
    const again = await call(`/c/${account.cluster.id}/api/v1`, {
      method: "POST",
      token: account.token,
      json: { type: "TEARDOWN", teardown: { framework_id: { value: fw.frameworkId } } },
    });
    expect(again.status).toBe(404);
    // The teardown is in the cluster's own audit log (written in its transaction); the refused second one is not.
    const audit = await json<{ entries: { source: string; action: string; target: string | null }[] }>(
      await call(`/clusters/${account.cluster.id}/audit`, { token: account.token }),
    );
    expect(audit.entries.filter((e) => e.action === "framework.teardown").map((e) => [e.source, e.target])).toEqual([["cluster", fw.frameworkId]]);
    const after = await json<{ frameworks: { id: string }[]; completed_frameworks: { id: string }[] }>(
      await call(`/c/${account.cluster.id}/master/state`, { token: account.token }),
    );
    expect(after.frameworks.map((f) => f.id)).not.toContain(fw.frameworkId);
    expect(after.completed_frameworks.map((f) => f.id)).toEqual([fw.frameworkId]);
  });

  it("refuses unknown calls, bodies that are not JSON, and calls without a type, with a message", async () => {
    const account = await signUp();
    const unknown = await operator(account, "DRAIN_AGENT");
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { message: string }).message).toContain("GET_STATE");
    expect((await call(`/c/${account.cluster.id}/api/v1`, { method: "POST", token: account.token, json: {} })).status).toBe(400);
    expect(
      (await call(`/c/${account.cluster.id}/api/v1`, { method: "POST", token: account.token, headers: { "Content-Type": "text/plain" }, body: "GET_STATE" }))
        .status,
    ).toBe(415);
    expect((await call(`/c/${account.cluster.id}/api/v1`, { method: "POST", json: { type: "GET_STATE" } })).status).toBe(401);
    // The same JSON depth bound as every other body (and as the scheduler API's calls).
    let deep: unknown = "x";
    for (let i = 0; i < 100; i++) deep = [deep];
    const nested = await call(`/c/${account.cluster.id}/api/v1`, { method: "POST", token: account.token, json: { type: "GET_STATE", extra: deep } });
    expect(nested.status).toBe(400);
    expect(((await nested.json()) as { message: string }).message).toContain("nests deeper than 64 levels");
  });
});
