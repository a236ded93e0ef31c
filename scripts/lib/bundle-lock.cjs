/**
 * One bundle build at a time per checkout: `make bundle` and scripts/app.cjs (which rebuilds
 * stale bundles before a synth) take this lock, so two synths started together never read a
 * half-written bundle or race on dist/inputs.json. A lock left by a process that died is taken
 * over. Plain CommonJS: scripts/app.cjs loads it before anything is compiled.
 */
"use strict";
const { mkdirSync, readFileSync, rmSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");

const HELD = "CNC_BUNDLE_LOCK_HELD";

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function holderOf(dir) {
  try {
    return Number(readFileSync(join(dir, "pid"), "utf8"));
  } catch {
    return NaN;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/**
 * Takes dist/.bundle-lock (waiting up to `timeoutMs` for another holder) and returns the function
 * that gives it back. A child of the holder (the rebuild app.cjs starts) gets a no-op: it builds
 * under its parent's lock.
 */
function acquireBundleLock(root, timeoutMs = 300000) {
  const dir = join(root, "dist", ".bundle-lock");
  // Started (through tsx, so not always as a direct child) by the process that holds the lock.
  if (process.env[HELD] && holderOf(dir) === Number(process.env[HELD])) return () => undefined;
  mkdirSync(join(root, "dist"), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, "pid"), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      const holder = holderOf(dir); // NaN while it is being written or removed: look again
      if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`another bundle build (process ${holder}) has held ${dir} for ${Math.round(timeoutMs / 1000)} s; wait for it, or remove that folder if no build is running`);
      }
      if (!said) {
        process.stderr.write(`Waiting for another bundle build (process ${holder}) to finish...\n`);
        said = true;
      }
      sleep(200);
    }
  }
  const previous = process.env[HELD];
  process.env[HELD] = String(process.pid);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    if (previous === undefined) delete process.env[HELD];
    else process.env[HELD] = previous;
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", release);
  return release;
}

module.exports = { acquireBundleLock };
