// Minimal jest transform: TypeScript -> CommonJS with esbuild (milliseconds per file).
const { transformSync } = require("esbuild");

// A jest worker that synthesized every environment holds close to a gigabyte; when it ends
// by draining its event loop, Node then frees that heap, which takes longer than the 500 ms jest
// waits ("A worker process has failed to exit gracefully"). 'beforeExit' fires only once nothing
// is pending (no timer, socket, server or child left open), so exiting there hides no leak: it
// only skips the heap teardown.
process.once("beforeExit", () => process.exit());

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: /\.m?js$/.test(filename) ? "js" : "ts",
      format: "cjs",
      target: "node20",
      sourcemap: "external",
      sourcefile: filename,
    });
    return { code, map };
  },
};
