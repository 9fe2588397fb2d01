import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { NODE, ROOT } from "../../scripts/lib/control-plane.ts";

/** The parent's side of bench/sim-agents.ts: spawn it, send commands, wait for its events. */

export type SimEvent = { event: string; [k: string]: unknown };

export interface SimOptions {
  wsUrl: string;
  token: string;
  count: number;
  concurrency: number;
  prefix?: string;
  /** Called for events nobody waits for (progress, closed, master_error). */
  onEvent?: (e: SimEvent) => void;
}

export class SimAgents {
  readonly proc: ChildProcess;
  private readonly events: SimEvent[] = [];
  private readonly waiters = new Set<{ match: (e: SimEvent) => boolean; resolve: (e: SimEvent) => void }>();
  private stderr = "";
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;
  private nextId = 1;

  constructor(opts: SimOptions) {
    const args = [
      join(ROOT, "bench", "sim-agents.ts"),
      "--url",
      opts.wsUrl,
      "--token",
      opts.token,
      "--count",
      String(opts.count),
      "--concurrency",
      String(opts.concurrency),
    ];
    if (opts.prefix) args.push("--prefix", opts.prefix);
    // Its own process group, so stopping it can never signal anything else; stdin is its lifeline.
    this.proc = spawn(NODE, args, { cwd: ROOT, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    let partial = "";
    this.proc.stdout?.setEncoding("utf8");
    this.proc.stdout?.on("data", (chunk: string) => {
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        let e: SimEvent;
        try {
          e = JSON.parse(line) as SimEvent;
        } catch {
          this.stderr += line + "\n";
          continue;
        }
        this.dispatch(e, opts.onEvent);
      }
    });
    this.proc.stderr?.setEncoding("utf8");
    this.proc.stderr?.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-20_000);
    });
    this.proc.stdin?.on("error", () => {
      // The child is gone; exit handling reports it.
    });
    this.exited = new Promise((resolve) =>
      this.proc.on("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? 128 : null);
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  output(): string {
    return this.stderr;
  }

  private dispatch(e: SimEvent, onEvent?: (e: SimEvent) => void): void {
    for (const w of this.waiters) {
      if (w.match(e)) {
        this.waiters.delete(w);
        w.resolve(e);
        return;
      }
    }
    if (e.event === "fatal") process.stderr.write(`sim-agents: ${String(e.message)}\n`);
    onEvent?.(e);
    this.events.push(e);
    if (this.events.length > 500) this.events.shift();
  }

  send(cmd: Record<string, unknown>): void {
    this.proc.stdin?.write(JSON.stringify(cmd) + "\n");
  }

  /** The first event matching (already received or coming); rejects on timeout or if the process exits. */
  wait(match: (e: SimEvent) => boolean, timeoutMs: number, what = "a sim-agents event"): Promise<SimEvent> {
    const i = this.events.findIndex(match);
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0] as SimEvent);
    return new Promise<SimEvent>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (e: SimEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      void this.exited.then(() => {
        if (!this.waiters.has(waiter)) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`sim-agents exited (${this.exitCode}) while waiting for ${what}:\n${this.stderr.slice(-4000)}`));
      });
      this.waiters.add(waiter);
    });
  }

  /** Resets the counters; the sim then reports `launched`/`acked`/`killed` once `expect` tasks got there. */
  async mark(expect: number): Promise<number> {
    const id = this.nextId++;
    const marked = this.wait((e) => e.event === "marked" && e.id === id, 10_000, "mark");
    this.send({ cmd: "mark", id, expect });
    await marked;
    return id;
  }

  /** Announces that the master is about to drop every socket; the sim then reports `recovered` (with this id) once all are registered again. */
  async storm(): Promise<number> {
    const id = this.nextId++;
    const ready = this.wait((e) => e.event === "storming" && e.id === id, 10_000, "storm");
    this.send({ cmd: "storm", id });
    await ready;
    return id;
  }

  async stats(): Promise<SimEvent> {
    const id = this.nextId++;
    const reply = this.wait((e) => e.event === "stats" && e.id === id, 10_000, "stats");
    this.send({ cmd: "stats", id });
    return reply;
  }

  /** Asks it to close its sockets and exit; kills its process group if it does not. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.send({ cmd: "stop" });
    this.proc.stdin?.end();
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exitCode !== undefined || this.proc.pid === undefined) return;
    try {
      process.kill(-this.proc.pid, signal);
    } catch {
      // already gone
    }
  }
}
