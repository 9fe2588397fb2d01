import { gatewayName, gatewaysNeeded, type LinkOp, type SessionReport } from "../gateway/wire.ts";
import type { ClusterDb } from "./db.ts";
import { getMeta, setMeta } from "./meta.ts";
import type { LinkSink } from "./sessions.ts";

/** Meta key: how many gateway objects the cluster's agents are spread over (G). Only ever grows. */
const GATEWAY_COUNT = "gateway_count";
/** Sockets per gateway the cluster aims at when it adds gateways (AGENTS_PER_GATEWAY overrides it). */
const DEFAULT_AGENTS_PER_GATEWAY = 1000;

type GatewayStub = ReturnType<Env["AGENT_GATEWAY"]["getByName"]>;

/** What the liveness sweep learned from the gateways: their sessions, and the gateways that did not answer. */
export interface GatewayReports {
  sessions: SessionReport[];
  unanswered: Set<number>;
}

/** Ops queued for one gateway's next delivery RPC, and that RPC's end. */
interface Batch {
  ops: LinkOp[];
  delivered: Promise<void>;
  done: () => void;
}

/**
 * The Cluster object's side of its gateways: how many there are, their stubs, and one outbox
 * per gateway. Frames to agents are queued per gateway and sent together once the current turn
 * ends, one RPC in flight per gateway: frames queued meanwhile go in the next, in order.
 */
export class Gateways implements LinkSink {
  private readonly pending = new Map<number, Batch>();
  private readonly inFlight = new Set<number>();
  private readonly stubs = new Map<number, GatewayStub>();
  /** Delivery RPCs made since this instance started (tests and benchmarks read them). */
  rpcs = 0;

  constructor(
    private readonly env: Env,
    private readonly db: ClusterDb,
    private readonly clusterId: string,
    /** Told of the sessions whose frames could not be delivered (their gateway was reset or failed). */
    private readonly undelivered: (sessionIds: string[]) => void,
  ) {}

  /** G as stored, read once: only `fit` changes it. */
  private known: number | undefined;

  /** G: the gateways agents may sit on (0 … G-1). */
  get count(): number {
    this.known ??= Number(getMeta(this.db, GATEWAY_COUNT)) || 1;
    return this.known;
  }

  private get perGateway(): number {
    return Number(this.env.AGENTS_PER_GATEWAY) || DEFAULT_AGENTS_PER_GATEWAY;
  }

  /**
   * Raises G when the cluster holds more than G × AGENTS_PER_GATEWAY agents (`agents`, an upper
   * bound), or when a gateway past G opened a session. Agents already connected stay where they
   * are (each session names its gateway); new ones and reconnects spread over the new G.
   */
  fit(agents: number, seenGateway = 0): void {
    const current = this.count;
    const next = Math.max(gatewaysNeeded(agents, this.perGateway, current), seenGateway + 1);
    if (next <= current) return;
    setMeta(this.db, GATEWAY_COUNT, String(next));
    this.known = next;
  }

  /** Queues one op for a gateway; sent once this turn's other ops for it are queued too. */
  push(gateway: number, op: LinkOp): void {
    const batch = this.pending.get(gateway);
    if (batch) {
      batch.ops.push(op);
      return;
    }
    let done = () => {};
    const delivered = new Promise<void>((resolve) => (done = resolve));
    this.pending.set(gateway, { ops: [op], delivered, done });
    if (!this.inFlight.has(gateway)) queueMicrotask(() => void this.flush(gateway));
  }

  /** Settles once every op queued so far has had its delivery RPC (delivered, or its sessions given up). */
  sent(): Promise<void> {
    return Promise.all([...this.pending.values()].map((batch) => batch.delivered)).then(() => undefined);
  }

  private stub(gateway: number): GatewayStub {
    let stub = this.stubs.get(gateway);
    if (!stub) {
      stub = this.env.AGENT_GATEWAY.getByName(gatewayName(this.clusterId, gateway));
      this.stubs.set(gateway, stub);
    }
    return stub;
  }

  private async flush(gateway: number): Promise<void> {
    if (this.inFlight.has(gateway)) return;
    this.inFlight.add(gateway);
    try {
      for (let batch = this.pending.get(gateway); batch; batch = this.pending.get(gateway)) {
        this.pending.delete(gateway);
        await this.deliver(gateway, batch.ops);
        batch.done();
      }
    } finally {
      this.inFlight.delete(gateway);
    }
  }

  /**
   * One delivery RPC. A stub to a gateway that was reset fails once, and a fresh stub reaches its
   * new instance, which drops ops for the sockets it lost (the liveness sweep finds those
   * sessions gone). When the gateway cannot be reached at all, the ops' sessions end here.
   */
  private async deliver(gateway: number, ops: LinkOp[]): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        this.rpcs++;
        await this.stub(gateway).deliver(ops);
        return;
      } catch (error) {
        this.stubs.delete(gateway);
        if (attempt === 0) continue;
        const message = error instanceof Error ? error.message : String(error);
        console.warn(JSON.stringify({ event: "gateway_deliver_failed", clusterId: this.clusterId, gateway, ops: ops.length, message }));
        this.undelivered([...new Set(ops.map((op) => op.sessionId))]);
      }
    }
  }

  /** Every gateway's sessions, one RPC each, in parallel; a gateway that fails to answer is named. */
  async reports(): Promise<GatewayReports> {
    const result: GatewayReports = { sessions: [], unanswered: new Set() };
    await Promise.all(
      this.all().map(async (n) => {
        // A stub to a gateway that was reset fails once: a fresh stub reaches its new instance.
        for (let attempt = 0; attempt < 2; attempt++) {
          try {
            result.sessions.push(...(await this.stub(n).sessions()));
            return;
          } catch {
            this.stubs.delete(n);
          }
        }
        result.unanswered.add(n);
      }),
    );
    return result;
  }

  /** Closes every gateway's sessions still waiting to register with a revoked join token; how many. */
  async revokeJoin(tokenId: string): Promise<number> {
    const counts = await Promise.all(this.all().map((n) => this.stub(n).revokeJoin(tokenId)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** The cluster is deleted: every gateway closes its sockets and forwards nothing more. A gateway that fails is logged; the deletion goes on. */
  async shutdown(code: number, reason: string): Promise<void> {
    for (const batch of this.pending.values()) batch.done();
    this.pending.clear();
    const results = await Promise.allSettled(this.all().map((n) => this.stub(n).shutdown(code, reason)));
    const failed = results.filter((r) => r.status === "rejected").length;
    if (failed > 0) console.warn(JSON.stringify({ event: "gateway_shutdown_failed", clusterId: this.clusterId, failed }));
  }

  private all(): number[] {
    return Array.from({ length: this.count }, (_, n) => n);
  }
}
