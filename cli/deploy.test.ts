import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { USAGE } from "../agent/config.ts";

const DEPLOY = join(import.meta.dir, "..", "deploy");

describe("deploy/: the agent under systemd", () => {
  const unit = readFileSync(join(DEPLOY, "dcx-agent.service"), "utf8");
  const env = readFileSync(join(DEPLOY, "agent.env.example"), "utf8");

  test("the unit runs `dcx agent run` with its environment file, and stops only the agent", () => {
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/dcx agent run$/m);
    expect(unit).toMatch(/^EnvironmentFile=\/etc\/dcx\/agent\.env$/m);
    expect(unit).toMatch(/^KillMode=process$/m);
  });

  test("the example environment sets only variables the agent reads, and every required one", () => {
    const names = [...env.matchAll(/^#?\s*(DCX_[A-Z_]+)=/gm)].map((m) => m[1] ?? "");
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(USAGE).toContain(name);
    for (const required of ["DCX_MASTER", "DCX_CLUSTER", "DCX_TOKEN", "DCX_WORK_DIR"]) expect(names).toContain(required);
  });
});
