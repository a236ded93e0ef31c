/**
 * Child process of the benchmark: synthesize every stack of every environment in one process,
 * then print one JSON line with the figures (so start-up and imports are part of the measure).
 */
const started = process.hrtime.bigint();
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { synthesize } from "./lib/synth";

const outdir = mkdtempSync(join(tmpdir(), "bench-synth-"));
let peak = process.memoryUsage().rss;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
const stacks = synthesize({ outdir });
clearInterval(timer);
const resources = stacks.reduce((n, s) => n + Object.values(s.json.resource ?? {}).reduce((m, r) => m + Object.keys(r).length, 0), 0);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
rmSync(outdir, { recursive: true, force: true });
peak = Math.max(peak, process.resourceUsage().maxRSS * 1024);
process.stdout.write(`${JSON.stringify({ seconds, peakMiB: peak / 1024 / 1024, stacks: stacks.length, resources, environments: [...new Set(stacks.map((s) => s.env.name))] })}\n`);
