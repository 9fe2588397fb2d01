/**
 * A simulated Mesos framework for the frameworks benchmark, written as an efficient real one
 * is: it subscribes over the scheduler API, reads the RecordIO stream, answers each OFFERS
 * event with one ACCEPT per offer it uses (up to MAX_PER_OFFER tasks each, until its goal is
 * launched; Mesos takes the offers of one agent per ACCEPT) and ONE DECLINE naming every offer
 * it does not use, and acknowledges every update that carries a uuid. Its calls are
 * pipelined: launches go before acknowledgements (an ack only lets the next update of the
 * same task out, and a TASK_RUNNING has none behind it), at most CONCURRENCY calls in flight,
 * of which at most ACK_CONCURRENCY_LAUNCHING acknowledgements while some task it launched has not
 * reported running yet. It
 * timestamps each task's ACCEPT, its TASK_RUNNING, and the last acknowledgement.
 *
 * It speaks HTTP/1.1 over keep-alive connections with node:http, as a production framework's
 * client does (libprocess, Go's net/http, Java's HTTP clients), not through `fetch`: undici's
 * fetch costs this process about 1 ms of CPU per call, which on this 2-core machine is taken
 * from the control plane under test (the framework would run elsewhere).
 */
import { Agent, type IncomingMessage, request } from "node:http";

type Event = { type: string } & Record<string, unknown>;
interface Offer {
  id: { value: string };
  agent_id: { value: string };
  resources: { name: string; scalar?: { value: number } }[];
}
interface Status {
  task_id: { value: string };
  agent_id: { value: string };
  state: string;
  uuid?: string;
  timestamp: number;
}

/** Calls in flight at once: a real framework pipelines its calls too. */
const CONCURRENCY = 16;
/** Of those, acknowledgements at most while tasks it accepted are not running yet: they trail the launches rather than crowd them out. */
const ACK_CONCURRENCY_LAUNCHING = 4;
const TASK = { cpus: 0.01, mem: 1 };
/** Tasks per ACCEPT at most: the framework spreads its tasks over agents, as Marathon's placement does. */
const MAX_PER_OFFER = 50;

export class BenchFramework {
  streamId = "";
  frameworkId = "";
  readonly acceptAt = new Map<string, number>();
  readonly runningAt = new Map<string, number>();
  offersReceived = 0;
  firstOffers: { at: number; count: number } | undefined;
  subscribedAt = 0;
  errors: string[] = [];
  /** When the last acknowledgement answered (performance.now()), once every RUNNING seen is acknowledged. */
  lastAckAt = 0;
  acksSent = 0;
  /** How long the last UPDATE took from the master's commit to this framework (the master's clock is this machine's). */
  lastUpdateLagMs = 0;
  private launched = 0;
  /** Launch calls first (ACCEPT, DECLINE), then acknowledgements. */
  private queue: (() => Promise<void>)[] = [];
  private acks: (() => Promise<void>)[] = [];
  private inFlight = 0;
  private acksInFlight = 0;
  private readonly acked = new Set<string>();
  private done: (() => void) | undefined;
  readonly allRunning = new Promise<void>((resolve) => (this.done = resolve));

  private readonly url: URL;
  private readonly token: string;
  private readonly goal: number;
  private readonly taskPrefix: string;
  /** The calls' connections, kept alive between calls (the stream has its own). */
  private readonly agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  private stream: IncomingMessage | undefined;

  /** `taskPrefix` begins its task ids (each round's framework names its tasks apart, for the logs). */
  constructor(url: string, token: string, goal: number, taskPrefix = "bench") {
    this.url = new URL(url);
    this.token = token;
    this.goal = goal;
    this.taskPrefix = taskPrefix;
  }

