import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { createServer } from "node:net";

/**
 * Child processes for the local cluster, the end-to-end tests and the benchmarks. Each child
 * leads its own process group, so stopping it also stops what it started (wrangler starts
 * workerd), and only processes we started are ever signalled.
 */
export interface Child {
  proc: ChildProcess;
  /** Everything the child wrote, stdout and stderr interleaved, for diagnostics. */
  output: () => string;
  exited: Promise<number | null>;
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<number | null>;
}

export function startChild(command: string, args: string[], options: SpawnOptions & { onLine?: (line: string) => void } = {}): Child {
  const proc = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let partial = "";
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
    if (!options.onLine) return;
    partial += text;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) options.onLine(line);
  };
  proc.stdout?.on("data", onData);
  proc.stderr?.on("data", onData);
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : null))));
  const stop = async (signal: NodeJS.Signals = "SIGTERM", graceMs = 5000) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return exited;
    signalGroup(proc, signal);
    const timer = setTimeout(() => signalGroup(proc, "SIGKILL"), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return { proc, output: () => output, exited, stop };
}

function signalGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Runs a command to completion; rejects with its output when it fails. */
export async function run(command: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  const child = startChild(command, args, options);
  const code = await child.exited;
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}:\n${child.output()}`);
  return child.output();
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Polls `check` until it returns a value, or throws after `timeoutMs` with `what` in the message. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}
