import { request } from "node:https";
import { join } from "node:path";
import { type Child, run, startChild, waitFor } from "./processes.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;
const BIN = join(ROOT, "node_modules", ".bin");
/** The Node 22 from the `node` devDependency: wrangler refuses older ones. */
export const NODE = join(BIN, "node");
export const WRANGLER = join(BIN, "wrangler");
export const BUN = join(BIN, "bun");

export interface ControlPlaneOptions {
  port: number;
  /** Where D1 and Durable Object state is kept (wrangler's --persist-to). */
  persistDir: string;
  vars?: Record<string, string>;
  logLevel?: "error" | "warn" | "info" | "log" | "debug";
  /** `https` serves with wrangler's self-signed certificate (curl's DoH client insists on HTTPS). */
  protocol?: "http" | "https";
  onLine?: (line: string) => void;
}

export interface ControlPlane {
  url: string;
  child: Child;
  stop: () => Promise<void>;
}

/**
 * The environment wrangler runs in: Node 22 first on PATH, no telemetry prompts, and no fetch of
 * the `Request.cf` object from workers.cloudflare.com: DCX reads no `request.cf` field, and
 * offline that fetch waits 3 s and then prints a stack trace on every start.
 */
export function toolEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${BIN}:${process.env.PATH ?? ""}`, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", ...extra };
}

/** Applies the D1 migrations to the local database under `persistDir`. */
export async function applyMigrations(persistDir: string): Promise<void> {
  await run(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], { cwd: ROOT, env: toolEnv({ CI: "true" }) });
}

/** Starts the control plane on workerd (`wrangler dev`) and waits until it answers. */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  await applyMigrations(opts.persistDir);
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(opts.port), "--persist-to", opts.persistDir];
  args.push("--show-interactive-dev-session=false", "--log-level", opts.logLevel ?? "warn", "--inspector-port", "0");
  if (opts.protocol === "https") args.push("--local-protocol", "https");
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push("--var", `${k}:${v}`);
  const child = startChild(WRANGLER, args, { cwd: ROOT, env: toolEnv(), onLine: opts.onLine });
  const url = `${opts.protocol ?? "http"}://127.0.0.1:${opts.port}`;
  try {
    await waitFor(
      "the control plane to answer /health",
      async () => {
        if (child.proc.exitCode !== null) throw new Error(`wrangler dev exited:\n${child.output()}`);
        return (await probe(`${url}/health`)) === 200 ? true : undefined;
      },
      60_000,
      200,
    );
  } catch (err) {
    await child.stop("SIGKILL");
    throw new Error(`${String(err)}\n--- wrangler output ---\n${child.output()}`);
  }
  return { url, child, stop: async () => void (await child.stop("SIGTERM", 5000)) };
}

/** The status of a GET, accepting wrangler's self-signed certificate for local HTTPS. */
export function probe(url: string): Promise<number> {
  if (url.startsWith("http:")) return fetch(url).then((r) => r.status);
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}
