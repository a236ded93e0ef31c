/**
 * `make bundle` / `npm run build` (and `npm ci`'s prepare): one minified esbuild bundle per
 * service, and the precompiled cdktf app, into dist/. Stacks only read these files (never bundle
 * at synth). Prints each bundle's size.
 *
 * It ends by writing dist/inputs.json: the content hash of every repository file each bundle was
 * built from, and of package-lock.json (which stands for everything under node_modules/).
 * The app launcher (scripts/app.cjs, cdktf.json's "app") compares those hashes with the sources
 * before every synth and rebuilds when any differs, so cdktf never synthesizes or ships a bundle
 * older than its sources.
 */
import { build, type Metafile, type OutputFile, type Plugin } from "esbuild";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "./lib/terraform";
import { zipFiles } from "./lib/zip";

// Plain CommonJS, shared with scripts/app.cjs (which runs before anything is compiled).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { acquireBundleLock } = require("./lib/bundle-lock.cjs") as { acquireBundleLock(root: string, timeoutMs?: number): () => void };

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
  {
    name: "opensearch-snapshots",
    entry: "cronjobs/opensearch-snapshots/main.ts",
    outfile: "dist/cronjobs/opensearch-snapshots/main.js",
    // Like store discovery: self-contained, gzipped into a ConfigMap, run by the stock Node.js image.
    external: [],
    gzip: true,
  },
] as const;

/**
 * The cdktf app itself: main.ts, every repository module it imports and the packages they use
 * (cdktf, the provider classes, zod, js-yaml), compiled into one file once, so a synth starts in
 * plain Node.js: no TypeScript loader, no resolution of some 650 module files, and V8's code cache
 * (scripts/app.cjs) instead of parsing. Environment files are not in it: config/load.ts compiles
 * them when it reads them. esbuild stays external (its binary is found next to its package).
 */
export const APP_BUNDLE = { name: "app", entry: "main.ts", outfile: "dist/app/main.js" } as const;

/**
 * cdktf records a full stack trace (no depth limit) for every token and lazy value it creates,
 * only to print it if that token later fails to resolve. That was a third of the construct
 * tree's time. The app bundle swaps that one helper for one that records nothing unless
 * CDKTF_CREATION_STACKS=1 (set it when chasing an unresolved-token error). The synthesized JSON
 * is the same either way (test/foundation/app-bundle.test.ts compares it byte for byte).
 */
const creationStacksOnDemand: Plugin = {
  name: "cdktf-creation-stacks-on-demand",
  setup(b) {
    b.onResolve({ filter: /\/stack-trace$/ }, (args) =>
      /node_modules[\\/]cdktf[\\/]lib[\\/]/.test(args.importer) ? { path: "cdktf-stack-trace", namespace: "cnc-shim" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "cnc-shim" }, () => ({
      loader: "js",
      contents: `
        function captureStackTrace(below) {
          if (!process.env.CDKTF_CREATION_STACKS) return [];
          below = below || captureStackTrace;
          const object = { stack: "" };
          const previousLimit = Error.stackTraceLimit;
          try { Error.stackTraceLimit = Number.MAX_SAFE_INTEGER; Error.captureStackTrace(object, below); }
          finally { Error.stackTraceLimit = previousLimit; }
          return object.stack ? object.stack.split("\\n").slice(1).map((s) => s.replace(/^\\s*at\\s+/, "")) : [];
        }
        exports.captureStackTrace = captureStackTrace;`,
    }));
  },
};

/** Where the hashes of every bundle's inputs are kept (read by scripts/app.cjs). */
export const INPUTS_MANIFEST = "dist/inputs.json";

/** The same hash scripts/app.cjs computes: sha256 of the file's bytes, hex. */
export function fileHash(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Repository files (not node_modules) an esbuild metafile says went into a bundle, hashed. */
function repoInputs(metafile: Metafile): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const path of Object.keys(metafile.inputs).sort()) {
    if (path.includes("node_modules/") || path.includes(":")) continue; // packages; plugin-made modules
    inputs[path] = fileHash(join(REPO_ROOT, path));
  }
  return inputs;
}

export function bundlePath(name: (typeof BUNDLES)[number]["name"]): string {
  return join(REPO_ROOT, BUNDLES.find((b) => b.name === name)!.outfile);
}

