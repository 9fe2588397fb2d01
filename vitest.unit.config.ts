import { defineConfig } from "vitest/config";

/** Pure unit tests (no runtime needed): schemas, placement, state machines. */
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    environment: "node",
  },
});
