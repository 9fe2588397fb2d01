/**
 * `npm run control`: the control plane alone, on workerd under `wrangler dev`, with its local D1
 * migrations applied. `PORT` sets the port (default 8787); state is kept in .wrangler/state.
 * It stays on wrangler dev (not Miniflare's API, as `npm start`) for the loop of working on the
 * control plane: wrangler rebuilds and reloads the Worker on every change under control/.
 */
import { join } from "node:path";
import { ROOT, startControlPlane } from "./lib/control-plane.ts";

const port = Number(process.env.PORT ?? 8787);
const cp = await startControlPlane({
  port,
  persistDir: join(ROOT, ".wrangler", "state"),
  runtime: "wrangler",
  logLevel: "info",
  onLine: (line) => process.stdout.write(`${line}\n`),
});
console.log(`DCX control plane on ${cp.url} (Ctrl-C stops it)`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void cp.stop().then(() => process.exit(0)));
}
await cp.child.exited;