  /** Subscribes; resolves once SUBSCRIBED has arrived, then keeps reading the stream in the background. */
  async subscribe(): Promise<void> {
    this.subscribedAt = performance.now();
    const body = JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: { user: "", name: "bench", failover_timeout: 60 } } });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(this.url, { method: "POST", headers: { ...this.headers(false), "Content-Length": Buffer.byteLength(body) } }, resolve);
      req.on("error", reject);
      req.end(body);
    });
    if (res.statusCode !== 200) throw new Error(`SUBSCRIBE -> ${res.statusCode}: ${await text(res)}`);
    this.stream = res;
    this.streamId = String(res.headers["mesos-stream-id"] ?? "");
    await new Promise<void>((resolve) => this.read(res, resolve));
  }

  /** Ends the subscription and the calls' connections. */
  close(): void {
    this.stream?.destroy();
    this.agent.destroy();
  }

  private headers(stream = true): Record<string, string> {
    const h: Record<string, string> = { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" };
    if (stream) h["Mesos-Stream-Id"] = this.streamId;
    return h;
  }

  /** Reads the RecordIO stream (`<length>\n<record>`, lengths in bytes) as its chunks arrive. */
  private read(res: IncomingMessage, subscribed: () => void): void {
    let pending: Buffer = Buffer.alloc(0);
    res.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      for (;;) {
        const nl = pending.indexOf(10, at);
        if (nl < 0) break;
        const length = Number(pending.toString("latin1", at, nl));
        if (pending.length < nl + 1 + length) break;
        const event = JSON.parse(pending.toString("utf8", nl + 1, nl + 1 + length)) as Event;
        at = nl + 1 + length;
        if (event.type === "SUBSCRIBED") {
          this.frameworkId = (event.subscribed as { framework_id: { value: string } }).framework_id.value;
          subscribed();
        } else this.handle(event);
      }
      pending = pending.subarray(at);
    });
    // The stream broke off: the run's timeout reports what did not happen.
    res.on("error", () => undefined);
  }

  private handle(event: Event): void {
    if (event.type === "OFFERS") {
      const offers = (event.offers as { offers: Offer[] }).offers;
      this.offersReceived += offers.length;
      this.firstOffers ??= { at: performance.now(), count: offers.length };
      // What it cannot use goes back first, in one DECLINE, so the master can offer it elsewhere at once.
      let planned = this.launched;
      const counts = offers.map((offer) => {
        const n = this.tasksFor(offer, planned);
        planned += n;
        return n;
      });
      const unused = offers.filter((_, i) => counts[i] === 0);
      if (unused.length > 0) this.enqueue({ type: "DECLINE", decline: { offer_ids: unused.map((o) => o.id), filters: { refuse_seconds: 3600 } } });
      offers.forEach((offer, i) => {
        if ((counts[i] ?? 0) > 0) this.answer(offer, counts[i] ?? 0);
      });
    } else if (event.type === "UPDATE") {
      const status = (event.update as { status: Status }).status;
      this.lastUpdateLagMs = Date.now() - status.timestamp * 1000;
      if (status.state === "TASK_RUNNING" && !this.runningAt.has(status.task_id.value)) {
        this.runningAt.set(status.task_id.value, performance.now());
        if (this.runningAt.size >= this.goal) this.done?.();
        // Its last launch running: the acknowledgements may take every slot.
        if (this.runningAt.size >= this.acceptAt.size) this.pump();
      }
      // An update resent before its ack went out carries the same uuid: one ack answers both.
      if (status.uuid && !this.acked.has(status.uuid) && this.acked.add(status.uuid))
        this.enqueue({ type: "ACKNOWLEDGE", acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } }, undefined, true);
    } else if (event.type === "ERROR") this.errors.push(JSON.stringify(event));
  }

  /** How many tasks it launches on an offer: as many as fit, up to MAX_PER_OFFER, while its goal is not launched. */
  private tasksFor(offer: Offer, launched: number): number {
    const have = (name: string) => offer.resources.find((r) => r.name === name)?.scalar?.value ?? 0;
    const fits = Math.floor(Math.min(have("cpus") / TASK.cpus, have("mem") / TASK.mem) + 1e-9);
    return Math.max(0, Math.min(fits, MAX_PER_OFFER, this.goal - launched));
  }

  /** Launches `count` tasks on the offer (one ACCEPT). */
  private answer(offer: Offer, count: number): void {
    const tasks = Array.from({ length: count }, (_, i) => {
      const id = `${this.taskPrefix}-${this.launched + i}`;
      return {
        name: "bench",
        task_id: { value: id },
        agent_id: offer.agent_id,
        resources: [
          { name: "cpus", type: "SCALAR", scalar: { value: TASK.cpus } },
          { name: "mem", type: "SCALAR", scalar: { value: TASK.mem } },
        ],
        command: { value: "sleep 600" },
      };
    });
    this.launched += count;
    this.enqueue(
      { type: "ACCEPT", accept: { offer_ids: [offer.id], operations: [{ type: "LAUNCH", launch: { task_infos: tasks } }], filters: { refuse_seconds: 3600 } } },
      () => {
        const now = performance.now();
        for (const t of tasks) this.acceptAt.set(t.task_id.value, now);
      },
    );
  }

  /** Queues a call; `beforeSend` runs as it goes out (the ACCEPT timestamps); acks wait behind launches. */
  private enqueue(call: Record<string, unknown>, beforeSend?: () => void, ack = false): void {
    (ack ? this.acks : this.queue).push(async () => {
      beforeSend?.();
      const res = await this.post(JSON.stringify({ ...call, framework_id: { value: this.frameworkId } }));
      if (res.status !== 202) this.errors.push(`${String(call.type)} -> ${res.status}: ${res.body.slice(0, 300)}`);
      if (ack && ++this.acksSent >= this.goal) this.lastAckAt = performance.now();
    });
    this.pump();
  }

  /** One call on a kept-alive connection: its status and body. */
  private post(body: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(this.url, { method: "POST", agent: this.agent, headers: { ...this.headers(), "Content-Length": Buffer.byteLength(body) } }, (res) =>
        text(res).then((answer) => resolve({ status: res.statusCode ?? 0, body: answer }), reject),
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  private pump(): void {
    for (;;) {
      if (this.inFlight >= CONCURRENCY) return;
      const ack = this.queue.length === 0;
      const ackLimit = this.acceptAt.size > this.runningAt.size ? ACK_CONCURRENCY_LAUNCHING : CONCURRENCY;
      if (ack && (this.acks.length === 0 || this.acksInFlight >= ackLimit)) return;
      const next = (ack ? this.acks.shift() : this.queue.shift()) as () => Promise<void>;
      this.inFlight++;
      if (ack) this.acksInFlight++;
      void next()
        .catch((err: unknown) => this.errors.push(String(err)))
        .finally(() => {
          this.inFlight--;
          if (ack) this.acksInFlight--;
          this.pump();
        });
    }
  }
}

/** A response's whole body as text. */
function text(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}
