import type { SchedulerEvent } from "./status.ts";
import { recordIoBytes } from "./stream.ts";

/** The tag of a framework's stream socket, and the attachment it carries. */
export const frameworkTag = (frameworkId: string) => `framework:${frameworkId}`;

export interface StreamAttachment {
  kind: "framework";
  frameworkId: string;
  streamId: string;
  connectedAt: number;
}

export function isStreamAttachment(att: unknown): att is StreamAttachment {
  return typeof att === "object" && att !== null && (att as { kind?: unknown }).kind === "framework";
}

/**
 * Events for external frameworks, raised inside a storage transaction and sent only after it
 * commits (`flush`), or dropped if it fails (`discard`), as the Marathon event bus does. A
 * commit's events go to the Worker holding the framework's stream as one binary WebSocket
 * message: their RecordIO records, which the Worker writes to the stream as they are.
 */
export class FrameworkMailbox {
  /** Each framework's events, as objects or as their JSON already written (`emitJson`). */
  private pending = new Map<string, (SchedulerEvent | string)[]>();

  constructor(private readonly state: DurableObjectState) {}

  emit(frameworkId: string, event: SchedulerEvent): void {
    this.push(frameworkId, event);
  }

  /** An event given as its JSON (JSON.stringify's, or SQLite's as it stores it). */
  emitJson(frameworkId: string, json: string): void {
    this.push(frameworkId, json);
  }

  private push(frameworkId: string, event: SchedulerEvent | string): void {
    const list = this.pending.get(frameworkId);
    if (list) list.push(event);
    else this.pending.set(frameworkId, [event]);
  }

  flush(): void {
    const pending = this.pending;
    this.pending = new Map();
    // One message per framework and commit, its events one record each: a status batch of
    // thousands of updates costs one message, not thousands.
    for (const [frameworkId, events] of pending) {
      const records = recordIoBytes(events.map((e) => (typeof e === "string" ? e : JSON.stringify(e))));
      for (const ws of this.streams(frameworkId)) sendRecords(ws, records);
    }
  }

  /** Where the pending events stand: the function returned drops every event emitted since (a call undone within a batch). */
  checkpoint(): () => void {
    const lengths = new Map([...this.pending].map(([id, list]) => [id, list.length]));
    return () => {
      for (const [id, list] of this.pending) {
        const kept = lengths.get(id) ?? 0;
        if (kept === 0) this.pending.delete(id);
        else list.length = kept;
      }
    };
  }

  discard(): void {
    this.pending = new Map();
  }

  /** The framework's open stream sockets (one, but for a moment while a newer subscription replaces an older). */
  streams(frameworkId: string): WebSocket[] {
    return this.state.getWebSockets(frameworkTag(frameworkId)).filter((ws) => ws.readyState === WebSocket.OPEN);
  }
}

/** Sends one event; a socket already closing is skipped (its close event marks the framework disconnected). */
export function sendEvent(ws: WebSocket, event: SchedulerEvent): void {
  sendRecords(ws, recordIoBytes([JSON.stringify(event)]));
}

/** Sends events as their RecordIO records (`recordIoBytes`). */
function sendRecords(ws: WebSocket, records: Uint8Array): void {
  try {
    ws.send(records);
  } catch {
    // The Worker side is gone.
  }
}
