/**
 * The control plane's Worker on workerd through Miniflare's API, in a process of its own that
 * startControlPlane starts (argv[2]: RuntimeOptions as JSON). What runs is what deploys: the
 * bundle `wrangler deploy --dry-run --outdir` writes, with the bindings, compatibility date and
 * flags, module rules, static assets and cron triggers wrangler itself derives from
 * wrangler.toml (unstable_getMiniflareWorkerOptions), so a Durable Object class or binding added
 * there needs no change here. Unlike `wrangler dev` there is no proxy workerd in front of the
 * runtime and no file watcher: one workerd serves the port.
 *
 * The port is a direct socket to the Worker (Miniflare's `unsafeDirectSockets`), as Cloudflare's
 * edge hands a request to a Worker: Miniflare's entry worker, the JavaScript it otherwise runs in
 * front of every request (0.29 ms of workerd CPU and ~0.4 ms of round trip each, on the one
 * thread the Worker and its objects share), is not on the path. The entry keeps a port of its own
 * for what only it does, the `/cdn-cgi/local/scheduled` cron trigger, printed at start. Two cases
 * keep the entry on the port: HTTPS (a direct socket has no TLS) and a log level that logs each
 * request (the entry writes those lines). The Worker then sees no CF-Connecting-IP, which the
 * entry would set to 127.0.0.1; the edge always sets it (control/http/security.ts).
 * Prints RUNTIME_READY and the URL once the D1 migrations are applied; SIGTERM or SIGINT stops it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, matchesGlob } from "node:path";
import {
  convertV4MiniflareOptions,
  Log,
  LogLevel,
  Miniflare,
  type V4MiniflareOptions,
  type V4ModuleDefinition,
  type V4ModuleRule,
  type V4WorkerOptions,
  type WorkerdStructuredLog,
} from "miniflare";
import { type RuntimeOptions, RUNTIME_READY } from "./control-plane.ts";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig, unstable_splitSqlQuery } from "wrangler";

const LEVELS = { error: LogLevel.ERROR, warn: LogLevel.WARN, info: LogLevel.INFO, log: LogLevel.INFO, debug: LogLevel.DEBUG } as const;
/** wrangler's logger levels: a message shows when its rank is at most the chosen level's. */
const RANKS = { error: 0, warn: 1, info: 2, log: 3, debug: 4 } as const;

/**
 * The Worker's console output as `wrangler dev --log-level` shows it: filtered by the level
 * (console.log only from `log` up), errors marked `[ERROR]` and warnings `[WARNING]` (the
 * benchmarks look for `[ERROR]` lines). Miniflare alone would print every line.
 */
function workerLogs(chosen: RuntimeOptions["logLevel"]): (log: WorkerdStructuredLog) => void {
  return ({ level, message }) => {
    const rank = level === "error" ? 0 : level === "warn" ? 1 : level === "info" || level === "debug" ? 2 : 3;
    if (rank > RANKS[chosen]) return;
    if (rank === 0) process.stderr.write(`✘ [ERROR] ${message}\n`);
    else if (rank === 1) process.stderr.write(`▲ [WARNING] ${message}\n`);
    else process.stdout.write(`${message}\n`);
  };
}

/** Miniflare's options for the bundled Worker, derived from wrangler.toml as `wrangler dev` derives them. */
function miniflareOptions(opts: RuntimeOptions, name: string, direct: boolean): V4MiniflareOptions {
  const config = unstable_readConfig({ config: join(opts.root, "wrangler.toml") });
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
  const worker: V4WorkerOptions = {
    ...workerOptions,
    name,
    modules: bundleModules(opts.bundleDir, workerOptions.modulesRules ?? []),
    modulesRoot: opts.bundleDir,
    bindings: { ...(workerOptions.bindings as V4WorkerOptions["bindings"]), ...opts.vars },
    ...(direct ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: opts.port }] } : {}),
  };
  return {
    workers: [worker],
    rootPath: opts.root,
    host: "127.0.0.1",
    // With a direct socket on the port, the entry takes any free one.
    port: direct ? 0 : opts.port,
    https: opts.https,
    // An inspector on a free port, as `wrangler dev --inspector-port 0` has: the benchmarks read the isolate's heap and CPU through it.
    inspectorPort: 0,
    unsafeInspectDurableObjects: true,
    // As under wrangler dev: GET /cdn-cgi/local/scheduled runs the cron handler (the hourly purge) by hand.
    unsafeTriggerHandlers: true,
    resourcePersistencePath: join(opts.persistDir, "v3"),
    log: new Log(LEVELS[opts.logLevel]),
    logRequests: logsRequests(opts),
    handleStructuredLogs: workerLogs(opts.logLevel),
    // DCX reads no `request.cf` field, and this machine may not reach the host that serves it.
    cf: false,
  };
}

/** Whether each request is logged (by the entry worker, so it stays on the port). */
const logsRequests = (opts: RuntimeOptions) => LEVELS[opts.logLevel] >= LogLevel.INFO;

/**
 * The bundle's modules: `index.js` first, then each file wrangler wrote beside it (the Text
 * modules of wrangler.toml's rules, such as the Cluster object's SQL migrations) typed by the
 * first rule that matches it, as wrangler does; source maps and its README match none.
 */
function bundleModules(dir: string, rules: V4ModuleRule[]): V4ModuleDefinition[] {
  const modules: V4ModuleDefinition[] = [{ type: "ESModule", path: join(dir, "index.js") }];
  for (const file of readdirSync(dir).sort()) {
    if (file === "index.js") continue;
    const rule = rules.find((r) => r.include.some((glob) => matchesGlob(file, glob)));
    if (rule) modules.push({ type: rule.type, path: join(dir, file) });
  }
  return modules;
}

/**
 * Applies the D1 migrations not yet applied, recorded in the table `wrangler d1 migrations apply`
 * keeps (`d1_migrations` unless wrangler.toml names another), so either tool can take over.
 */
async function applyD1Migrations(mf: Miniflare, root: string): Promise<void> {
  const config = unstable_readConfig({ config: join(root, "wrangler.toml") });
  for (const d1 of config.d1_databases) {
    const db = await mf.getD1Database(d1.binding);
    const table = `"${(d1.migrations_table ?? "d1_migrations").replace(/"/g, '""')}"`;
    await db.exec(
      `CREATE TABLE IF NOT EXISTS ${table}(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);`,
    );
    const applied = new Set((await db.prepare(`SELECT name FROM ${table}`).all<{ name: string }>()).results.map((r) => r.name));
    const dir = join(root, d1.migrations_dir ?? "migrations");
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith(".sql") && !applied.has(f))
      .sort()) {
      const statements = unstable_splitSqlQuery(readFileSync(join(dir, file), "utf8")).map((sql) => db.prepare(sql));
      await db.batch([...statements, db.prepare(`INSERT INTO ${table} (name) VALUES (?)`).bind(file)]);
    }
  }
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? "{}") as RuntimeOptions;
  const name = unstable_readConfig({ config: join(opts.root, "wrangler.toml") }).name ?? "dcx";
  const direct = !opts.https && !logsRequests(opts);
  const mf = new Miniflare(convertV4MiniflareOptions(miniflareOptions(opts, name, direct)));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void mf.dispose().finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  const entry = await mf.ready;
  const url = direct ? await mf.unsafeGetDirectURL(name) : entry;
  await applyD1Migrations(mf, opts.root);
  if (direct) process.stdout.write(`cron trigger (the hourly purge, by hand): GET ${entry.origin}/cdn-cgi/local/scheduled\n`);
  process.stdout.write(`${RUNTIME_READY} ${url.origin}\n`);
}

await main();
