import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Tests of the Worker inside workerd: real Durable Objects, real D1 with the migrations applied. */
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // The production limits, over 10-second windows instead of 60, so a test sees one recover.
          ratelimits: {
            SIGNUP_LIMITER: { namespace_id: "1001", simple: { limit: 5, period: 10 } },
            LOGIN_LIMITER: { namespace_id: "1002", simple: { limit: 20, period: 10 } },
            PUBLIC_INGRESS_LIMITER: { namespace_id: "1003", simple: { limit: 8, period: 10 } },
          },
          bindings: {
            TEST_MIGRATIONS: migrations,
            AGENT_TIMEOUT_MS: "2000",
            AGENT_PING_INTERVAL_MS: "500",
            // Two agents per gateway, read fresh at every connect: every test with a few agents spreads them over gateways.
            AGENTS_PER_GATEWAY: "2",
            GATEWAY_COUNT_TTL_MS: "0",
            DNS_UPSTREAM: "off",
            DCX_TEST_CLOCK: "on",
            QUOTA_APPS: "25",
            QUOTA_INSTANCES: "400",
            QUOTA_CLUSTERS: "4",
            // Package repositories: small bounds so the timeout and size tests are quick; refresh on every use.
            PACKAGE_REPO_TIMEOUT_MS: "300",
            PACKAGE_REPO_MAX_BYTES: "65536",
            PACKAGE_REPO_REFRESH_MS: "0",
            FRAMEWORK_HEARTBEAT_SECONDS: "1",
            // The service proxy: a task that says nothing for a second gets its client a 504.
            SERVICE_PROXY_TIMEOUT_MS: "1000",
          },
        },
      }),
    ],
    test: {
      include: ["test/worker/**/*.test.ts"],
      setupFiles: ["./test/worker/setup.ts"],
      // A test's steps each wait seconds at most; the whole may take longer on a loaded 2-core CI machine.
      testTimeout: 15_000,
    },
  };
});
