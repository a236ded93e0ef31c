/**
 * `make render ENVIRONMENT=<env>`: synthesize the environment, render every helm_release with
 * Helm 3 into cdktf.out/rendered/<stack>/<release>.yaml, and run the schema and policy checks
 * over the rendered objects and the `kubernetes_*` resources (exit 1 on any finding).
 */
import { join } from "node:path";
import { EnvironmentError } from "../config/load";
import { MissingBundleError } from "../constructs/bundle";
import { synthesize } from "./lib/synth";
import { HelmUnavailableError } from "./verify/helm";
import { verifyKubernetes } from "./verify/kubernetes";
import { RenderError } from "./verify/render";

async function main(): Promise<number> {
  const outdir = "cdktf.out";
  const stacks = synthesize({ outdir, only: process.env.ENVIRONMENT?.trim() || undefined });
  const report = await verifyKubernetes(stacks, { outdir: join(outdir, "rendered") });
  console.log(`${report.releases.length} releases rendered into ${join(outdir, "rendered")}/<stack>/<release>.yaml`);
  return report.schemaFindings.length + report.policyFindings.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof HelmUnavailableError || err instanceof RenderError || err instanceof EnvironmentError || err instanceof MissingBundleError) {
      console.error(`\nError: ${err.message}\n`);
      process.exit(1);
    }
    console.error(err);
    process.exit(1);
  },
);
