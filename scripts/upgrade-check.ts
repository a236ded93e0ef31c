/**
 * `make upgrade-check ENVIRONMENT=<env> TO=<minor> [WORKLOAD=<name>]`: offline, can the
 * environment's clusters move to Kubernetes TO (scripts/verify/upgrade.ts lists the rules)?
 * Prints every finding by rule and exits 1 on any; `npm test` runs it for prod at its next minor.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvironmentError, loadEnvironment } from "../config/load";
import { synthesizeEnvironments } from "./lib/synth";
import { ToolError } from "./lib/terraform";
import { HelmUnavailableError } from "./verify/helm";
import { RenderError } from "./verify/render";
import { nextMinor } from "./verify/schema";
import { chartFindings, formatUpgradeFindings, releaseFindings, removedApiFindings, skewFindings, upgradedEnvironment, type UpgradeFinding } from "./verify/upgrade";

async function main(): Promise<void> {
  const envName = process.env.ENVIRONMENT?.trim() || "local";
  const workload = process.env.WORKLOAD?.trim() || undefined;
  const env = loadEnvironment(envName);
  // TO=next: the minor after the cluster's own (what npm test checks for prod).
  const current = workload ? (env.workloads.find((w) => w.name === workload)?.kubernetesVersion ?? env.cluster.kubernetesVersion) : env.cluster.kubernetesVersion;
  const to = process.env.TO?.trim() === "next" ? nextMinor(current) : (process.env.TO?.trim() ?? "");
  if (!/^1\.\d+$/.test(to)) throw new ToolError(`TO must be the Kubernetes minor to upgrade to, such as TO=1.35, or TO=next (got ${JSON.stringify(to)}): make upgrade-check ENVIRONMENT=${envName} TO=<minor>.`);
  const after = upgradedEnvironment(env, to, workload);
  const what = workload ? `workload ${workload} of ${env.name}` : `${env.name} (the C&C and every workload that follows its version)`;
  console.log(`upgrade-check: ${what} to Kubernetes ${to}`);
  const findings: UpgradeFinding[] = [...skewFindings(env, after, to, workload)];
  const outdir = mkdtempSync(join(tmpdir(), "upgrade-check-"));
  try {
    let stacks: ReturnType<typeof synthesizeEnvironments> = [];
    try {
      stacks = synthesizeEnvironments([after], outdir);
    } catch (err) {
      // An unsupported minor stops synthesis (constructs refuse it); the rule below names it.
      findings.push(...releaseFindings(after, [], to).filter((f) => f.where === "config/versions.ts"));
      if (!findings.length) throw err;
    }
    if (stacks.length) {
      findings.push(...releaseFindings(after, stacks, to));
      const charts = chartFindings(stacks, to);
      findings.push(...charts);
      if (!charts.length) {
        const removed = await removedApiFindings(stacks);
        findings.push(...removed.findings);
        console.log(`  rendered ${removed.releases} release(s) with --kube-version ${to}.0 and read ${removed.objects} object(s)`);
      } else {
        console.log("  releases not rendered: Helm refuses a chart whose kubeVersion excludes the target (listed below)");
      }
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
  const rules = ["removed-api", "chart-kube-version", "no-release", "version-skew"];
  for (const rule of rules) {
    const n = findings.filter((f) => f.rule === rule).length;
    console.log(`${n ? "FAIL" : "ok  "} ${rule}: ${n} finding(s)`);
  }
  if (findings.length) {
    throw new ToolError(`${what} cannot move to Kubernetes ${to} yet; ${findings.length} finding(s):\n${formatUpgradeFindings(findings)}\nFix each (docs/upgrades.md says how), then run make upgrade-check again.`);
  }
  console.log(`upgrade-check: nothing stands in the way of ${to}; next: make upgrade ENVIRONMENT=${env.name}${workload ? ` WORKLOAD=${workload}` : ""} after setting kubernetesVersion to ${to} (docs/upgrades.md)`);
}

main().catch((err) => {
  if (err instanceof ToolError || err instanceof EnvironmentError || err instanceof HelmUnavailableError || err instanceof RenderError) {
    process.stderr.write(`\nError: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
