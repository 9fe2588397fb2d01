import { concatBytes } from "../../protocol/index.ts";

/**
 * Marathon's event bus, for `/v2/events`. Events raised inside a storage transaction are
 * held until it commits (`flush`) and dropped if it fails (`discard`), so a subscriber never
 * hears of a change that did not happen. Subscribers are ReadableStreams handed to the Worker
 * over RPC; a subscriber that falls too far behind is cut off rather than buffered forever.
 */

export interface MarathonEvent {
  eventType: string;
  timestamp: string;
  [field: string]: unknown;
}

interface Subscriber {
  types: ReadonlySet<string> | null;
  /** `plan-format=light`: deployment plans without their `original` and `target` groups. */
  light: boolean;
  controller: ReadableStreamDefaultController<Uint8Array>;
}

/**
 * Event streams one cluster serves at once. Each holds memory in the object (up to
 * MAX_BACKLOG_BYTES) and a share of every event's delivery, so one tenant cannot open
 * thousands; past it, a new stream is a 429.
 */
export const MAX_EVENT_SUBSCRIBERS = 64;

/** Bytes a subscriber may have queued before it is disconnected. */
const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;
const encoder = new TextEncoder();

export class EventBus {
  private readonly subscribers = new Set<Subscriber>();
  private pending: MarathonEvent[] = [];

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Queues an event; nothing is built when nobody listens. */
  emit(eventType: string, fields: Record<string, unknown>, now = Date.now()): void {
    if (this.subscribers.size === 0) return;
    this.pending.push({ ...fields, eventType, timestamp: new Date(now).toISOString() });
  }

  /**
   * Sends what was queued, in order: one chunk per subscriber for the whole commit, since each
   * chunk crosses into the Worker on a turn of its own (a task's TASK_STARTING and TASK_RUNNING,
   * committed together, reach the client together).
   */
  flush(): void {
    const events = this.pending;
    this.pending = [];
    if (events.length === 0) return;
    const chunks = new Map<Subscriber, Uint8Array[]>();
    for (const event of events) this.deliver(event, chunks);
    for (const [s, parts] of chunks) this.write(s, concatBytes(parts));
  }

  discard(): void {
    this.pending = [];
  }

  /** A Server-Sent Events stream of the given event types (all when empty). */
  subscribe(types: string[], remoteAddress: string, light = false): ReadableStream<Uint8Array> {
    let subscriber: Subscriber | undefined;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          subscriber = { types: types.length > 0 ? new Set(types) : null, light, controller };
          this.subscribers.add(subscriber);
          // Marathon's first event on a new stream.
          this.deliverTo(subscriber, { eventType: "event_stream_attached", timestamp: new Date().toISOString(), remoteAddress });
        },
        cancel: () => {
          if (subscriber) this.subscribers.delete(subscriber);
        },
      },
      { highWaterMark: MAX_BACKLOG_BYTES, size: (chunk) => chunk.byteLength },
    );
  }

  /** A comment line keeps idle connections open through proxies. */
  keepAlive(): void {
    for (const s of this.subscribers) this.write(s, encoder.encode(":\n\n"));
  }

  /** Adds an event's frame to each subscriber's chunks that wants it. */
  private deliver(event: MarathonEvent, chunks: Map<Subscriber, Uint8Array[]>): void {
    // Each form is encoded once, however many subscribers want it.
    const encoded = new Map<boolean, Uint8Array>();
    for (const s of this.subscribers) {
      if (s.types !== null && !s.types.has(event.eventType)) continue;
      const light = s.light && isRecord(event.plan);
      let chunk = encoded.get(light);
      if (chunk === undefined) encoded.set(light, (chunk = frame(light ? lightened(event) : event)));
      const parts = chunks.get(s);
      if (parts) parts.push(chunk);
      else chunks.set(s, [chunk]);
    }
  }

  private deliverTo(s: Subscriber, event: MarathonEvent): void {
    this.write(s, frame(event));
  }

  private write(s: Subscriber, chunk: Uint8Array): void {
    if ((s.controller.desiredSize ?? 0) <= 0) {
      this.subscribers.delete(s);
      s.controller.error(new Error("event subscriber too slow"));
      return;
    }
    try {
      s.controller.enqueue(chunk);
    } catch {
      this.subscribers.delete(s);
    }
  }
}

const frame = (event: MarathonEvent) => encoder.encode(`event: ${event.eventType}\ndata: ${JSON.stringify(event)}\n\n`);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** Marathon's light plan: the same event with its plan's `original` and `target` groups left out. */
function lightened(event: MarathonEvent): MarathonEvent {
  const { original: _original, target: _target, ...plan } = event.plan as Record<string, unknown>;
  return { ...event, plan };
}
