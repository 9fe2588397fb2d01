import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { openClusterDb } from "../../control/cluster/db.ts";
import { HISTORY_TIMER, HOUR_MS, MINUTE_MS, type HistorySample, historySamples, recordHistory } from "../../control/cluster/history.ts";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";

const stub = (account: Account) => env.CLUSTER.getByName(account.cluster.id);

interface HistoryBody {
  resolution: string;
  intervalMs: number;
  samples: HistorySample[];
}

async function history(account: Account, resolution: string): Promise<HistoryBody> {
  const res = await call(`/c/${account.cluster.id}/history/${resolution}`, { token: account.token });
  expect(res.status).toBe(200);
  return res.json();
}

/** When the history timer is due, or undefined when it is not set. */
function historyDue(account: Account): Promise<number | undefined> {
  return runInDurableObject(
    stub(account),
    (_: Cluster, state) => state.storage.sql.exec<{ due_at: number }>("SELECT due_at FROM timers WHERE name = ?", HISTORY_TIMER).toArray()[0]?.due_at,
  );
}

describe("history service", () => {
  it("an agent's registration arms the minute timer; the alarm records a sample of the cluster and re-arms while busy", async () => {
    const account = await signUp();
    const before = Date.now();
    const { socket } = await joinAgent(account);
    const due = (await historyDue(account)) ?? 0;
    expect(due % MINUTE_MS).toBe(0);
    expect(due).toBeGreaterThan(before);
    expect(due).toBeLessThanOrEqual(Date.now() + MINUTE_MS);
    await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/sampled", cmd: "sleep 1000", cpus: 0.5, mem: 128, disk: 10 },
    });
    const launch = await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
    socket.send({ type: "status", updates: [{ updateId: "h-1", taskId: launch.tasks[0]?.taskId, state: "TASK_RUNNING", timestamp: Date.now() }] });
    await socket.nextOfType("ack");

    // The history timer made due now. The object's alarm may also fire on its own meanwhile (an
    // agent liveness deadline): either way the due timer is run once, so the sample is what counts.
    await runInDurableObject(stub(account), async (_: Cluster, state) => {
      state.storage.sql.exec("UPDATE timers SET due_at = 0 WHERE name = ?", HISTORY_TIMER);
      await state.storage.setAlarm(Date.now() + MINUTE_MS);
    });
    const alarmAt = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    await runDurableObjectAlarm(stub(account));
    const minute = await history(account, "minute");
    expect(minute).toMatchObject({ resolution: "minute", intervalMs: MINUTE_MS });
    expect(minute.samples).toHaveLength(1);
    const [sample] = minute.samples;
    expect([alarmAt, Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS]).toContain(sample?.at);
    expect(sample).toMatchObject({
      samples: 1,
      cpus: { used: 0.5, total: 4 },
      mem: { used: 128, total: 8192 },
      disk: { used: 10, total: 100_000 },
      tasks: { TASK_RUNNING: 1, TASK_STAGING: 0, TASK_STARTING: 0, TASK_KILLING: 0, TASK_UNREACHABLE: 0 },
      agents: { active: 1, disconnected: 0, unreachable: 0 },
    });
    expect(await historyDue(account)).toBe((sample?.at ?? 0) + MINUTE_MS);
    // The hour so far is averaged from its minutes until it is over.
    expect((await history(account, "hour")).samples).toEqual([{ ...sample, at: Math.floor((sample?.at ?? 0) / HOUR_MS) * HOUR_MS }]);
  });

  it("minutes roll up into hourly averages; minutes older than 24 hours and hours older than 30 days are dropped", async () => {
    const account = await signUp();
    await joinAgent(account);
    const t0 = Date.UTC(2030, 0, 1);
    await runInDurableObject(stub(account), async (_: Cluster, state) => {
      const db = await openClusterDb(state.storage);
      for (let i = 0; i < 180; i++) {
        // Half of the first hour the agent is active, the other half disconnected.
        if (i === 30) state.storage.sql.exec("UPDATE agents SET state = 'disconnected', disconnected_at = ?", t0);
        recordHistory(db, t0 + i * MINUTE_MS + 5_000);
      }
      const hours = historySamples(db, "hour", t0 + 180 * MINUTE_MS);
      expect(hours.map((h) => [h.at - t0, h.samples])).toEqual([
        [0, 60],
        [HOUR_MS, 60],
        [2 * HOUR_MS, 60],
      ]);
      expect(hours[0]?.agents).toEqual({ active: 0.5, disconnected: 0.5, unreachable: 0 });
      expect(hours[1]?.agents.active).toBe(0);
      expect(hours[0]?.cpus).toEqual({ used: 0, total: 4 });
      const stored = () =>
        state.storage.sql
          .exec<{ resolution: string; n: number; oldest: number }>(
            "SELECT resolution, COUNT(*) AS n, MIN(at) AS oldest FROM history GROUP BY resolution ORDER BY resolution",
          )
          .toArray();
      expect(stored()).toEqual([
        { resolution: "hour", n: 2, oldest: t0 },
        { resolution: "minute", n: 180, oldest: t0 },
      ]);

      recordHistory(db, t0 + 25 * HOUR_MS);
      expect(stored()).toEqual([
        { resolution: "hour", n: 3, oldest: t0 },
        { resolution: "minute", n: 121, oldest: t0 + HOUR_MS },
      ]);
      expect(historySamples(db, "minute", t0 + 25 * HOUR_MS)).toHaveLength(121);

      recordHistory(db, t0 + 31 * 24 * HOUR_MS);
      expect(stored()).toEqual([
        { resolution: "hour", n: 1, oldest: t0 + 25 * HOUR_MS },
        { resolution: "minute", n: 1, oldest: t0 + 31 * 24 * HOUR_MS },
      ]);
    });
  });

  it("an idle cluster takes one last sample and is not woken for history again", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    socket.ws.close(1000, "bye");
    await socket.waitClosed();
    expect((await call(`/c/${account.cluster.id}/agents/${agentId}`, { method: "DELETE", token: account.token })).status).toBe(204);
    await runInDurableObject(stub(account), (_: Cluster, state) => state.storage.sql.exec("UPDATE timers SET due_at = 0 WHERE name = ?", HISTORY_TIMER));
    await runDurableObjectAlarm(stub(account));
    const [last] = (await history(account, "minute")).samples;
    expect(last).toMatchObject({ agents: { active: 0, disconnected: 0, unreachable: 0 }, cpus: { used: 0, total: 0 }, deployments: 0 });
    expect(await historyDue(account)).toBeUndefined();
  });
});
