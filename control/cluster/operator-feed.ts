import type { AgentRecord } from "./agents.ts";
import type { FrameworkRecord } from "./frameworks/external/store.ts";
import type { TaskRecord } from "./tasks.ts";

/**
 * The operator API's event stream (`SUBSCRIBE` on `/c/:cluster/api/v1`), on the object's side.
 *
 * Where the stream lives, and why (the same choice as the scheduler API's, see
 * frameworks/external/stream.ts): the HTTP response an operator holds open is served by the
 * Worker invocation that answered SUBSCRIBE. It opens a WebSocket to this object, which
 * accepts it through the hibernation API (tag OPERATOR_TAG) and sends, in the same turn, the
 * cluster's snapshot: the Worker renders it as SUBSCRIBED (`get_state`), so no change falls
 * between the state and the first event, nor is told twice. After that each commit's events
 * go as one message of JSON lines, which the Worker renders as master.proto events, one
 * RecordIO record each, and the Worker writes HEARTBEATs on its own timer. So an idle
 * operator stream costs the object nothing (it hibernates, no heartbeat wakes it), and a slow
 * reader of the stream holds up no request here: its bytes queue in the Worker.
 *
 * Events are gathered only while a stream is open, inside the transaction that raised them,
 * and sent after it commits (`flush`) or dropped with it (`discard`).
 */

export const OPERATOR_TAG = "operator";
/** The header the Worker sets on the upgrade of an operator stream; never taken from the client. */
export const OPERATOR_SUBSCRIBE_HEADER = "x-dcx-operator-subscribe";

export interface OperatorAttachment {
  kind: "operator";
  connectedAt: number;
}

/** What the object tells the Worker; the Worker renders each as master.proto's Event. */
export type FeedEvent =
  | { type: "TASK_ADDED" | "TASK_UPDATED"; task: TaskRecord }
  | { type: "AGENT_ADDED"; agent: AgentRecord }
  | { type: "AGENT_REMOVED"; agentId: string }
  | { type: "FRAMEWORK_ADDED" | "FRAMEWORK_UPDATED" | "FRAMEWORK_REMOVED"; framework: FrameworkRecord };

export class OperatorFeed {
  private pending: FeedEvent[] = [];
  /** Whether a stream is open, read once per commit (undefined: not read yet). */
  private open: boolean | undefined;

  constructor(private readonly state: DurableObjectState) {}

  private get listening(): boolean {
    this.open ??= this.state.getWebSockets(OPERATOR_TAG).length > 0;
    return this.open;
  }

  emit(event: FeedEvent): void {
    if (this.listening) this.pending.push(event);
  }

  /** A task launched or changed. */
  task(task: TaskRecord, added: boolean): void {
    this.emit({ type: added ? "TASK_ADDED" : "TASK_UPDATED", task });
  }

  /** A framework saved: new, changed, or torn down. */
  framework(record: FrameworkRecord, previous: FrameworkRecord | undefined): void {
    if (previous?.state === "removed") return;
    const type = record.state === "removed" ? "FRAMEWORK_REMOVED" : previous ? "FRAMEWORK_UPDATED" : "FRAMEWORK_ADDED";
    this.emit({ type, framework: record });
  }

  flush(): void {
    const pending = this.pending;
    this.pending = [];
    this.open = undefined;
    if (pending.length === 0) return;
    const lines = pending.map((e) => JSON.stringify(e)).join("\n");
    for (const ws of this.state.getWebSockets(OPERATOR_TAG)) sendQuietly(ws, lines);
  }

  discard(): void {
    this.pending = [];
    this.open = undefined;
  }

  /** Accepts an operator stream's socket and sends it `first` (the snapshot) before anything else. */
  accept(server: WebSocket, first: string): void {
    this.state.acceptWebSocket(server, [OPERATOR_TAG]);
    server.serializeAttachment({ kind: "operator", connectedAt: Date.now() } satisfies OperatorAttachment);
    try {
      server.send(first);
    } catch {
      // A state larger than a WebSocket message may be: the stream ends at once rather than wait for a SUBSCRIBED that cannot come.
      server.close(1011, "the cluster's state is too large to send as one message");
      return;
    }
    this.open = true;
  }
}

function sendQuietly(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // The Worker side is gone; its close event cleans up.
  }
}
