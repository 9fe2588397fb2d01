/**
 * Builds the web UI's static assets into `dist/public/assets/` (served by Workers Static Assets
 * at `/assets/...`): `ui.js` (every page), `graph.js` (the overview's graph, with uPlot
 * bundled from npm) and `ui.css` (with uPlot's stylesheet), plus the favicon. Nothing is
 * fetched from a CDN. Wrangler runs this before `wrangler dev` and `wrangler deploy`
 * (`build.command` in wrangler.toml); `node scripts/build-ui.ts` runs it by hand.
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const ROOT = new URL("..", import.meta.url).pathname;
const CLIENT = join(ROOT, "control", "ui", "client");
export const ASSETS_DIR = join(ROOT, "dist", "public", "assets");

/** Bundles the scripts and the stylesheet; resolves once every file is written. */
export async function buildUi(): Promise<void> {
  mkdirSync(ASSETS_DIR, { recursive: true });
  await build({
    entryPoints: { ui: join(CLIENT, "main.ts"), graph: join(CLIENT, "graph.ts") },
    bundle: true,
    minify: true,
    format: "iife",
    target: "es2022",
    outdir: ASSETS_DIR,
    logLevel: "warning",
  });
  await build({ entryPoints: { ui: join(CLIENT, "ui.css") }, bundle: true, minify: true, outdir: ASSETS_DIR, logLevel: "warning" });
  copyFileSync(join(CLIENT, "favicon.svg"), join(ASSETS_DIR, "favicon.svg"));
  writeFileSync(join(ASSETS_DIR, "..", "_headers"), ASSET_HEADERS);
}

/**
 * Static assets are served before the Worker runs, so its security headers
 * (control/http/security.ts) reach them through Workers Static Assets' `_headers` file.
 */
const ASSET_HEADERS = `/*
  X-Content-Type-Options: nosniff
  X-Frame-Options: DENY
  Content-Security-Policy: default-src 'none'; style-src 'self'; frame-ancestors 'none'
  Referrer-Policy: no-referrer
  Cross-Origin-Resource-Policy: same-origin
`;

if (import.meta.url === `file://${process.argv[1]}`) await buildUi();
