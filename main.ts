/**
 * The cdktf app: every environment under environments/ (or only $ENVIRONMENT) becomes its stacks.
 * Run by `cdktf synth|diff|deploy` (see cdktf.json) and by `make synth`. A bad environment file
 * stops synth with a message naming the file, the field and what was expected (exit code 1).
 */
import { App } from "cdktf";
import { HelmAddon } from "./constructs/helm/addon";
import { EnvironmentError, loadEnvironments } from "./config/load";
import { MissingBundleError } from "./constructs/bundle";
import { buildEnvironment } from "./stacks";

function main(): void {
  const only = process.env.ENVIRONMENT?.trim() || undefined;
  // ENVIRONMENTS_DIR lets tests (and experiments) point the app at another folder of environments.
  const environments = loadEnvironments({ only, root: process.env.ENVIRONMENTS_DIR || undefined });
  const app = new App();
  for (const env of environments) {
    const stacks = buildEnvironment(app, env);
    if (!process.env.CDKTF_QUIET) {
      console.error(`environment ${env.name} (${env.target}, ${env.region}): ${stacks.ordered.map((s) => s.node.id).join(", ")}`);
      for (const stack of stacks.ordered) {
        const releases = HelmAddon.registryOf(stack);
        if (releases.length) {
          console.error(`  ${stack.node.id} Helm releases: ${releases.map((r) => `${r.releaseName} (${r.app} ${r.version}, ns ${r.namespace})`).join(", ")}`);
        }
      }
    }
  }
  app.synth();
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
