import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds dist/ first when a source is newer: tests that run the CLI never see a stale build.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most files wait on child processes and servers, not on the CPU.
    maxWorkers: 3,
    reporters: ["default"],
  },
});
