import { describe, expect, test } from "bun:test";
import { Agent } from "./agent.ts";
import { DEFAULT_POLICY } from "./policy.ts";
import type { AgentPolicy } from "./policy.ts";
import { FakeMaster } from "./test-support/fake-master.ts";
import { collectLog } from "./test-support/log-collector.ts";
import { testScope } from "./test-support/scope.ts";
import { testAgentConfig } from "./test-support/agent-config.ts";

const { defer, tempDir } = testScope("dcx-role");

/** The register frame an agent sends, started with or without `--public`. */
async function registerOf(isPublic: boolean | undefined, policy?: AgentPolicy) {
  const master = new FakeMaster({ pingIntervalMs: 50 });
  defer(() => master.stop());
  const agent = Agent.create(testAgentConfig(master.url, tempDir(), { public: isPublic, policy }), { log: collectLog().log });
  void agent.run();
  defer(() => agent.stop());
  const session = await master.registered(0);
  return session.registers[0];
}

describe("the agent's role in its register frame", () => {
  test("a public agent registers with the role slave_public", async () => {
    expect((await registerOf(true))?.role).toBe("slave_public");
  });

  test("a private agent sends no role, so masters from before roles accept its frame", async () => {
    expect(await registerOf(false)).not.toHaveProperty("role");
    expect(await registerOf(undefined)).not.toHaveProperty("role");
  });
});

describe("the agent's allowances in its register frame", () => {
  test("an agent tells the master what its policy flags allow, so placement skips what it would refuse", async () => {
    expect((await registerOf(false))?.allowances).toEqual({ privileged: false, rootTasks: false, capabilities: [], hostPaths: [], devices: [] });
    const lenient = { ...DEFAULT_POLICY, allowPrivileged: true, allowCapabilities: ["NET_ADMIN"], allowHostPaths: ["/srv"], allowDevices: ["/dev/fuse"] };
    expect((await registerOf(false, lenient))?.allowances).toEqual({
      privileged: true,
      rootTasks: false,
      capabilities: ["NET_ADMIN"],
      hostPaths: ["/srv"],
      devices: ["/dev/fuse"],
    });
  });
});
