import { describe, expect, test } from "bun:test";
import { Agent } from "./agent.ts";
import { FakeMaster } from "./test-support/fake-master.ts";
import { collectLog } from "./test-support/log-collector.ts";
import { testScope } from "./test-support/scope.ts";

const { defer, tempDir } = testScope("dcx-role");

/** The register frame an agent sends, started with or without `--public`. */
async function registerOf(isPublic: boolean | undefined) {
  const master = new FakeMaster({ pingIntervalMs: 50 });
  defer(() => master.stop());
  const agent = Agent.create(
    { master: master.url, cluster: "c1", token: "join-1", workDir: tempDir(), resources: { cpus: 1, mem: 256 }, attributes: {}, public: isPublic, hostname: "h", advertiseIp: "127.0.0.1", backoffMaxMs: 20, killTasksOnExit: false },
    { log: collectLog().log },
  );
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
