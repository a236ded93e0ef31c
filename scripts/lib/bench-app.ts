/**
 * The synth benchmark of `npm run bench`: the exact app command of cdktf.json (what `cdktf synth`,
 * `cdktf diff`, `cdktf deploy` and `make synth` run), as a child process, measured from outside:
 * wall clock from spawn to exit, and the peak resident memory of the process tree (getrusage of
 * the waited-for children, read by a small Python wrapper, since Node.js does not expose it).
 * Best of N runs. The app's own marks (scripts/app.cjs, main.ts) give the breakdown.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../config/paths";

/** What one whole run of the app cost, and where the time went (milliseconds). */
export interface AppRun {
  wallMs: number;
  peakRssMiB: number;
  /** Node.js start-up until scripts/app.cjs runs. */
  startMs: number;
  /** scripts/app.cjs comparing the bundles with their sources. */
  freshnessMs: number;
  /** Loading the precompiled app (module evaluation). */
  moduleLoadMs: number;
  /** Loading and validating the environment files. */
  environmentsMs: number;
  /** Building the construct tree of every stack. */
  constructTreeMs: number;
  /** app.synth(): resolving tokens and writing cdktf.out. */
  synthMs: number;
}

const WRAPPER = `
import json, resource, subprocess, sys, time
started = time.monotonic()
code = subprocess.run(sys.argv[1], shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
wall = time.monotonic() - started
print(json.dumps({"code": code, "wall": wall, "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
`;

/** The app command exactly as cdktf runs it (cdktf.json "app", through a shell, from the repository root). */
export function appCommand(): string {
  return (JSON.parse(readFileSync(join(REPO_ROOT, "cdktf.json"), "utf8")) as { app: string }).app;
}

/** Runs the app command once in a fresh process; `env` is added to this process's environment. */
export function runAppOnce(env: Record<string, string> = {}): AppRun {
  const work = mkdtempSync(join(tmpdir(), "bench-app-"));
  const timings = join(work, "timings.json");
  try {
    const run = spawnSync("python3", ["-c", WRAPPER, appCommand()], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      env: { ...process.env, CDKTF_QUIET: "1", CDKTF_OUTDIR: join(work, "cdktf.out"), CNC_APP_TIMINGS: timings, ...env },
    });
    if (run.status !== 0) throw new Error(`the timing wrapper failed (python3 is needed): ${run.stderr || run.error?.message}`);
    const outer = JSON.parse(run.stdout) as { code: number; wall: number; maxrss_kib: number };
    if (outer.code !== 0) throw new Error(`\`${appCommand()}\` exited ${outer.code}`);
    const m = JSON.parse(readFileSync(timings, "utf8")) as Record<string, number>;
    return {
      wallMs: outer.wall * 1000,
      peakRssMiB: outer.maxrss_kib / 1024,
      startMs: m.start,
      freshnessMs: m.checked - m.start,
      moduleLoadMs: m.loaded - m.checked,
      environmentsMs: m.environments - m.loaded,
      constructTreeMs: m.constructed - m.environments,
      synthMs: m.synthesized - m.constructed,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The run with the lowest wall clock of `n` (the machine's noise only ever adds time). */
export function bestOf(n: number, env: Record<string, string> = {}): AppRun {
  const runs = Array.from({ length: n }, () => runAppOnce(env));
  return runs.reduce((best, r) => (r.wallMs < best.wallMs ? r : best));
}

/**
 * A folder holding one environment `name` derived from environments/prod with `count` generated
 * workload clusters (and its own names everywhere), to measure what each workload cluster costs.
 */
export function generatedEnvironment(name: string, count: number): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), "bench-envs-"));
  mkdirSync(join(root, name));
  const prod = join(REPO_ROOT, "environments", "prod", "environment");
  writeFileSync(
    join(root, name, "environment.ts"),
    `import prod from ${JSON.stringify(prod)};
const base = JSON.parse(JSON.stringify(prod).replace(/prod/g, ${JSON.stringify(name)}));
export default {
  ...base,
  stateBucket: "cloud-${name}-tfstate-111111111111",
  workloads: Array.from({ length: ${count} }, (_, i) => ({ ...base.workloads[0], name: \`w\${String(i).padStart(2, "0")}\`, cidr: \`10.\${100 + i}.0.0/16\`, installations: [] })),
};
`,
  );
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
