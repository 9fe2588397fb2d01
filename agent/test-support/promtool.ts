import { spawnSync } from "node:child_process";
import { requirement } from "./requirement.ts";

const present = spawnSync("sh", ["-c", "command -v promtool"], { stdio: "ignore" }).status === 0;

/** Prometheus's own linter, from Debian's `prometheus` package (.ci/run installs it). */
export const promtool = requirement(
  "promtool",
  present ? undefined : "promtool is not installed (apt-get install --no-install-recommends prometheus; .ci/run installs it)",
);

/** Runs `promtool check metrics` over an exposition: whether it passed, and what it printed. */
export function promtoolCheck(text: string): { ok: boolean; output: string } {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  return { ok: run.status === 0, output: `${run.stdout ?? ""}${run.stderr ?? ""}` };
}
