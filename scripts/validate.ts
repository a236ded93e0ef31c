/**
 * `make validate` / part of `npm test`: synthesize every stack, then `terraform init` +
 * `terraform validate` each one against the real AWS provider from this machine's filesystem
 * mirror, with a project-local CLI configuration and the backend switched to local.
 *
 * Providers the mirror lacks (kubernetes, helm) cannot be initialized offline: their resources,
 * and anything that references them, are listed by name as "not schema-checked".
 * SKIP_TERRAFORM_VALIDATE=1 is the only way to skip this step.
 *
 * Before it, the offline checks: deploy order, policy, and the Kubernetes half (scripts/verify:
 * every helm_release rendered with Helm 3, every object schema- and policy-checked).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MissingBundleError } from "../constructs/bundle";
import { EnvironmentError } from "../config/load";
import { synthesize, type SynthesizedStack } from "./lib/synth";
import { ToolError, checkTerraform, findProviderMirror, mirroredProviders, terraform, writeCliConfig } from "./lib/terraform";
import { checkDeployOrder, formatFindings } from "./verify/deploy-order";
import { POLICY_RULES, checkPolicy, formatPolicy } from "./verify/policy";
import { prune, providerOf } from "./lib/tf-json";
import { HelmUnavailableError } from "./verify/helm";
import { verifyKubernetes } from "./verify/kubernetes";
import { RenderError } from "./verify/render";
import { S3Client } from "@aws-sdk/client-s3";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { stateBucketName } from "../config/names";
import { REPO_ROOT } from "./lib/terraform";
import { localStateStore, orphanStates, orphanWarning, s3StateStore, type StateStore } from "./lib/orphans";

/** Whether AWS credentials are configured here at all (no network probe when they are not). */
function credentialsConfigured(): boolean {
  const e = process.env;
  return Boolean(e.AWS_ACCESS_KEY_ID || e.AWS_PROFILE || e.AWS_WEB_IDENTITY_TOKEN_FILE || e.AWS_CONTAINER_CREDENTIALS_FULL_URI || e.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || existsSync(join(homedir(), ".aws", "credentials")));
}

/**
 * Warns (never fails) about state of stacks an environment no longer declares: the emulator's on
 * disk, a real environment's in its state bucket when credentials are configured here.
 */
async function orphans(stacks: SynthesizedStack[]): Promise<void> {
  for (const env of [...new Map(stacks.map((s) => [s.env.name, s.env])).values()]) {
    const declared = stacks.filter((s) => s.env.name === env.name).map((s) => s.name);
    let store: StateStore;
    if (env.target === "emulator") store = localStateStore(join(REPO_ROOT, ".state", env.name), `.state/${env.name}/`);
    else if (credentialsConfigured()) store = s3StateStore(new S3Client({ region: env.region, maxAttempts: 2 }), stateBucketName(env), env.name);
    else {
      console.log(`note orphan state of ${env.name}: not checked (no AWS credentials here to list s3://${stateBucketName(env)}/${env.name}/)`);
      continue;
    }
    try {
      const found = await orphanStates(store, declared);
      console.log(found.length ? orphanWarning(env.name, store.where, found) : `ok   orphan state of ${env.name}: none in ${store.where}`);
    } catch (err) {
      console.log(`note orphan state of ${env.name}: ${store.where} could not be listed (${(err as Error).name}: ${(err as Error).message}); not checked`);
    }
  }
}

/** The Kubernetes half: every helm_release rendered with Helm, schema- and policy-checked; returns the number of findings. */
async function kubernetes(stacks: SynthesizedStack[]): Promise<number> {
  const report = await verifyKubernetes(stacks);
  return report.schemaFindings.length + report.policyFindings.length;
}

interface Diagnostic {
  severity: string;
  summary: string;
  detail?: string;
  range?: { filename: string; start: { line: number } };
}

/** The deploy-order check over every environment's stacks; returns the number of findings. */
function deployOrder(stacks: SynthesizedStack[]): number {
  let total = 0;
  for (const envName of [...new Set(stacks.map((s) => s.env.name))]) {
    const mine = stacks.filter((s) => s.env.name === envName);
    const findings = checkDeployOrder(mine);
    total += findings.length;
    console.log(`${findings.length ? "FAIL" : "ok  "} deploy order of ${envName}: ${mine.length} stacks, ${findings.length} finding(s)`);
    if (findings.length) console.log(formatFindings(findings));
  }
  return total;
}

/**
 * The policy step (checkov's checks, scripts/verify/policy.ts) over every stack of every environment;
 * returns the number of unreasoned findings plus stale exceptions.
 */
function policy(stacks: SynthesizedStack[]): number {
  const report = checkPolicy(stacks.map((s) => ({ name: s.name, environment: s.env.name, json: s.json })));
  // With ENVIRONMENT=x only x is synthesized: an exception for another environment is not stale.
  if (process.env.ENVIRONMENT?.trim()) report.unused = [];
  const envs = [...new Set(stacks.map((s) => s.env.name))].join(", ");
  const bad = report.unreasoned.length + report.unused.length;
  console.log(
    `${bad ? "FAIL" : "ok  "} policy (${POLICY_RULES.length} checkov checks) over ${stacks.length} stacks of ${envs}: ${report.resources} resources, ` +
      `${report.findings.length} finding(s), ${report.excepted.length} reasoned in config/policy-exceptions.ts, ${report.unreasoned.length} unreasoned`,
  );
  if (report.unreasoned.length) {
    console.log(`Fix each in the construct that owns the resource, or add a reasoned entry to config/policy-exceptions.ts:\n${formatPolicy(report.unreasoned)}`);
  }
  for (const e of report.unused) console.log(`  stale exception (matches nothing; delete it): ${e.check} ${e.resource}${e.environments ? ` [${e.environments.join(", ")}]` : ""}`);
  return bad;
}

