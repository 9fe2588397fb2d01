import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { clusterTaskId } from "../../control/cluster/frameworks/external/task-ids.ts";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { type Account, call } from "./helpers.ts";
import { recordIoRecords } from "../support/recordio.ts";

/** One event of the scheduler API's stream. */
export type Event = { type: string } & Record<string, unknown>;

export interface Offer {
  id: { value: string };
  agent_id: { value: string };
  hostname: string;
  resources: { name: string; scalar?: { value: number }; ranges?: { range: { begin: number; end: number }[] } }[];
}

export interface TaskStatus {
  task_id: { value: string };
  state: string;
  uuid?: string;
  reason?: string;
  message?: string;
  source?: string;
  agent_id?: { value: string };
}

export const schedulerPath = (account: Account) => `/c/${account.cluster.id}/api/v1/scheduler`;
export const stub = (account: Account) => env.CLUSTER.getByName(account.cluster.id);

/**
 * A framework on the scheduler API, as a Mesos HTTP client is: SUBSCRIBE opens a chunked
 * RecordIO stream, which this reads across chunk boundaries into a queue of events; other calls
 * go on their own requests with the stream's Mesos-Stream-Id.
 */
export class Framework {
  readonly events: Event[] = [];
  ended = false;
  private waiters: (() => void)[] = [];

  private constructor(
    readonly account: Account,
    readonly response: Response,
    readonly streamId: string,
    readonly frameworkId: string,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
  ) {}

  static async subscribe(account: Account, info: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Framework> {
    const framework_info = { user: "", name: "test-framework", ...info };
    const res = await call(schedulerPath(account), {
      method: "POST",
      token: account.token,
      json: { type: "SUBSCRIBE", subscribe: { framework_info, ...extra } },
    });
    expect(res.status).toBe(200);
    const streamId = res.headers.get("Mesos-Stream-Id") ?? "";
    expect(streamId).not.toBe("");
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const fw = new Framework(account, res, streamId, "", reader);
    void fw.pump();
    const subscribed = await fw.next("SUBSCRIBED");
    const id = (subscribed.subscribed as { framework_id: { value: string } }).framework_id.value;
    Object.assign(fw, { frameworkId: id });
    return fw;
  }

  private async pump(): Promise<void> {
    try {
      for await (const record of recordIoRecords(this.reader)) {
        this.events.push(JSON.parse(record) as Event);
        this.wake();
      }
    } catch {
      // Cancelled by the test.
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next event of `type` (others skipped, heartbeats included), within `timeoutMs`. */
  async next(type: string, timeoutMs = 5000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e) => e.type === type);
      if (i >= 0) return this.events.splice(0, i + 1).at(-1) as Event;
      const left = deadline - Date.now();
      if (left <= 0 || this.ended)
        throw new Error(
          `no ${type} event within ${timeoutMs} ms (${this.ended ? "stream ended" : "timed out"}); had ${this.events.map((e) => e.type).join(",")}`,
        );
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, left);
      });
    }
  }

  /** Events of `type` that arrive within `ms`. */
  async within(type: string, ms: number): Promise<Event[]> {
    await new Promise((r) => setTimeout(r, ms));
    const found = this.events.filter((e) => e.type === type);
    this.events.splice(0, this.events.length, ...this.events.filter((e) => e.type !== type));
    return found;
  }

  async offers(timeoutMs = 5000): Promise<Offer[]> {
    return ((await this.next("OFFERS", timeoutMs)).offers as { offers: Offer[] }).offers;
  }

  async update(timeoutMs = 5000): Promise<TaskStatus> {
    return ((await this.next("UPDATE", timeoutMs)).update as { status: TaskStatus }).status;
  }

  /** The cluster's name of this framework's task `id`: what its agents launch and report (task-ids.ts). */
  taskId(id: string): string {
    return clusterTaskId(this.frameworkId, id);
  }

  /** Posts a call of this framework; returns the response. */
  call(type: string, body: Record<string, unknown> = {}, headers: Record<string, string> = { "Mesos-Stream-Id": this.streamId }): Promise<Response> {
    return call(schedulerPath(this.account), {
      method: "POST",
      token: this.account.token,
      headers,
      json: { type, framework_id: { value: this.frameworkId }, ...body },
    });
  }

  /** Closes the connection, as a framework that dies does. */
  async disconnect(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

/** A LAUNCH of one task on an offer. */
export function launch(offer: Offer, taskId: string, task: Record<string, unknown> = {}) {
  return {
    offer_ids: [offer.id],
    operations: [
      {
        type: "LAUNCH",
        launch: {
          task_infos: [
            {
              name: taskId,
              task_id: { value: taskId },
              agent_id: offer.agent_id,
              resources: [scalar("cpus", 0.5), scalar("mem", 64)],
              command: { value: "sleep 600" },
              ...task,
            },
          ],
        },
      },
    ],
  };
}

export const scalar = (name: string, value: number) => ({ name, type: "SCALAR", scalar: { value } });

export function offered(offer: Offer, name: string): number {
  return offer.resources.find((r) => r.name === name)?.scalar?.value ?? 0;
}

/** Runs the object's alarm now, after moving every framework deadline (updates, offers, failover) into the past. */
export async function timePasses(account: Account): Promise<void> {
  await runInDurableObject(stub(account), (_: Cluster, state) => {
    state.storage.sql.exec("UPDATE framework_updates SET next_at = 0 WHERE next_at IS NOT NULL");
    state.storage.sql.exec("UPDATE offers SET expires_at = 0");
    state.storage.sql.exec("UPDATE frameworks SET failover_at = 0 WHERE failover_at IS NOT NULL");
    state.storage.sql.exec("INSERT INTO timers (name, due_at) VALUES ('allocate', 0) ON CONFLICT(name) DO UPDATE SET due_at = 0");
  });
  await runDurableObjectAlarm(stub(account));
}
