// Minimal jest transform: TypeScript -> CommonJS with esbuild (milliseconds per file).
const { transformSync } = require("esbuild");

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
