import { execFileSync, spawnSync } from "node:child_process";
import { type Requirement, requirement } from "./tools.ts";

/**
 * Docker for the end-to-end tests: the daemon and the local test image that
 * scripts/docker-setup.sh builds. Missing: the tests fail under CI=true naming what is missing,
 * and are skipped loudly elsewhere (see `requirement()` in tools.ts).
 */
export const TEST_IMAGE = "dcx-test/busybox:1";

export function dockerForTests(): Requirement {
  const daemon = spawnSync("docker", ["image", "inspect", TEST_IMAGE], { stdio: "pipe", encoding: "utf8" });
  const missing =
    daemon.error !== undefined
      ? "the docker CLI is not installed (apt-get install docker.io; .ci/run does)"
      : daemon.status !== 0
        ? `dockerd or the test image ${TEST_IMAGE} is missing (${daemon.stderr.trim().split("\n")[0]}): run scripts/docker-setup.sh`
        : undefined;
  return requirement("docker", missing);
}

/** `docker …` with its output trimmed. */
export function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8" }).trim();
}

/** Ids of the containers, stopped ones too, carrying every `key=value` label given. */
export function containersLabelled(...labels: string[]): string[] {
  const out = docker("ps", "-aq", "--no-trunc", ...labels.flatMap((l) => ["--filter", `label=${l}`]));
  return out === "" ? [] : out.split("\n");
}

/** Removes every DCX container whose sandbox lies under `dir` (the containers of one test cluster's agents). */
export function removeContainersUnder(dir: string): number {
  if (spawnSync("docker", ["version"], { stdio: "ignore" }).status !== 0) return 0;
  let removed = 0;
  for (const id of containersLabelled("dcx.task_id")) {
    const mounts = docker("inspect", "--format", "{{range .Mounts}}{{.Source}} {{end}}", id);
    if (!mounts.split(" ").some((source) => source.startsWith(dir))) continue;
    spawnSync("docker", ["rm", "-f", id], { stdio: "ignore" });
    removed++;
  }
  return removed;
}
