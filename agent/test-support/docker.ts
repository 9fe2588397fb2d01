import { DockerClient } from "../drivers/docker-api.ts";
import { type Requirement, requirement } from "./requirement.ts";

/**
 * The docker driver's tests need a Docker daemon and the local test image that
 * scripts/docker-setup.sh builds (no registry is reachable). Without them the tests fail under
 * CI=true, naming what is missing, and are skipped loudly elsewhere.
 */
export const TEST_IMAGE = "dcx-test/busybox:1";

export async function dockerForTests(): Promise<Requirement> {
  const client = new DockerClient();
  let missing: string | undefined;
  try {
    await client.version();
    if (!(await client.hasImage(TEST_IMAGE))) missing = `the test image ${TEST_IMAGE} is missing: run scripts/docker-setup.sh`;
  } catch (error) {
    missing = `${error instanceof Error ? error.message : String(error)}: install docker.io and run scripts/docker-setup.sh`;
  }
  return requirement("the Docker daemon", missing);
}
