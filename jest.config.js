/** Jest runs TypeScript through esbuild (no type-checking here: `npm run typecheck` does that). */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.(ts|js|mjs)$": "<rootDir>/test/support/esbuild-transform.js" },
  // @kubernetes/client-node 1.x (and a few of its dependencies) ship only ES modules; jest on
  // Node 20 cannot require them, so they go through the same esbuild transform.
  transformIgnorePatterns: ["/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)"],
  setupFilesAfterEnv: ["<rootDir>/test/support/setup.ts"],
  testTimeout: 180000,
  // Two cores: two workers keep the AWS-emulator and synth suites from starving each other.
  maxWorkers: 2,
};
