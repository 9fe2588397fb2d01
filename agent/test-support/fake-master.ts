import type { Server, ServerWebSocket } from "bun";
import { PING, PONG, Register } from "../../protocol/index.ts";
import type { MasterMessage } from "../../protocol/index.ts";

/**
 * A stand-in for the Cluster Durable Object's agent endpoint, for agent tests: it accepts
 * WebSockets on `/c/<cluster>/agent/connect`, records what each session sends, answers `ping`
 * with `pong` like the DO's auto-response, and lets the test decide how to answer `register`.
 */

/** Everything one agent session did, as the master saw it. */
export interface MasterSession {
  index: number;
  path: string;
  authorization: string | null;
  /** Every text frame the agent sent, `ping`s included, in order. */
  frames: string[];
  registers: Register[];
  pings: number;
  /** Clear to play a master that stopped answering heartbeats. */
  answerPings: boolean;
  /** The agent's close, once the socket is closed. */
  closed?: { code: number; reason: string };
  /** Set once the upgrade completes. */
  ws?: ServerWebSocket<{ session: MasterSession }>;
}

/** How the fake answers a `register`; the default joins or re-attaches the agent. */
export type RegisterHandler = (session: MasterSession, register: Register) => void;

export interface FakeMasterOptions {
  pingIntervalMs?: number;
  agentId?: string;
  credential?: string;
  /** The `reconnectWindowMs` the default answer tells the agent; none when absent. */
  reconnectWindowMs?: number;
  /** Upgrades to refuse with HTTP 503 before accepting any, to exercise retries. */
  refuseFirst?: number;
}

export class FakeMaster {
  readonly sessions: MasterSession[] = [];
  onRegister: RegisterHandler;
  onPing: (session: MasterSession) => void = () => {};
  private refusals: number;
  private readonly server: Server<{ session: MasterSession }>;

  constructor(private readonly options: FakeMasterOptions = {}) {
    this.refusals = options.refuseFirst ?? 0;
    this.onRegister = (session, register) => this.registerAgent(session, register);
    this.server = Bun.serve<{ session: MasterSession }>({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (request, server) => this.upgrade(request, server),
      websocket: {
        open: (ws) => {
          ws.data.session.ws = ws;
          this.sessions.push(ws.data.session);
        },
        message: (ws, message) => this.onFrame(ws.data.session, message),
        close: (ws, code, reason) => {
          ws.data.session.closed = { code, reason };
        },
      },
    });
  }

  /** The master's base URL, as an agent's `--master` takes it. */
  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** The default answer: a credential for a join token, none for a known agent. */
  registerAgent(session: MasterSession, register: Register): void {
    const agentId = this.options.agentId ?? "agent-1";
    const credential = this.options.credential ?? "credential-1";
    const joining = register.agentId === undefined;
    this.send(session, {
      type: "registered",
      agentId,
      pingIntervalMs: this.options.pingIntervalMs ?? 30,
      ...(this.options.reconnectWindowMs === undefined ? {} : { reconnectWindowMs: this.options.reconnectWindowMs }),
      ...(joining ? { credential } : {}),
    });
  }

  send(session: MasterSession, message: MasterMessage | string): void {
    if (session.ws === undefined) throw new Error(`session ${session.index} has no socket yet`);
    session.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Waits for session number `index` (0-based) to have sent its `register`. */
  registered(index: number): Promise<MasterSession> {
    return waitFor(() => {
      const session = this.sessions[index];
      return session !== undefined && session.registers.length > 0 ? session : undefined;
    }, `session ${index} to register`);
  }

  async stop(): Promise<void> {
    await this.server.stop(true);
  }

  private upgrade(request: Request, server: Server<{ session: MasterSession }>): Response | undefined {
    if (this.refusals > 0) {
      this.refusals -= 1;
      return new Response("master restarting", { status: 503 });
    }
    const session: MasterSession = {
      index: this.sessions.length,
      path: new URL(request.url).pathname,
      authorization: request.headers.get("authorization"),
      frames: [],
      registers: [],
      pings: 0,
      answerPings: true,
    };
    if (server.upgrade(request, { data: { session } })) return undefined;
    return new Response("expected a WebSocket upgrade", { status: 426 });
  }

  private onFrame(session: MasterSession, message: string | Buffer): void {
    const text = typeof message === "string" ? message : message.toString("utf8");
    session.frames.push(text);
    if (text === PING) {
      session.pings += 1;
      this.onPing(session);
      if (session.answerPings) this.send(session, PONG);
      return;
    }
    const register = Register.safeParse(JSON.parse(text));
    if (register.success) {
      session.registers.push(register.data);
      this.onRegister(session, register.data);
    }
  }
}

/** Polls `probe` until it returns a value, failing with `what` after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(5);
  }
}
