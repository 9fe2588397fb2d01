import { parseExposition, sampleValue } from "../../test/support/prometheus.ts";

/**
 * A small client of the DCX HTTP API for benchmarks: an account, its cluster, timed calls,
 * and a Server-Sent Events reader for `/v2/events`.
 */

export interface Timed<T> {
  status: number;
  headers: Headers;
  body: T;
  /** performance.now() when the request was sent and when its whole body had arrived. */
  sentAt: number;
  doneAt: number;
}

export class Api {
  token = "";
  clusterId = "";
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  /** Signs up a fresh account; the account's first cluster becomes this client's cluster. */
  async signUp(email: string, password = "benchmark passphrase, long enough"): Promise<void> {
    const res = await this.call<{ token: string; cluster: { id: string } }>("POST", "/auth/signup", { email, password });
    this.token = res.body.token;
    this.clusterId = res.body.cluster.id;
  }

  async joinToken(): Promise<string> {
    return (await this.call<{ token: string }>("POST", `/clusters/${this.clusterId}/agent-tokens`, { description: "benchmark" })).body.token;
  }

  /** A cluster-scoped path: `/v2/apps` → `/c/<cluster>/v2/apps`. */
  c(path: string): string {
    return `/c/${this.clusterId}${path}`;
  }

  /** Calls the API; throws with the server's message on an error status unless `allowError`. */
  async call<T>(method: string, path: string, body?: unknown, allowError = false): Promise<Timed<T>> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const sentAt = performance.now();
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const doneAt = performance.now();
    if (!res.ok && !allowError) throw new Error(`${method} ${path} -> ${res.status}: ${text.slice(0, 2000)}`);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed as T, sentAt, doneAt };
  }

  /**
   * The rows the cluster's object has read and written since it started, from its Prometheus
   * metrics (`dcx_storage_rows_total`): the difference across a phase is what the phase cost in
   * storage rows, which Cloudflare bills.
   */
  async storageRows(): Promise<{ read: number; written: number }> {
    const text = (await this.call<string>("GET", this.c("/metrics/prometheus"))).body;
    const families = parseExposition(String(text));
    return {
      read: sampleValue(families, "dcx_storage_rows_total", { operation: "read" }),
      written: sampleValue(families, "dcx_storage_rows_total", { operation: "written" }),
    };
  }

  /** Opens `/v2/events` (optionally only some event types) and resolves once the stream is attached. */
  async events(types: string[] = []): Promise<EventStream> {
    const query = types.map((t) => `event_type=${encodeURIComponent(t)}`).join("&");
    const controller = new AbortController();
    const res = await fetch(`${this.baseUrl}${this.c("/v2/events")}${query ? `?${query}` : ""}`, {
      headers: { Authorization: `Bearer ${this.token}`, Accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (!res.ok || !res.body) throw new Error(`GET /v2/events -> ${res.status}: ${await res.text()}`);
    const stream = new EventStream(res.body, controller);
    await stream.next((e) => e.type === "event_stream_attached", 10_000);
    return stream;
  }
}

export interface SseEvent {
  type: string;
  data: Record<string, unknown>;
  /** performance.now() when the event was parsed. */
  at: number;
}

interface Waiter {
  match: (e: SseEvent) => boolean;
  resolve: (e: SseEvent) => void;
}

/** An SSE stream read in the background; `next` registers a waiter before the action it waits for. */
export class EventStream {
  private readonly waiters = new Set<Waiter>();
  private readonly backlog: SseEvent[] = [];
  private closed = false;
  private failure: Error | undefined;
  count = 0;
  private readonly controller: AbortController;

  constructor(body: ReadableStream<Uint8Array>, controller: AbortController) {
    this.controller = controller;
    void this.read(body);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          this.parse(block);
        }
      }
      this.failure = new Error("the event stream ended");
    } catch (err) {
      if (!this.closed) this.failure = err instanceof Error ? err : new Error(String(err));
    }
  }

  private parse(block: string): void {
    let type = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      if (line.startsWith("event:")) type = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length === 0) return;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(data.join("\n")) as Record<string, unknown>;
    } catch {
      return;
    }
    const event: SseEvent = { type, data: parsed, at: performance.now() };
    this.count++;
    for (const w of this.waiters) {
      if (w.match(event)) {
        this.waiters.delete(w);
        w.resolve(event);
        return;
      }
    }
    // Kept briefly so a waiter registered just after still sees it (bounded).
    this.backlog.push(event);
    if (this.backlog.length > 1000) this.backlog.shift();
  }

  /** The first event (from now, or still in the short backlog) that matches; rejects after `timeoutMs`. */
  next(match: (e: SseEvent) => boolean, timeoutMs: number): Promise<SseEvent> {
    const i = this.backlog.findIndex(match);
    if (i >= 0) return Promise.resolve(this.backlog.splice(i, 1)[0] as SseEvent);
    return new Promise<SseEvent>((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (e) => {
          clearTimeout(timer);
          clearInterval(check);
          resolve(e);
        },
      };
      const fail = (err: Error) => {
        this.waiters.delete(waiter);
        clearTimeout(timer);
        clearInterval(check);
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`no matching event within ${timeoutMs} ms`)), timeoutMs);
      const check = setInterval(() => this.failure && fail(this.failure), 100);
      this.waiters.add(waiter);
    });
  }

  /** False once the stream failed or ended (e.g. the control plane restarted) or was closed. */
  get alive(): boolean {
    return this.failure === undefined && !this.closed;
  }

  /** Forgets old unmatched events. */
  drain(): void {
    this.backlog.length = 0;
  }

  close(): void {
    this.closed = true;
    this.controller.abort();
  }
}
