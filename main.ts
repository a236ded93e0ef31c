/**
 * The cdktf app: every environment under environments/ (or only $ENVIRONMENT) becomes its stacks.
 * Run by `cdktf synth|diff|deploy` and `make synth` as the precompiled dist/app/main.js, through
 * scripts/app.cjs (cdktf.json), which rebuilds it first when its sources changed. A bad
 * environment file stops synth with a message naming the file, the field and what was expected
 * (exit code 1).
 *
 * The stack listing goes to stdout (cdktf's CLI shows an app's stderr as errors);
 * CDKTF_QUIET=1 silences it.
 */
import { App } from "cdktf";
import { writeFileSync } from "node:fs";
import { HelmAddon } from "./constructs/helm/addon";
import { EnvironmentError, loadEnvironments } from "./config/load";
import { MissingBundleError } from "./constructs/bundle";
import { buildEnvironment } from "./stacks";

/** Milliseconds since the process started, recorded by scripts/app.cjs and here, for `npm run bench`. */
type Marks = Record<string, number>;
const marks: Marks = (globalThis as { __cncAppMarks?: Marks }).__cncAppMarks ?? {};
const mark = (name: string) => (marks[name] = process.uptime() * 1000);

function main(): void {
  mark("loaded");
  const only = process.env.ENVIRONMENT?.trim() || undefined;
  // ENVIRONMENTS_DIR lets tests (and experiments) point the app at another folder of environments.
  const environments = loadEnvironments({ only, root: process.env.ENVIRONMENTS_DIR || undefined });
  mark("environments");
  const app = new App();
  const lines: string[] = [];
  for (const env of environments) {
    const stacks = buildEnvironment(app, env);
    lines.push(`environment ${env.name} (${env.target}, ${env.region}): ${stacks.ordered.map((s) => s.node.id).join(", ")}`);
    for (const stack of stacks.ordered) {
      const releases = HelmAddon.registryOf(stack);
      if (releases.length) {
        lines.push(`  ${stack.node.id} Helm releases: ${releases.map((r) => `${r.releaseName} (${r.app} ${r.version}, ns ${r.namespace})`).join(", ")}`);
      }
    }
  }
  mark("constructed");
  app.synth();
  mark("synthesized");
  if (!process.env.CDKTF_QUIET) process.stdout.write(`${lines.join("\n")}\n`);
  if (process.env.CNC_APP_TIMINGS) {
    writeFileSync(process.env.CNC_APP_TIMINGS, JSON.stringify({ ...marks, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
  }
}

try {
  main();
} catch (err) {
  if (err instanceof EnvironmentError || err instanceof MissingBundleError) {
    console.error(`\nError: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
