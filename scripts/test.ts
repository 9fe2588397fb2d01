/**
 * `npm test`: every check and every test, in order, with one summary line at the end.
 * 1. types: tsc over the Worker, the UI's browser scripts, the agent, the CLI and the scripts; `wrangler types --check` (committed types are current)
 * 2. lint: Biome (the format check and the linter, biome.jsonc) and the import rules
 *    (dependency-cruiser, .dependency-cruiser.cjs: drivers, UI, contract, protocol, no cycles)
 * 3. bundle: `wrangler deploy --dry-run` (the Worker builds and its config is valid)
 * 4. unit: plain vitest over pure modules (schemas, placement, scheduling decisions, the house rules themselves)
 * 5. worker: vitest inside workerd (the vitest plugin)
 * 6. agent: bun test
 * 7. cli: bun test (parsing, output, config file)
 * 8. e2e: vitest with real processes (wrangler dev, Bun agents, the dcx CLI and its compiled binary, the UI in headless Chromium)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT, WRANGLER, toolEnv } from "./lib/control-plane.ts";
import { startChild } from "./lib/processes.ts";

const BIN = join(ROOT, "node_modules", ".bin");
const scratch = mkdtempSync(join(tmpdir(), "dcx-test-"));
const only = process.argv.slice(2);

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}
const total: Counts = { passed: 0, failed: 0, skipped: 0 };
const failedSteps: string[] = [];

async function step(name: string, command: string, args: string[], counts?: () => Counts): Promise<void> {
  if (only.length > 0 && !only.includes(name)) return;
  console.log(`\n=== ${name}: ${[command.replace(`${BIN}/`, ""), ...args].join(" ")}`);
  const child = startChild(command, args, { cwd: ROOT, env: toolEnv(), onLine: (line) => console.log(line) });
  const code = await child.exited;
  let c: Counts | undefined;
  try {
    c = counts?.();
  } catch {
    c = undefined;
  }
  if (c) {
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
  }
  if (code !== 0 || (c && c.failed > 0)) failedSteps.push(name);
  console.log(`=== ${name}: ${code === 0 ? "ok" : `FAILED (exit ${code})`}${c ? ` (${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped)` : ""}`);
}

/** Counts from a vitest JSON report. */
function vitestCounts(file: string): () => Counts {
  return () => {
    const r = JSON.parse(readFileSync(file, "utf8")) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
    return { passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + r.numTodoTests };
  };
}

/** Counts from bun test's JUnit report. */
function bunCounts(file: string): () => Counts {
  return () => {
    const xml = readFileSync(file, "utf8");
    const attr = (name: string) => Number(new RegExp(`<testsuites[^>]*\\s${name}="(\\d+)"`).exec(xml)?.[1] ?? 0);
    const tests = attr("tests");
    const failed = attr("failures") + attr("errors");
    const skipped = attr("skipped");
    return { passed: tests - failed - skipped, failed, skipped };
  };
}

const vitest = (config: string, report: string) => ["run", "--config", config, "--reporter=default", "--reporter=json", `--outputFile.json=${report}`];

await step("types", join(BIN, "tsc"), ["--noEmit", "-p", "tsconfig.json"]);
await step("types", join(BIN, "tsc"), ["--noEmit", "-p", "control/ui/client/tsconfig.json"]);
await step("types", join(BIN, "tsc"), ["--noEmit", "-p", "agent/tsconfig.json"]);
await step("types", join(BIN, "tsc"), ["--noEmit", "-p", "cli/tsconfig.json"]);
await step("types", join(BIN, "tsc"), ["--noEmit", "-p", "scripts/tsconfig.json"]);
await step("types", WRANGLER, ["types", "--check"]);
await step("lint", join(BIN, "biome"), ["ci", "."]);
await step("lint", join(BIN, "depcruise"), ["agent", "bench", "cli", "control", "protocol", "scripts", "test", "--config", ".dependency-cruiser.cjs"]);
await step("bundle", WRANGLER, ["deploy", "--dry-run", "--outdir", join(scratch, "bundle")]);
await step("unit", join(BIN, "vitest"), vitest("vitest.unit.config.ts", join(scratch, "unit.json")), vitestCounts(join(scratch, "unit.json")));
await step("worker", join(BIN, "vitest"), vitest("vitest.config.ts", join(scratch, "worker.json")), vitestCounts(join(scratch, "worker.json")));
await step("agent", BUN, ["test", "./agent", "--reporter=junit", `--reporter-outfile=${join(scratch, "agent.xml")}`], bunCounts(join(scratch, "agent.xml")));
await step("cli", BUN, ["test", "./cli", "--reporter=junit", `--reporter-outfile=${join(scratch, "cli.xml")}`], bunCounts(join(scratch, "cli.xml")));
await step("e2e", join(BIN, "vitest"), vitest("vitest.e2e.config.ts", join(scratch, "e2e.json")), vitestCounts(join(scratch, "e2e.json")));

rmSync(scratch, { recursive: true, force: true });
console.log(failedSteps.length ? `\nFailed steps: ${[...new Set(failedSteps)].join(", ")}` : "\nAll steps passed.");
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(failedSteps.length > 0 ? 1 : 0);
