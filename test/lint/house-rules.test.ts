import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import semver from "semver";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = new URL("../..", import.meta.url).pathname;
const BIN = join(ROOT, "node_modules", ".bin");
const scratch = mkdtempSync(join(tmpdir(), "dcx-house-rules-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A throwaway project holding the repository's own lint configuration and the given files. */
function project(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  cpSync(join(ROOT, ".dependency-cruiser.cjs"), join(dir, ".dependency-cruiser.cjs"));
  cpSync(join(ROOT, "biome.jsonc"), join(dir, "biome.jsonc"));
  // Biome resolves its config's $schema and no node_modules against the project: a link keeps both true.
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** Runs a linter binary in `cwd` on Node 22 (the devDependency), as `npm run lint` does. */
function run(cwd: string, bin: string, args: string[]): { code: number | null; output: string } {
  const env = { ...process.env, PATH: `${BIN}:${process.env.PATH ?? ""}`, NO_COLOR: "1" };
  const r = spawnSync(join(BIN, bin), args, { cwd, env, encoding: "utf8" });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

const cruise = (dir: string) => run(dir, "depcruise", ["agent", "control", "protocol", "--config", ".dependency-cruiser.cjs", "--output-type", "err"]);

/** The smallest tree that keeps every import rule; each case below adds one file that breaks one. */
const CLEAN = {
  "protocol/messages.ts": "export type Launch = { taskId: string };\n",
  "agent/drivers/task-spec.ts": "export interface TaskSpec { taskId: string }\n",
  "agent/drivers/exec.ts": 'import type { TaskSpec } from "./task-spec.ts";\nexport const start = (t: TaskSpec) => t.taskId;\n',
  "agent/task-host.ts":
    'import type { Launch } from "../protocol/messages.ts";\nimport { start } from "./drivers/exec.ts";\nexport const launch = (l: Launch) => start(l);\n',
  "control/contract/accounts.ts": "export const NewCluster = { name: 'string' };\n",
  "control/operations/agents.ts": "export const removeAgent = (id: string) => id;\n",
  "control/api/agents.ts": 'import { removeAgent } from "../operations/agents.ts";\nexport const routes = [removeAgent];\n',
  "control/ui/pages/nodes.tsx":
    'import { NewCluster } from "../../contract/accounts.ts";\nimport { removeAgent } from "../../operations/agents.ts";\nexport const page = [NewCluster, removeAgent];\n',
  // The one cycle allowed: the Cluster object and its audited commands, typed by it (a type-only import).
  "control/cluster/cluster.ts": 'import { audited } from "./acting.ts";\nexport class Cluster { names = audited; }\n',
  "control/cluster/acting.ts": 'import type { Cluster } from "./cluster.ts";\nexport const audited: (keyof Cluster)[] = ["names"];\n',
};

describe("import rules (.dependency-cruiser.cjs)", () => {
  it("pass on a tree that keeps them", () => {
    const r = cruise(project("clean", CLEAN));
    expect(r.output).toContain("no dependency violations");
    expect(r.code).toBe(0);
  });

  const cases: [string, string, Record<string, string>][] = [
    [
      "drivers-without-wire-protocol",
      "a driver importing a protocol type",
      { "agent/drivers/docker.ts": 'import type { Launch } from "../../protocol/messages.ts";\nexport type L = Launch;\n' },
    ],
    [
      "ui-without-api-modules",
      "a UI page importing a route module",
      { "control/ui/pages/agents.tsx": 'import { routes } from "../../api/agents.ts";\nexport const r = routes;\n' },
    ],
    [
      "no-cycles",
      "two modules importing each other at run time",
      {
        "control/a.ts": 'import { b } from "./b.ts";\nexport const a = () => b;\n',
        "control/b.ts": 'import { a } from "./a.ts";\nexport const b = () => a;\n',
      },
    ],
    [
      "no-cycles",
      "a cycle closed only by a type-only import, anywhere else",
      {
        "control/c.ts": 'import { d } from "./d.ts";\nexport const c = () => d;\n',
        "control/d.ts": 'import type { c } from "./c.ts";\nexport const d = (f: typeof c) => f;\n',
      },
    ],
    [
      "protocol-is-neutral",
      "the protocol importing agent code",
      { "protocol/frames.ts": 'import { launch } from "../agent/task-host.ts";\nexport const f = launch;\n' },
    ],
    [
      "capabilities-below-routes",
      "an operation importing a route module",
      { "control/operations/nodes.ts": 'import { routes } from "../api/agents.ts";\nexport const r = routes;\n' },
    ],
    [
      "contract-is-shared-not-dependent",
      "the contract importing a route module",
      { "control/contract/agents.ts": 'import { routes } from "../api/agents.ts";\nexport const r = routes;\n' },
    ],
    [
      "agent-apart-from-control-plane",
      "the agent importing control-plane code",
      { "agent/errors.ts": 'import { removeAgent } from "../control/operations/agents.ts";\nexport const r = removeAgent;\n' },
    ],
    [
      "control-plane-apart-from-agent-and-cli",
      "the Worker importing agent code",
      { "control/spawn.ts": 'import { launch } from "../agent/task-host.ts";\nexport const l = launch;\n' },
    ],
    ["resolvable", "an import of a module that does not exist", { "control/typo.ts": 'import { x } from "./no-such-module.ts";\nexport const y = x;\n' }],
  ];
  for (const [index, [rule, what, files]] of cases.entries()) {
    it(`${rule}: fails on ${what}`, () => {
      const r = cruise(project(`${index}-${rule}`, { ...CLEAN, ...files }));
      expect(r.code).not.toBe(0);
      expect(r.output).toContain(rule);
    });
  }
});

describe("formatter and linter (biome.jsonc)", () => {
  const biome = (dir: string) => run(dir, "biome", ["ci", "--vcs-enabled=false", "."]);

  it("pass on a file in the house style", () => {
    const r = biome(project("style-ok", { "control/ok.ts": "export function twice(n: number): number {\n  return n * 2;\n}\n" }));
    expect(r.code, r.output).toBe(0);
  });

  it("fail on a file the formatter would change (single quotes, no semicolon)", () => {
    const r = biome(project("style-format", { "control/bad.ts": "export const name = 'dcx'\n" }));
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/format/i);
  });

  it("fail on a lint finding (a `let` that is implicitly any)", () => {
    const r = biome(project("style-lint", { "control/bad.ts": "export function f(): number {\n  let n;\n  n = 1;\n  return n;\n}\n" }));
    expect(r.code).not.toBe(0);
    expect(r.output).toContain("noImplicitAnyLet");
  });
});

describe("engines", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string }; devDependencies: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean }>;
  };

  it("every locked package runs on the lowest Node that package.json promises, and on the Node devDependency the scripts use", () => {
    const lowest = semver.minVersion(pkg.engines.node)?.version ?? "";
    const bundled = pkg.devDependencies.node ?? "";
    const refused = Object.entries(lock.packages)
      .filter(([path, p]) => path !== "" && !p.optional && !Array.isArray(p.engines) && p.engines?.node !== undefined)
      .filter(([, p]) => {
        const range = (p.engines as { node: string }).node;
        return !semver.satisfies(lowest, range) || !semver.satisfies(bundled, range);
      })
      .map(([path, p]) => `${path} (node ${(p.engines as { node: string }).node})`);
    expect(refused).toEqual([]);
  });
});
