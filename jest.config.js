/** Jest runs TypeScript through esbuild (no type-checking here: `npm run typecheck` does that). */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": "<rootDir>/test/support/esbuild-transform.js" },
  setupFilesAfterEnv: ["<rootDir>/test/support/setup.ts"],
  testTimeout: 180000,
  // Two cores: two workers keep the AWS-emulator and synth suites from starving each other.
  maxWorkers: 2,
};
