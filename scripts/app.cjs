#!/usr/bin/env node
/**
 * The cdktf app (cdktf.json "app"; also `make synth`): runs the precompiled app in dist/app/
 * with plain Node.js, no TypeScript loader.
 *
 * Before it runs anything it compares dist/inputs.json (written by `make bundle`) with the
 * sources: every repository file each bundle was built from, the build's own files, and what is
 * installed under node_modules. When any
 * differs, or a bundle is missing, it runs `make bundle`'s script first and says so, so neither
 * the app nor a Lambda or CronJob bundle it deploys is ever older than its sources. Checking
 * costs a few milliseconds (about 80 small files hashed).
 *
 * Plain CommonJS on purpose: it is what starts before anything is compiled.
 */
"use strict";
const startedMs = process.uptime() * 1000;
const { spawnSync } = require("node:child_process");
const { createHash } = require("node:crypto");
const { existsSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } = require("node:fs");
const Module = require("node:module");
const { dirname, join } = require("node:path");
const { Script } = require("node:vm");
const { acquireBundleLock } = require("./lib/bundle-lock.cjs");

const ROOT = join(__dirname, "..");
const MANIFEST = join(ROOT, "dist", "inputs.json");

function hash(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Why the bundles cannot be used as they are (empty when they are up to date). */
function staleReasons() {
  if (!existsSync(MANIFEST)) return ["dist/inputs.json is missing"];
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, "utf8"));
  } catch {
    return ["dist/inputs.json is unreadable"];
  }
  const reasons = [];
  // npm's record of what is installed (what `make bundle` keyed the bundles by), else the lock file.
  const installed = existsSync(join(ROOT, "node_modules", ".package-lock.json")) ? join(ROOT, "node_modules", ".package-lock.json") : join(ROOT, "package-lock.json");
  if (!existsSync(installed) || manifest.lock !== hash(installed)) reasons.push("the installed packages changed");
  for (const [file, digest] of Object.entries(manifest.tooling || { "scripts/bundle.ts": "unknown" })) {
    const path = join(ROOT, file);
    if (!existsSync(path) || hash(path) !== digest) reasons.push(`${file} changed (every bundle)`);
  }
  for (const [name, bundle] of Object.entries(manifest.bundles || {})) {
    if (!existsSync(join(ROOT, bundle.outfile))) {
      reasons.push(`${bundle.outfile} is missing`);
      continue;
    }
    for (const [file, digest] of Object.entries(bundle.inputs)) {
      const path = join(ROOT, file);
      if (!existsSync(path) || hash(path) !== digest) reasons.push(`${file} changed (${name})`);
    }
  }
  if (!manifest.bundles || !manifest.bundles.app) reasons.push("the app bundle is not recorded");
  return reasons;
}

let reasons = staleReasons();
if (reasons.length) {
  // One rebuild at a time: wait for another synth's, then look again (it may have done ours).
  const release = acquireBundleLock(ROOT);
  reasons = staleReasons();
  if (reasons.length) rebuild(reasons);
  release();
}

function rebuild(reasons) {
  const shown = reasons.slice(0, 3).join("; ") + (reasons.length > 3 ? `; and ${reasons.length - 3} more` : "");
  // stderr: under cdktf's CLI, stdout is the app's output, and this is a note about the build.
  process.stderr.write(`Bundles are older than their sources (${shown}): rebuilding them (make bundle) first.\n`);
  const tsx = join(ROOT, "node_modules", ".bin", "tsx");
  const run = spawnSync(tsx, [join(ROOT, "scripts", "bundle.ts")], { cwd: ROOT, stdio: ["ignore", 2, 2] });
  if (run.status !== 0 || staleReasons().length) {
    process.stderr.write(
      `\nError: could not rebuild the bundles (${run.error ? run.error.message : `make bundle exited ${run.status}`}). ` +
        "Run `make bundle` and fix what it reports (after `npm ci` if node_modules is missing), then synthesize again; " +
        "the app never synthesizes from bundles older than their sources.\n",
    );
    process.exit(1);
  }
}

/**
 * Runs the app bundle as a CommonJS module compiled through V8's code cache: the first run after
 * a build keeps V8's compiled code beside the bundle, later runs skip parsing 7 MB of JavaScript.
 * The cache is named after the hash of the bytes about to run (V8 itself checks a cache only
 * against the source's length), so a rebuilt or edited bundle never meets an old cache. V8
 * refuses a cache made by another Node.js version or other V8 flags (then it compiles as usual
 * and the cache is rewritten): a mismatch costs time once and never changes behaviour.
 */
function runBundle(file) {
  const bytes = readFileSync(file);
  const cacheFile = `${file}.${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.v8cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(bytes.toString("utf8")), { filename: file, cachedData });
  if (!cachedData || script.cachedDataRejected) {
    // After the app ran, so the functions it compiled lazily are in the cache too.
    process.once("exit", () => {
      try {
        const tmp = `${cacheFile}.${process.pid}`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
        for (const old of readdirSync(dirname(file))) {
          if (old.endsWith(".v8cache") && join(dirname(file), old) !== cacheFile) unlinkSync(join(dirname(file), old));
        }
      } catch {
        // A read-only checkout only loses the speed-up.
      }
    });
  }
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(dirname(file));
  script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, file, dirname(file));
}

// Timings for `npm run bench` (start-up, then main.ts adds module load, construct tree, synth).
globalThis.__cncAppMarks = { start: startedMs, checked: process.uptime() * 1000 };
runBundle(join(ROOT, "dist", "app", "main.js"));
