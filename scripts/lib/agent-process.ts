import { join } from "node:path";
import { BUN, ROOT, toolEnv } from "./control-plane.ts";
import { type Child, startChild, waitFor } from "./processes.ts";

export interface AgentOptions {
  master: string;
  cluster: string;
  workDir: string;
  token?: string;
  resources?: string;
  attributes?: string;
  hostname?: string;
  advertiseIp?: string;
  backoffMaxMs?: number;
  /** Kill the agent's tasks when it is stopped with SIGTERM/SIGINT (tasks outlive the agent otherwise). */
  killTasksOnExit?: boolean;
  /** Further flags, e.g. `--dns-listen 127.0.0.1:5353`. */
  extraArgs?: string[];
  /** Echo the agent's log lines to this process's stdout, prefixed. */
  echo?: string;
}

export interface AgentProcess extends Child {
  /** The agent's structured log lines, parsed. */
  events: Record<string, unknown>[];
  waitForEvent: (event: string, after?: number, timeoutMs?: number) => Promise<Record<string, unknown>>;
}

/** Starts a real Bun agent (`bun agent/main.ts …`), exactly as the README tells users to. */
export function startAgent(opts: AgentOptions): AgentProcess {
  const args = [join(ROOT, "agent", "main.ts"), "--master", opts.master, "--cluster", opts.cluster, "--work-dir", opts.workDir];
  const optional: [string, string | number | undefined][] = [
    ["--token", opts.token],
    ["--resources", opts.resources],
    ["--attributes", opts.attributes],
    ["--hostname", opts.hostname],
    ["--advertise-ip", opts.advertiseIp],
    ["--backoff-max-ms", opts.backoffMaxMs],
  ];
  for (const [flag, value] of optional) if (value !== undefined) args.push(flag, String(value));
  if (opts.killTasksOnExit) args.push("--kill-tasks-on-exit");
  args.push(...(opts.extraArgs ?? []));
  const events: Record<string, unknown>[] = [];
  const child = startChild(BUN, args, {
    cwd: ROOT,
    env: toolEnv(),
    onLine: (line) => {
      if (opts.echo) process.stdout.write(`${opts.echo} ${line}\n`);
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not a log line (e.g. a stack trace); kept in output() for diagnostics.
      }
    },
  });
  const waitForEvent = (event: string, after = 0, timeoutMs = 30_000) =>
    waitFor(`agent event '${event}'\n${child.output()}`, () => events.slice(after).find((e) => e.event === event), timeoutMs, 50);
  return { ...child, events, waitForEvent };
}
