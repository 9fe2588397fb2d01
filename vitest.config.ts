import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Tests of the Worker inside workerd: real Durable Objects, real D1 with the migrations applied. */
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.jsonc" },
        miniflare: {
          bindings: { TEST_MIGRATIONS: migrations, AGENT_TIMEOUT_MS: "2000", AGENT_PING_INTERVAL_MS: "500", DNS_UPSTREAM: "off", DCX_TEST_CLOCK: "on", FRAMEWORK_HEARTBEAT_SECONDS: "1" },
        },
      }),
    ],
    test: {
      include: ["test/worker/**/*.test.ts"],
      setupFiles: ["./test/worker/setup.ts"],
    },
  };
});