async function main(): Promise<void> {
  // One build at a time in this checkout (scripts/lib/bundle-lock.cjs); released at exit.
  acquireBundleLock(REPO_ROOT);
  const buildStarted = Date.now();
  const manifest: Manifest = {
    lock: fileHash(installedLockfile()),
    tooling: Object.fromEntries(TOOLING.map((f) => [f, fileHash(join(REPO_ROOT, f))])),
    bundles: {},
  };
  for (const b of BUNDLES) {
    const started = Date.now();
    const { metafile, outputFiles } = await build({
      absWorkingDir: REPO_ROOT,
      metafile: true,
      write: false,
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
    writeAtomic(join(REPO_ROOT, b.outfile), outputOf(outputFiles, b.outfile));
    manifest.bundles[b.name] = { outfile: b.outfile, inputs: repoInputs(metafile) };
    const kb = statSync(join(REPO_ROOT, b.outfile)).size / 1024;
    let extra = "";
    if ("gzip" in b && b.gzip) {
      const gz = gzipSync(readFileSync(join(REPO_ROOT, b.outfile)), { level: 9 });
      writeAtomic(join(REPO_ROOT, `${b.outfile}.gz`), gz);
      extra = ` (gzipped ${(gz.length / 1024).toFixed(0)} KiB)`;
    }
    if ("zip" in b && b.zip) {
      const zip = zipFiles({ "index.js": readFileSync(join(REPO_ROOT, b.outfile)) });
      writeAtomic(join(REPO_ROOT, b.zip), zip);
      extra = ` (zipped ${(zip.length / 1024).toFixed(0)} KiB: ${b.zip})`;
    }
    console.log(`bundled ${b.name}: ${b.outfile} ${kb.toFixed(0)} KiB${extra} in ${Date.now() - started} ms`);
  }
  const started = Date.now();
  const app = await build({
    absWorkingDir: REPO_ROOT,
    metafile: true,
    write: false,
    entryPoints: [join(REPO_ROOT, APP_BUNDLE.entry)],
    outfile: join(REPO_ROOT, APP_BUNDLE.outfile),
    bundle: true,
    external: ["esbuild"],
    platform: "node",
    target: "node20",
    format: "cjs",
    // Whitespace and syntax only: names stay readable in stack traces, and parsing 7 MB instead
    // of 10 MB saves a tenth of a second on every cold start.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    plugins: [creationStacksOnDemand],
    logLevel: "warning",
  });
  if (!app.metafile.inputs["cnc-shim:cdktf-stack-trace"]) {
    throw new Error("cdktf's tokens no longer import ./stack-trace: check the creation-stack plugin in scripts/bundle.ts against the installed cdktf");
  }
  writeAtomic(join(REPO_ROOT, APP_BUNDLE.outfile), outputOf(app.outputFiles, APP_BUNDLE.outfile));
  manifest.bundles[APP_BUNDLE.name] = { outfile: APP_BUNDLE.outfile, inputs: repoInputs(app.metafile) };
  const inputs = Object.keys(manifest.bundles[APP_BUNDLE.name].inputs).length;
  const modules = Object.keys(app.metafile.inputs).length;
  console.log(`bundled the cdktf app: ${APP_BUNDLE.outfile} ${(statSync(join(REPO_ROOT, APP_BUNDLE.outfile)).size / 1024).toFixed(0)} KiB from ${inputs} repository files (${modules} modules) in ${Date.now() - started} ms`);
  // A source saved while the build ran may be newer than what the bundle holds: its hash is
  // recorded as unknown, so the next synth builds again instead of trusting this bundle.
  for (const bundle of Object.values(manifest.bundles)) {
    for (const path of Object.keys(bundle.inputs)) {
      if (statSync(join(REPO_ROOT, path)).mtimeMs >= buildStarted) {
        bundle.inputs[path] = "changed-during-the-build";
        console.log(`note: ${path} changed while bundling; the next synth bundles again`);
      }
    }
  }
  // Written last, and atomically: a bundle run that failed half-way leaves the old manifest,
  // whose hashes no longer match, so the next synth rebuilds.
  writeAtomic(join(REPO_ROOT, INPUTS_MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
}

interface Manifest {
  /** What is installed under node_modules (npm's own record of it), standing for every package. */
  lock: string;
  /** Files that change how bundles are built (this script, tsconfig.json). */
  tooling: Record<string, string>;
  bundles: Record<string, { outfile: string; inputs: Record<string, string> }>;
}

/** Files whose change changes every bundle. scripts/app.cjs checks them like inputs. */
const TOOLING = ["scripts/bundle.ts", "tsconfig.json", "package.json"];

/** npm's record of what is installed (written by npm ci / install), else the lock file. */
function installedLockfile(): string {
  const installed = join(REPO_ROOT, "node_modules", ".package-lock.json");
  return existsSync(installed) ? installed : join(REPO_ROOT, "package-lock.json");
}

function outputOf(files: OutputFile[] | undefined, outfile: string): Uint8Array {
  const file = files?.find((f) => f.path === join(REPO_ROOT, outfile));
  if (!file) throw new Error(`esbuild produced no ${outfile}`);
  return file.contents;
}

/** Writes through a temporary file in the same folder and renames: readers see old or new, never half. */
function writeAtomic(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`Bundling failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
