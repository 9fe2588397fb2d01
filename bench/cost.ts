/**
 * `npm run bench -- cost`: rebuilds bench/results/cost.json from the last scale run's counts
 * (bench/results/scale.json) and the DNS benchmark's (bench/results/dns.json), without running
 * anything: the prices or the model's assumptions changed, the measurements did not.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../scripts/lib/control-plane.ts";
import { writeCostModel } from "./scale/cost.ts";

export async function run(): Promise<number> {
  const results = join(ROOT, "bench", "results");
  const scale = JSON.parse(readFileSync(join(results, "scale.json"), "utf8")) as Parameters<typeof writeCostModel>[0];
  const out = writeCostModel(scale, join(results, "cost.json"));
  process.stdout.write(`wrote ${out}\n`);
  return 0;
}
