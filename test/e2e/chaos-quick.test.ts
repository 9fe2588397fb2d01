import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentKillMidLaunch, diskFull, partition, privileges } from "../chaos/faults.ts";
import { fuzzAgentFrames, fuzzApiBodies, fuzzDoh } from "../chaos/fuzz.ts";
import { TestCluster } from "./cluster.ts";
import { requirement } from "./tools.ts";

const mount = requirement("root (to mount a small tmpfs as an agent's disk)", privileges().root ? undefined : "run the tests as root, as .ci/run does");

/**
 * The quick cases of the fault suite (`npm run chaos` runs them all, with more fuzzing, and
 * writes bench/results/chaos.json): the same functions, asserting zero losses. Recovery times
 * are reported there, not asserted here.
 */
describe("fault suite, quick cases", () => {
  it("an agent SIGKILLed mid-launch and restarted: no task lost or duplicated, no acknowledged write lost, no 5xx", async () => {
    const result = await agentKillMidLaunch();
    expect(result).toMatchObject({ tasksLost: 0, tasksDuplicated: 0, ackedWritesLost: 0, serverErrors: 0 });
    expect(result.recoveryMs).not.toBeNull();
  }, 180_000);

  it("a partition past the agent timeout, then healed: tasks replaced, orphans killed, nothing duplicated", async () => {
    const result = await partition();
    expect(result).toMatchObject({ tasksLost: 0, tasksDuplicated: 0, ackedWritesLost: 0, serverErrors: 0 });
    expect(result.recoveryMs).not.toBeNull();
  }, 180_000);

  it.skipIf(mount.skip)(
    "an agent's disk full while tasks launch there, then freed: launches dropped, not stuck, and retried",
    async () => {
      mount.require();
      const result = await diskFull();
      expect(result).toMatchObject({ tasksLost: 0, tasksDuplicated: 0, ackedWritesLost: 0, serverErrors: 0 });
      expect(result.recoveryMs).not.toBeNull();
    },
    180_000,
  );

  describe("fuzzing the real control plane (seeded)", () => {
    const cluster = new TestCluster();
    beforeAll(async () => {
      await cluster.start();
      await cluster.signUp();
    });
    afterAll(() => cluster.stop());

    it("1,000 mutated agent frames: each refused with an error frame, the socket kept, the cluster unharmed", async () => {
      const result = await fuzzAgentFrames(cluster, 1000, 1204);
      expect(result.serverErrors, result.notes).toBe(0);
      expect(result.notes).toContain("kept open");
    });

    it("500 mutated DoH messages: never a 5xx", async () => {
      expect((await fuzzDoh(cluster, 500, 1204)).serverErrors).toBe(0);
    });

    it("400 mutated API bodies: never a 5xx, nothing half-written", async () => {
      const result = await fuzzApiBodies(cluster, 400, 1204);
      expect(result).toMatchObject({ serverErrors: 0, halfWritten: 0 });
    });
  });
});
