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
  /** "file > test: first line of the error", one per failed test. */
  failures: string[];
}
const total: Omit<Counts, "failures"> = { passed: 0, failed: 0, skipped: 0 };
const failedSteps: string[] = [];
/** The failed tests' names and first error lines, repeated at the very end (CI keeps the tail of the log). */
const failedTests: string[] = [];

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
    failedTests.push(...c.failures.map((f) => `${name}: ${f}`));
  }
  if (code !== 0 || (c && c.failed > 0)) failedSteps.push(name);
  console.log(`=== ${name}: ${code === 0 ? "ok" : `FAILED (exit ${code})`}${c ? ` (${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped)` : ""}`);
}

const firstLine = (text: string | undefined) => (text ?? "").trim().split("\n")[0]?.slice(0, 300) ?? "";

/** Counts and failures from a vitest JSON report. */
function vitestCounts(file: string): () => Counts {
  return () => {
    const r = JSON.parse(readFileSync(file, "utf8")) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
      numTodoTests: number;
      testResults: { name: string; message?: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
    };
    const failures: string[] = [];
    for (const suite of r.testResults) {
      const where = suite.name.replace(`${ROOT}/`, "");
      const failed = suite.assertionResults.filter((t) => t.status === "failed");
      for (const t of failed) failures.push(`${where} > ${t.fullName}: ${firstLine(t.failureMessages[0])}`);
      if (failed.length === 0 && suite.message) failures.push(`${where}: ${firstLine(suite.message)}`);
    }
    return { passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + r.numTodoTests, failures };
  };
}

const XML_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const unescapeXml = (text: string) =>
  text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, e: string) =>
    e.startsWith("#x")
      ? String.fromCodePoint(Number.parseInt(e.slice(2), 16))
      : e.startsWith("#")
        ? String.fromCodePoint(Number(e.slice(1)))
        : (XML_ENTITIES[e] ?? whole),
  );

/** Counts and failures from bun test's JUnit report. */
function bunCounts(file: string): () => Counts {
  return () => {
    const xml = readFileSync(file, "utf8");
    const attr = (name: string) => Number(new RegExp(`<testsuites[^>]*\\s${name}="(\\d+)"`).exec(xml)?.[1] ?? 0);
    const tests = attr("tests");
    const failed = attr("failures") + attr("errors");
    const skipped = attr("skipped");
    const failures: string[] = [];
    // A passing test is a self-closed <testcase …/>; a failed one holds a <failure> or an <error>.
    for (const m of xml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
      const body = m[2] ?? "";
      if (!/<(failure|error)\b/.test(body)) continue;
      const a = (name: string) => unescapeXml(new RegExp(`\\s${name}="([^"]*)"`).exec(m[1] ?? "")?.[1] ?? "");
      const message = /<(?:failure|error)\b[^>]*\smessage="([^"]*)"/.exec(body)?.[1] ?? /<(?:failure|error)\b[^>]*>([^<]*)/.exec(body)?.[1];
      failures.push(`${a("file")} > ${a("classname")} > ${a("name")}: ${firstLine(unescapeXml(message ?? ""))}`);
    }
    return { passed: tests - failed - skipped, failed, skipped, failures };
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
if (failedTests.length > 0) console.log(`\nFailed tests:\n${failedTests.map((f) => `  ${f}`).join("\n")}`);
console.log(failedSteps.length ? `\nFailed steps: ${[...new Set(failedSteps)].join(", ")}` : "\nAll steps passed.");
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(failedSteps.length > 0 ? 1 : 0);
