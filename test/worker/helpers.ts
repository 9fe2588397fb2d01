import { exports } from "cloudflare:workers";
import { expect } from "vitest";

/** Calls the Worker in-process (through its real Hono app, D1 and Durable Objects). */
export function call(path: string, init: RequestInit & { json?: unknown; token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  // Each call comes from its own client address unless the test names one, so the per-address
  // rate limits (signup, login) count only what a test means them to.
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", randomAddress());
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(new Request(`http://dcx.test${path}`, { ...init, headers, body }));
}

/** A random address in 10.0.0.0/8. */
export function randomAddress(): string {
  const [a = 0, b = 0, c = 0] = crypto.getRandomValues(new Uint8Array(3));
  return `10.${a}.${b}.${c}`;
}

let seq = 0;
/** A fresh email per call, so tests do not depend on each other's accounts. */
export function uniqueEmail(prefix = "user"): string {
  return `${prefix}-${Date.now()}-${seq++}@example.com`;
}

export const PASSWORD = "correct horse battery staple";

export interface Account {
  user: { id: string; email: string };
  token: string;
  cluster: { id: string; name: string };
}

export async function signUp(email = uniqueEmail()): Promise<Account> {
  const res = await call("/auth/signup", { method: "POST", json: { email, password: PASSWORD } });
  expect(res.status).toBe(201);
  return res.json();
}

export async function joinToken(account: Account, body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const res = await call(`/clusters/${account.cluster.id}/agent-tokens`, { method: "POST", token: account.token, json: body });
  expect(res.status).toBe(201);
  return res.json();
}

/** Asserts a Marathon-style 422 that names the given field path. */
export async function expectInvalid(res: Response, path: string): Promise<void> {
  expect(res.status).toBe(422);
  const body = (await res.json()) as { message: string; details: { path: string; errors: string[] }[] };
  expect(body.details.map((d) => d.path)).toContain(path);
}

/** A WebSocket client of the agent endpoint, with a queue of received frames. */
export class TestSocket {
  readonly frames: string[] = [];
  closed?: { code: number; reason: string };
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.accept();
    ws.addEventListener("message", (e) => {
      this.frames.push(typeof e.data === "string" ? e.data : "<binary>");
      this.wake();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.wake();
    });
  }

  static async open(clusterId: string, credential: string | undefined): Promise<TestSocket> {
    const headers: Record<string, string> = { Upgrade: "websocket" };
    if (credential) headers.Authorization = `Bearer ${credential}`;
    const res = await call(`/c/${clusterId}/agent/connect`, { headers });
    expect(res.status).toBe(101);
    if (!res.webSocket) throw new Error("no WebSocket in the upgrade response");
    return new TestSocket(res.webSocket);
  }

  send(data: unknown): void {
    this.ws.send(typeof data === "string" || data instanceof ArrayBuffer ? data : JSON.stringify(data));
  }

  /** The next frame, parsed when it is JSON. */
  async next<T = Record<string, unknown>>(timeoutMs = 3000): Promise<T> {
    await this.until(() => this.frames.length > 0, timeoutMs, "a frame");
    const raw = this.frames.shift() as string;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return raw as T;
    }
  }

  /** The next frame of a type, skipping others (pongs, frames the test does not look at), within `timeoutMs` in all. */
  async nextOfType<T>(type: string, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.next<{ type?: string }>(Math.max(1, deadline - Date.now()));
      if (typeof frame === "object" && frame !== null && frame.type === type) return frame as T;
    }
  }

  /**
   * One frame of each of `types`, in whichever order they come (the master may send a kill and a
   * launch of the same round either way), skipping other frames, within `timeoutMs` in all.
   */
  async nextOfEach<T>(types: string[], timeoutMs = 5000): Promise<Record<string, T>> {
    const deadline = Date.now() + timeoutMs;
    const found: Record<string, T> = {};
    while (types.some((t) => !(t in found))) {
      const frame = await this.next<{ type?: string }>(Math.max(1, deadline - Date.now()));
      const type = typeof frame === "object" && frame !== null ? frame.type : undefined;
      if (type !== undefined && types.includes(type) && !(type in found)) found[type] = frame as T;
    }
    return found;
  }

  /** Every frame received within `ms`, parsed where it is JSON. */
  async framesWithin<T>(ms: number): Promise<T[]> {
    const found: T[] = [];
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const frame = await this.next<T>(Math.max(1, deadline - Date.now())).catch(() => undefined);
      if (frame !== undefined) found.push(frame);
    }
    return found;
  }

  async waitClosed(timeoutMs = 3000): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== undefined, timeoutMs, "the socket to close");
    return this.closed as { code: number; reason: string };
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, left);
      });
    }
  }
}

/**
 * Waits until the master has written the agent's state. An agent's close reaches the Cluster
 * object through its gateway, so the client sees its socket closed before the master does.
 */
export async function agentStateBecomes(account: Account, agentId: string, state: string): Promise<void> {
  const current = async () =>
    ((await (await call(`/c/${account.cluster.id}/agents/${agentId}`, { token: account.token })).json()) as { agent: { state: string } }).agent.state;
  await expect.poll(current).toBe(state);
}

export function registerFrame(overrides: Record<string, unknown> = {}) {
  return {
    type: "register",
    protocol: 1,
    hostname: "node-1",
    ip: "10.0.0.1",
    resources: { cpus: 4, mem: 8192, disk: 100_000, gpus: 0, ports: [[31000, 32000]] },
    attributes: { rack: "r1" },
    version: "0.1.0",
    tasks: [],
    ...overrides,
  };
}

/** Heartbeats as an agent does: `times` pings `everyMs` apart, each answered by a pong. */
export async function pingEvery(socket: TestSocket, times: number, everyMs: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    await new Promise((r) => setTimeout(r, everyMs));
    socket.send("ping");
    expect(await socket.next()).toBe("pong");
  }
}

/** Registers a new agent with a join token; returns its socket, id and credential. */
export async function joinAgent(account: Account, overrides: Record<string, unknown> = {}) {
  const { token } = await joinToken(account);
  const socket = await TestSocket.open(account.cluster.id, token);
  socket.send(registerFrame(overrides));
  const registered = await socket.next<{ type: string; agentId: string; credential: string; pingIntervalMs: number }>();
  expect(registered.type).toBe("registered");
  return { socket, agentId: registered.agentId, credential: registered.credential, registered };
}
