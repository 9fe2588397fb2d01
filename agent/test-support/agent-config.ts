import type { AgentConfig } from "../config.ts";

/**
 * An agent's config as the tests' fake masters need it: cluster `c1`, a join token, loopback,
 * small resources and a fast reconnect; `overrides` sets what a test is about.
 */
export function testAgentConfig(master: string, workDir: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    master,
    cluster: "c1",
    token: "join-1",
    workDir,
    resources: { cpus: 1, mem: 256 },
    attributes: {},
    hostname: "h",
    advertiseIp: "127.0.0.1",
    backoffMaxMs: 20,
    killTasksOnExit: false,
    ...overrides,
  };
}
