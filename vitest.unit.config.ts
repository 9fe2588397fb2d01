import { defineConfig } from "vitest/config";

/** Pure unit tests (no runtime needed): schemas, placement, state machines; and the house rules (test/lint: the linters run on small fixture trees). */
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts", "test/lint/**/*.test.ts"],
    environment: "node",
  },
});
