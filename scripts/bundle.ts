/**
 * `make bundle` / `npm run build`: one minified esbuild bundle per service, into dist/.
 * Stacks only read these files (never bundle at synth). Prints each bundle's size.
 */
import { build } from "esbuild";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { REPO_ROOT } from "./lib/terraform";
import { zipFiles } from "./lib/zip";

export const BUNDLES = [
  {
    name: "dns-registration",
    entry: "lambdas/dns-registration/index.ts",
    outfile: "dist/lambdas/dns-registration/index.js",
    // The Lambda Node.js runtime ships AWS SDK v3; the function code stays small.
    external: ["@aws-sdk/*"],
    // The deployment package, zipped here (deterministically) so synthesis only copies it.
    zip: "dist/lambdas/dns-registration.zip",
  },
  {
    name: "alerts-forwarder",
    entry: "lambdas/alerts-forwarder/index.ts",
    outfile: "dist/lambdas/alerts-forwarder/index.js",
    external: ["@aws-sdk/*"],
    zip: "dist/lambdas/alerts-forwarder.zip",
  },
  {
    name: "store-discovery",
    entry: "cronjobs/store-discovery/main.ts",
    outfile: "dist/cronjobs/store-discovery/main.js",
    // Runs on a stock Node.js image: everything it needs is inside the bundle. A gzipped copy
    // fits a ConfigMap (1 MiB limit), which is how it reaches the pod with no image build.
    external: [],
    gzip: true,
  },
] as const;

export function bundlePath(name: (typeof BUNDLES)[number]["name"]): string {
  return join(REPO_ROOT, BUNDLES.find((b) => b.name === name)!.outfile);
}

async function main(): Promise<void> {
  for (const b of BUNDLES) {
    const started = Date.now();
    await build({
      entryPoints: [join(REPO_ROOT, b.entry)],
      outfile: join(REPO_ROOT, b.outfile),
      bundle: true,
      minify: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      external: [...b.external],
      legalComments: "none",
      // Prefer ES modules so unused parts of @kubernetes/client-node are tree-shaken.
      mainFields: ["module", "main"],
      alias: { "whatwg-url": join(REPO_ROOT, "lib/shims/whatwg-url.js") },
      logLevel: "warning",
    });
    const kb = statSync(join(REPO_ROOT, b.outfile)).size / 1024;
    let extra = "";
    if ("gzip" in b && b.gzip) {
      const gz = gzipSync(readFileSync(join(REPO_ROOT, b.outfile)), { level: 9 });
      writeFileSync(join(REPO_ROOT, `${b.outfile}.gz`), gz);
      extra = ` (gzipped ${(gz.length / 1024).toFixed(0)} KiB)`;
    }
    if ("zip" in b && b.zip) {
      const zip = zipFiles({ "index.js": readFileSync(join(REPO_ROOT, b.outfile)) });
      writeFileSync(join(REPO_ROOT, b.zip), zip);
      extra = ` (zipped ${(zip.length / 1024).toFixed(0)} KiB: ${b.zip})`;
    }
    console.log(`bundled ${b.name}: ${b.outfile} ${kb.toFixed(0)} KiB${extra} in ${Date.now() - started} ms`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`Bundling failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