async function main(): Promise<number> {
  if (process.env.SKIP_TERRAFORM_VALIDATE === "1") {
    const work = mkdtempSync(join(tmpdir(), "cnc-order-"));
    try {
      const stacks = synthesize({ outdir: join(work, "cdktf.out"), only: process.env.ENVIRONMENT?.trim() || undefined, root: process.env.ENVIRONMENTS_DIR || undefined });
      const found = deployOrder(stacks) + policy(stacks) + (await kubernetes(stacks));
      await orphans(stacks);
      console.log("terraform validate: SKIPPED because SKIP_TERRAFORM_VALIDATE=1 (nothing was schema-checked; the deploy-order and policy checks above ran).");
      return found ? 1 : 0;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const started = Date.now();
  const version = checkTerraform();
  const mirror = findProviderMirror();
  const held = mirroredProviders(mirror);
  const cliConfig = writeCliConfig(mirror);
  console.log(`terraform ${version}; provider mirror ${mirror} (holds: ${[...held].join(", ")})`);

  const work = mkdtempSync(join(tmpdir(), "cnc-validate-"));
  let failures = 0;
  try {
    const stacks = synthesize({ outdir: join(work, "cdktf.out"), only: process.env.ENVIRONMENT?.trim() || undefined, root: process.env.ENVIRONMENTS_DIR || undefined });
    const orderFindings = deployOrder(stacks) + policy(stacks) + (await kubernetes(stacks));
    await orphans(stacks);
    // One root with every stack as a child module: one init and one provider schema load for the
    // whole set (per-stack roots cost ~3 s each); diagnostics are mapped back by file name.
    const root = join(work, "check");
    const modules: Record<string, { source: string }> = {};
    const pruned = stacks.map((stack) => {
      const result = prune(stack.json, (_a, type) =>
        held.has(providerOf(type))
          ? undefined
          : `provider ${providerOf(type)} is not in the offline mirror${
              type === "helm_release" ? "; rendered with Helm and checked by the Kubernetes step above" : type.startsWith("kubernetes_") ? "; schema- and policy-checked as a Kubernetes object above" : ""
            }`,
        (name) => !held.has(name),
      );
      delete result.json.terraform?.backend; // backends are switched off for the check (init -backend=false)
      mkdirSync(join(root, "stacks", stack.name), { recursive: true });
      writeFileSync(join(root, "stacks", stack.name, "main.tf.json"), JSON.stringify(result.json, null, 2));
      modules[stack.name.replace(/[^A-Za-z0-9_-]/g, "_")] = { source: `./stacks/${stack.name}` };
      return result;
    });
    writeFileSync(join(root, "main.tf.json"), JSON.stringify({ module: modules }, null, 2));
    const init = await terraform(["init", "-backend=false", "-input=false", "-no-color"], root, cliConfig);
    if (init.code !== 0) throw new ToolError(`terraform init against the mirror failed:\n${init.stderr || init.stdout}`);
    const val = await terraform(["validate", "-json", "-no-color"], root, cliConfig);
    const parsed = JSON.parse(val.stdout || "{}") as { valid?: boolean; diagnostics?: Diagnostic[] };
    const diagnostics = parsed.diagnostics ?? [];
    const unplaced = diagnostics.filter((d) => !stacks.some((s) => d.range?.filename.includes(`stacks/${s.name}/`)));

    stacks.forEach((stack, i) => {
      const mine = diagnostics.filter((d) => d.range?.filename.includes(`stacks/${stack.name}/`));
      const errors = mine.filter((d) => d.severity === "error");
      console.log(`${errors.length ? "FAIL" : "ok  "} ${stack.name}: ${pruned[i].kept.length} resources schema-checked, ${pruned[i].heldBack.length} not schema-checked`);
      for (const d of mine) console.log(`     ${d.severity}: ${d.summary}${d.detail ? ` — ${d.detail.split("\n")[0]}` : ""} (${d.range?.filename}:${d.range?.start.line})`);
      for (const h of pruned[i].heldBack) console.log(`     not schema-checked: ${h.address} (${h.reason})`);
      if (errors.length) failures++;
    });
    for (const d of unplaced) console.log(`     ${d.severity}: ${d.summary}${d.detail ? ` — ${d.detail.split("\n")[0]}` : ""}`);
    if (val.code !== 0 || parsed.valid !== true) failures = Math.max(failures, 1);
    if (orderFindings) {
      console.log(`deploy-order, policy and Kubernetes checks: ${orderFindings} finding(s) above; each names the stack, the resource and what to change.`);
      failures = Math.max(failures, 1);
    }
    const unchecked = pruned.reduce((n, p) => n + p.heldBack.length, 0);
    const checked = pruned.reduce((n, p) => n + p.kept.length, 0);
    console.log(
      `terraform validate: ${stacks.length - failures} of ${stacks.length} stacks valid; ${checked} resources schema-checked, ` +
        `${unchecked} not schema-checked; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof ToolError || err instanceof EnvironmentError || err instanceof MissingBundleError || err instanceof HelmUnavailableError || err instanceof RenderError) {
      console.error(`\nError: ${err.message}\n`);
      process.exit(1);
    }
    console.error(err);
    process.exit(1);
  },
);
