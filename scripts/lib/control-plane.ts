import { request } from "node:https";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Child, run, startChild, waitFor } from "./processes.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;
const BIN = join(ROOT, "node_modules", ".bin");
/** The Node 22 from the `node` devDependency: wrangler refuses older ones. */
export const NODE = join(BIN, "node");
export const WRANGLER = join(BIN, "wrangler");
export const BUN = join(BIN, "bun");

/** The line scripts/lib/runtime.ts prints, followed by its URL, once it serves. */
export const RUNTIME_READY = "dcx-runtime-ready";

/** What startControlPlane passes to scripts/lib/runtime.ts (argv[2], as JSON). */
export interface RuntimeOptions {
  root: string;
  /** The directory holding `index.js` and its modules (wrangler deploy --dry-run --outdir). */
  bundleDir: string;
  port: number;
  /** wrangler's --persist-to: state goes under `<persistDir>/v3`, the layout `wrangler d1 migrations apply --local` reads. */
  persistDir: string;
  vars: Record<string, string>;
  logLevel: "error" | "warn" | "info" | "log" | "debug";
  https: boolean;
}

export interface ControlPlaneOptions {
  port: number;
  /** Where D1 and Durable Object state is kept (wrangler's --persist-to; the same layout under either runtime). */
  persistDir: string;
  vars?: Record<string, string>;
  logLevel?: "error" | "warn" | "info" | "log" | "debug";
  /** `https` serves with a self-signed certificate (curl's DoH client insists on HTTPS). */
  protocol?: "http" | "https";
  onLine?: (line: string) => void;
  /**
   * `miniflare` (default): the bundle `wrangler deploy` uploads, on one workerd started through
   * Miniflare's API (scripts/lib/runtime.ts). `wrangler`: `wrangler dev`, which adds a proxy
   * workerd in front of the runtime and rebuilds and reloads on every source change. Unset, the
   * environment's DCX_RUNTIME decides (`wrangler`, e.g. to run the e2e tests on wrangler dev).
   */
  runtime?: "miniflare" | "wrangler";
}

export interface ControlPlane {
  url: string;
  /** The process whose group holds the workerd processes (bench/lib/procfs.ts controlPlaneProcesses). */
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

/** Applies the D1 migrations to the local database under `persistDir` with wrangler (the Miniflare runtime applies them itself). */
export async function applyMigrations(persistDir: string): Promise<void> {
  await run(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], { cwd: ROOT, env: toolEnv({ CI: "true" }) });
}

/**
 * Bundles the Worker as `wrangler deploy` does (its build command, then esbuild with
 * wrangler.toml's rules and defines) into `outDir`, without uploading anything.
 */
export async function bundleWorker(outDir: string): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  await run(WRANGLER, ["deploy", "--dry-run", "--outdir", outDir], { cwd: ROOT, env: toolEnv({ CI: "true" }) });
}

/** Starts the control plane on workerd and waits until it answers (see ControlPlaneOptions.runtime). */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const url = `${opts.protocol ?? "http"}://127.0.0.1:${opts.port}`;
  const runtime = opts.runtime ?? (process.env.DCX_RUNTIME === "wrangler" ? "wrangler" : "miniflare");
  const child = runtime === "wrangler" ? await startWranglerDev(opts) : await startMiniflare(opts);
  try {
    await waitFor(
      "the control plane to answer /health",
      async () => {
        if (child.proc.exitCode !== null) throw new Error(`the control plane exited:\n${child.output()}`);
        return (await probe(`${url}/health`)) === 200 ? true : undefined;
      },
      60_000,
      200,
    );
  } catch (err) {
    await child.stop("SIGKILL");
    throw new Error(`${String(err)}\n--- control plane output ---\n${child.output()}`);
  }
  return { url, child, stop: async () => void (await child.stop("SIGTERM", 5000)) };
}

async function startWranglerDev(opts: ControlPlaneOptions): Promise<Child> {
  await applyMigrations(opts.persistDir);
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(opts.port), "--persist-to", opts.persistDir];
  args.push("--show-interactive-dev-session=false", "--log-level", opts.logLevel ?? "warn", "--inspector-port", "0");
  if (opts.protocol === "https") args.push("--local-protocol", "https");
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push("--var", `${k}:${v}`);
  return startChild(WRANGLER, args, { cwd: ROOT, env: toolEnv(), onLine: opts.onLine });
}

/**
 * Bundles the Worker and runs it under scripts/lib/runtime.ts; resolves once the runtime has
 * applied the D1 migrations and serves (its ready line is not passed on). The bundle lives under
 * `.wrangler/tmp/bundle-*` (beside wrangler dev's `dev-*`, where the benchmarks' profiles find
 * its source map) while the runtime runs.
 */
async function startMiniflare(opts: ControlPlaneOptions): Promise<Child> {
  const tmp = join(ROOT, ".wrangler", "tmp");
  mkdirSync(tmp, { recursive: true });
  const bundleDir = mkdtempSync(join(tmp, "bundle-"));
  await bundleWorker(bundleDir).catch((err: unknown) => {
    rmSync(bundleDir, { recursive: true, force: true });
    throw err;
  });
  const runtime: RuntimeOptions = {
    root: ROOT,
    bundleDir,
    port: opts.port,
    persistDir: opts.persistDir,
    vars: opts.vars ?? {},
    logLevel: opts.logLevel ?? "warn",
    https: opts.protocol === "https",
  };
  let ready = false;
  const onLine = (line: string) => {
    if (line.startsWith(RUNTIME_READY)) ready = true;
    else opts.onLine?.(line);
  };
  const child = startChild(NODE, [join(ROOT, "scripts", "lib", "runtime.ts"), JSON.stringify(runtime)], { cwd: ROOT, env: toolEnv(), onLine });
  void child.exited.then(() => rmSync(bundleDir, { recursive: true, force: true }));
  await waitFor(
    "the Miniflare runtime to start",
    () => {
      if (child.proc.exitCode !== null) throw new Error(`the Miniflare runtime exited:\n${child.output()}`);
      return ready || undefined;
    },
    60_000,
    50,
  ).catch(async (err) => {
    await child.stop("SIGKILL");
    throw err;
  });
  return child;
}

/** The status of a GET, accepting the self-signed certificate of local HTTPS. */
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
