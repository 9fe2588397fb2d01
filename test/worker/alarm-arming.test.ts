import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { ALLOCATE_TIMER } from "../../control/cluster/timers.ts";
import type { ClusterDb } from "../../control/cluster/db.ts";
import { AlarmArm, cancelTimer, scheduleAt, scheduleNoLaterThan, takeDue } from "../../control/cluster/timers.ts";
import { RETRY_BASE_MS } from "../../control/cluster/frameworks/external/updates.ts";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";
import { Framework, launch, type Offer, scalar } from "./scheduler-helpers.ts";

const stub = (account: Account) => env.CLUSTER.getByName(account.cluster.id);

/** The object's alarm and its earliest timer, read inside it. */
function alarmAndEarliest(account: Account): Promise<{ alarm: number | null; earliest: number | null }> {
  return runInDurableObject(stub(account), async (_: Cluster, state) => ({
    alarm: await state.storage.getAlarm(),
    earliest: state.storage.sql.exec<{ due: number | null }>("SELECT MIN(due_at) AS due FROM timers").one().due,
  }));
}

describe("the object's alarm", () => {
  it("is armed for the earliest timer when the object starts, so a stop between a commit and its arming loses no deadline", async () => {
    const account = await signUp();
    const due = Date.now() + 120_000;
    // A commit whose arming never ran: its timer is stored, the alarm is not.
    await runInDurableObject(stub(account), async (_: Cluster, state) => {
      state.storage.sql.exec("INSERT INTO timers (name, due_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET due_at = excluded.due_at", ALLOCATE_TIMER, due);
      await state.storage.deleteAlarm();
    });
    await runInDurableObject(stub(account), (_: Cluster, state) => state.abort("stopped before arming")).catch(() => undefined);
    expect((await call(`/c/${account.cluster.id}/v2/apps`, { token: account.token })).status).toBe(200);
    expect(await alarmAndEarliest(account)).toEqual({ alarm: due, earliest: due });
  });

  it("is armed for the round a task's TASK_RUNNING asks for by the time the agent's update is acknowledged", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { id: "/armed", cmd: "sleep 1000", cpus: 0.1, mem: 16 } });
    const launch = await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
    // Far-off deadlines only, so the round's timer is the earliest and the alarm must move. Through
    // timers.ts, the table's one writer: the object works out its earliest deadline from the writes.
    await runInDurableObject(stub(account), (instance: Cluster) => cancelTimer((instance as unknown as { db: ClusterDb }).db, ALLOCATE_TIMER));
    const before = Date.now();
    socket.send({ type: "status", updates: [{ updateId: "armed-1", taskId: launch.tasks[0]?.taskId, state: "TASK_RUNNING", timestamp: before }] });
    await socket.nextOfType("ack");
    const { alarm, earliest } = await alarmAndEarliest(account);
    expect(earliest).toBeGreaterThanOrEqual(before);
    expect(earliest).toBeLessThan(before + 5_000);
    expect(alarm).toBe(earliest);
  });

  it("arms no round for an external framework's TASK_RUNNING, only its update's resend; a task that ends asks for one", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    expect((await fw.call("ACCEPT", { accept: launch(offer as Offer, "t1", { resources: [scalar("cpus", 0.1), scalar("mem", 16)] }) })).status).toBe(202);
    await socket.nextOfType("launch");
    const roundDue = () =>
      runInDurableObject(stub(account), (instance: Cluster, state) => {
        const due = state.storage.sql.exec<{ due_at: number }>("SELECT due_at FROM timers WHERE name = ?", ALLOCATE_TIMER).toArray()[0]?.due_at ?? null;
        cancelTimer((instance as unknown as { db: ClusterDb }).db, ALLOCATE_TIMER);
        return due;
      });
    await roundDue();
    const before = Date.now();
    socket.send({ type: "status", updates: [{ updateId: "ext-1", taskId: fw.taskId("t1"), state: "TASK_RUNNING", timestamp: before }] });
    await socket.nextOfType("ack");
    expect((await fw.update()).state).toBe("TASK_RUNNING");
    // The round comes when the update is due again, not within the status coalescing delay.
    expect(await roundDue()).toBeGreaterThanOrEqual(before + RETRY_BASE_MS);
    socket.send({ type: "status", updates: [{ updateId: "ext-2", taskId: fw.taskId("t1"), state: "TASK_FINISHED", timestamp: Date.now() }] });
    await socket.nextOfType("ack");
    expect(await roundDue()).toBeLessThan(Date.now() + 5_000);
    await fw.disconnect();
  });

  it("is armed for the earliest deadline after every kind of timer write, worked out or read back", async () => {
    const account = await signUp();
    await runInDurableObject(stub(account), async (instance: Cluster, state) => {
      const db = (instance as unknown as { db: ClusterDb }).db;
      const arm = new AlarmArm(db, state.storage);
      const armedForEarliest = async () => {
        await arm.arm();
        const earliest = state.storage.sql.exec<{ due: number | null }>("SELECT MIN(due_at) AS due FROM timers").one().due;
        expect(await state.storage.getAlarm()).toBe(earliest);
      };
      const at = Date.now() + 3_600_000;
      // The cluster's own timers out of the way: these are the only ones.
      takeDue(db, Number.POSITIVE_INFINITY);
      await armedForEarliest();
      scheduleNoLaterThan(db, "a", at + 3000);
      await armedForEarliest();
      scheduleNoLaterThan(db, "b", at + 1000);
      scheduleNoLaterThan(db, "a", at + 2000);
      await armedForEarliest();
      scheduleAt(db, "b", at + 5000);
      await armedForEarliest();
      cancelTimer(db, "a");
      await armedForEarliest();
      scheduleNoLaterThan(db, "b", at + 9000);
      await armedForEarliest();
      takeDue(db, at + 5000);
      await armedForEarliest();
    });
  });
});
