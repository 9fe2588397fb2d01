import { defineConfig } from "vitest/config";

/** End-to-end tests: real processes (wrangler dev on workerd, Bun agents), run one file at a time. */
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
