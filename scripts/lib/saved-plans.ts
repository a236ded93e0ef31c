/**
 * Saved plans: the reviewed plan is the applied plan.
 *
 * `make plan` writes, per stack, Terraform's own saved plan (`<stack>.tfplan`), a readable summary
 * (`<stack>.txt`), and one `manifest.json` for the set: the environment, the git commit the stacks
 * were synthesized from, and per stack the plan file's SHA-256, the SHA-256 of the synthesized
 * configuration and the counts. `make apply-plan` applies exactly those files, and refuses
 *
 * - a plan made from another commit than the checkout's, or from uncommitted changes;
 * - a stack whose synthesized configuration is not the one planned (code moved on);
 * - a plan file that is not the one the manifest recorded;
 * - a plan whose state moved on since (Terraform itself refuses a stale saved plan; its error is
 *   turned into a sentence that says to plan again).
 *
 * Drift (`make drift`) is a plan of every stack that should be empty: the changes it finds are
 * listed by stack and resource address.
 */
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../config/paths";
import { ToolError, terraform } from "./terraform";

/** One resource change of a plan, as people read it. */
export interface ResourceChange {
  address: string;
  /** create, update, delete, replace or read. */
  action: "create" | "update" | "delete" | "replace" | "read";
}

export interface PlanSummary {
  stack: string;
  add: number;
  change: number;
  destroy: number;
  /** Resources replaced (destroyed and created again). */
  replaced: string[];
  /** Resources destroyed for good. */
  destroyed: string[];
  /** Every change except reads, in plan order. */
  changes: ResourceChange[];
  /** Outputs that change. */
  outputs: string[];
  /** Resources Terraform found changed outside it while refreshing (the plan's resource_drift) that this plan changes back. */
  drifted: string[];
}

interface PlanJson {
  resource_changes?: { address: string; mode?: string; change: { actions: string[] } }[];
  resource_drift?: { address: string; change: { actions: string[] } }[];
  output_changes?: Record<string, { actions: string[] }>;
}

function actionOf(actions: string[]): ResourceChange["action"] | undefined {
  const a = [...actions].sort().join(",");
  if (a === "create") return "create";
  if (a === "update") return "update";
  if (a === "delete") return "delete";
  if (a === "create,delete") return "replace";
  if (a === "read") return "read";
  return undefined; // no-op
}

/** The summary of `terraform show -json <plan>`, counted as Terraform's "Plan:" line counts. */
export function summarizePlan(stack: string, plan: PlanJson): PlanSummary {
  const changes: ResourceChange[] = [];
  for (const rc of plan.resource_changes ?? []) {
    const action = actionOf(rc.change.actions);
    if (action && action !== "read") changes.push({ address: rc.address, action });
  }
  const count = (...kinds: ResourceChange["action"][]) => changes.filter((c) => kinds.includes(c.action)).length;
  return {
    stack,
    add: count("create", "replace"),
    change: count("update"),
    destroy: count("delete", "replace"),
    replaced: changes.filter((c) => c.action === "replace").map((c) => c.address),
    destroyed: changes.filter((c) => c.action === "delete").map((c) => c.address),
    changes,
    outputs: Object.entries(plan.output_changes ?? {})
      .filter(([, o]) => actionOf(o.actions) && actionOf(o.actions) !== "read")
      .map(([name]) => name),
    // Refresh notices of attributes the configuration does not manage are noise; what was changed
    // outside Terraform *and* is put back by this plan is what people need to see.
    drifted: (plan.resource_drift ?? []).filter((d) => actionOf(d.change.actions) && changes.some((c) => c.address === d.address)).map((d) => d.address),
  };
}

export function isEmpty(s: PlanSummary): boolean {
  return s.changes.length === 0 && s.outputs.length === 0;
}

const SIGN: Record<ResourceChange["action"], string> = { create: "+", update: "~", delete: "-", replace: "-/+", read: "<=" };

/** A readable summary: the counts, destroys and replacements called out, then every change. */
export function formatSummary(s: PlanSummary): string {
  if (isEmpty(s)) return `${s.stack}: no changes.`;
  const lines = [`${s.stack}: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy${s.outputs.length ? `; outputs changing: ${s.outputs.join(", ")}` : ""}`];
  if (s.destroyed.length) lines.push(`  DESTROYS (${s.destroyed.length}): ${s.destroyed.join(", ")}`);
  if (s.replaced.length) lines.push(`  REPLACES (${s.replaced.length}, destroyed and created again): ${s.replaced.join(", ")}`);
  for (const c of s.changes) lines.push(`  ${SIGN[c.action].padEnd(3)} ${c.address}`);
  return lines.join("\n");
}

/** One Markdown comment for an environment's set of plans (the pull-request comment). */
export function markdownSummary(environment: string, commit: string, summaries: PlanSummary[]): string {
  const total = (k: "add" | "change" | "destroy") => summaries.reduce((n, s) => n + s[k], 0);
  const risky = summaries.filter((s) => s.destroyed.length || s.replaced.length);
  const lines = [
    `### Plan of \`${environment}\` at ${commit.slice(0, 12)}`,
    "",
    `**${total("add")} to add, ${total("change")} to change, ${total("destroy")} to destroy** over ${summaries.length} stack(s).`,
  ];
  if (risky.length) {
    lines.push("", "> [!WARNING]", "> This plan destroys or replaces resources:");
    for (const s of risky) {
      for (const a of s.destroyed) lines.push(`> - \`${s.stack}\`: destroys \`${a}\``);
      for (const a of s.replaced) lines.push(`> - \`${s.stack}\`: replaces \`${a}\``);
    }
  }
  lines.push("", "| stack | add | change | destroy |", "|---|---:|---:|---:|");
  for (const s of summaries) lines.push(`| \`${s.stack}\` | ${s.add} | ${s.change} | ${s.destroy} |`);
  const changed = summaries.filter((s) => !isEmpty(s));
  if (changed.length) {
    lines.push("", "<details><summary>Every change</summary>", "", "```");
    for (const s of changed) lines.push(formatSummary(s));
    lines.push("```", "</details>");
  }
  return lines.join("\n");
}

export const sha256 = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");

/** The commit of the checkout, and whether tracked files differ from it. */
export function gitCommit(cwd = REPO_ROOT): { commit: string; dirty: boolean } {
  const rev = spawnSync("git", ["rev-parse", "HEAD"], { cwd, encoding: "utf8" });
  if (rev.status !== 0) return { commit: "unknown", dirty: true };
  const status = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd, encoding: "utf8" });
  return { commit: rev.stdout.trim(), dirty: status.status !== 0 || status.stdout.trim() !== "" };
}

export interface PlanRecord {
  /** The plan file, relative to the plan folder. */
  file: string;
  planSha256: string;
  /** SHA-256 of the synthesized cdk.tf.json the plan was made from. */
  configSha256: string;
  add: number;
  change: number;
  destroy: number;
}

export interface PlanManifest {
  environment: string;
  commit: string;
  dirty: boolean;
  created: string;
  /** In deployment order. */
  stacks: Record<string, PlanRecord>;
}

export const MANIFEST = "manifest.json";

export function readManifest(dir: string): PlanManifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) throw new ToolError(`There are no saved plans in ${dir} (no ${MANIFEST}): run \`make plan\` first (in CI, the diff workflow's artifact), then apply them.`);
  return JSON.parse(readFileSync(file, "utf8")) as PlanManifest;
}

export function writeManifest(dir: string, manifest: PlanManifest): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Where plans go: PLAN_DIR, else .state/<env>/plans. */
export function planDir(env: string): string {
  return process.env.PLAN_DIR ? join(process.env.PLAN_DIR) : join(REPO_ROOT, ".state", env, "plans");
}

/**
 * `terraform plan -out` in `dir` (initialized), then the summary of the saved plan. Returns the
 * summary and the record for the manifest. `lock: false` for read-only planners.
 */
export async function savePlan(opts: {
  stack: string;
  dir: string;
  /** The configuration as planned (cdk.tf.json text). */
  config: string;
  out: string;
  cliConfig: string;
  env: NodeJS.ProcessEnv;
  lock?: boolean;
  log?: (line: string) => void;
  /** Resource addresses to limit the plan to (`-target`), for the ordered steps of make upgrade. */
  targets?: string[];
  /** The plan file's name without extension; default the stack's. */
  name?: string;
}): Promise<{ summary: PlanSummary; record: PlanRecord }> {
  const file = join(opts.out, `${opts.name ?? opts.stack}.tfplan`);
  mkdirSync(opts.out, { recursive: true });
  const targets = (opts.targets ?? []).map((t) => `-target=${t}`);
  const plan = await terraform(["plan", "-input=false", "-no-color", `-lock=${opts.lock ?? true}`, `-out=${file}`, ...targets], opts.dir, opts.cliConfig, opts.env, opts.log);
  if (plan.code !== 0) throw new ToolError(`The plan of ${opts.stack} failed:\n${(plan.stderr || plan.stdout).trim().slice(-3000)}`);
  const shown = await terraform(["show", "-json", "-no-color", file], opts.dir, opts.cliConfig, opts.env);
  if (shown.code !== 0) throw new ToolError(`terraform show of the saved plan of ${opts.stack} failed:\n${shown.stderr.trim().slice(-2000)}`);
  const summary = summarizePlan(opts.stack, JSON.parse(shown.stdout) as PlanJson);
  writeFileSync(join(opts.out, `${opts.name ?? opts.stack}.txt`), `${formatSummary(summary)}\n`);
  return {
    summary,
    record: { file: `${opts.name ?? opts.stack}.tfplan`, planSha256: sha256(readFileSync(file)), configSha256: sha256(opts.config), add: summary.add, change: summary.change, destroy: summary.destroy },
  };
}

/**
 * Why a saved plan must not be applied here (undefined when it may): another environment, another
 * commit or uncommitted changes, a changed configuration, or a plan file that is not the recorded one.
 */
export function planRefusal(manifest: PlanManifest, stack: string, opts: { environment: string; checkout: { commit: string; dirty: boolean }; config: string; planDir: string; requireCommit: boolean }): string | undefined {
  if (manifest.environment !== opts.environment) return `The saved plans in ${opts.planDir} are for environment ${manifest.environment}, not ${opts.environment}.`;
  const record = manifest.stacks[stack];
  if (!record) return `There is no saved plan of ${stack} in ${opts.planDir} (it holds ${Object.keys(manifest.stacks).join(", ") || "none"}): run \`make plan STACK=... ENVIRONMENT=${opts.environment}\` for it first.`;
  if (opts.requireCommit) {
    if (manifest.dirty) return `The saved plan of ${stack} was made from uncommitted changes (on ${manifest.commit.slice(0, 12)}), so no commit says what it applies: commit, plan again, review, then apply.`;
    if (opts.checkout.dirty) return `This checkout has uncommitted changes, so it is not the commit ${manifest.commit.slice(0, 12)} the plan of ${stack} was made from: commit or stash them, or plan again.`;
    if (manifest.commit !== opts.checkout.commit) {
      return `The saved plan of ${stack} was made at commit ${manifest.commit.slice(0, 12)}, and this checkout is at ${opts.checkout.commit.slice(0, 12)}: the code moved on since the plan was reviewed. Plan again at this commit, review, then apply.`;
    }
  }
  if (sha256(opts.config) !== record.configSha256) {
    return `The synthesized configuration of ${stack} is not the one its saved plan was made from (the code or the environment changed since): plan again, review, then apply.`;
  }
  const file = join(opts.planDir, record.file);
  if (!existsSync(file)) return `The saved plan file ${file} is missing: plan again.`;
  if (sha256(readFileSync(file)) !== record.planSha256) return `The saved plan file ${file} is not the one that was reviewed (its SHA-256 differs from the manifest's): plan again.`;
  return undefined;
}

/** Applies a saved plan; a stale one (state changed since) is refused with a sentence. */
export async function applySavedPlan(opts: { stack: string; dir: string; file: string; cliConfig: string; env: NodeJS.ProcessEnv; log?: (line: string) => void }): Promise<void> {
  const res = await terraform(["apply", "-input=false", "-no-color", "-parallelism=20", opts.file], opts.dir, opts.cliConfig, opts.env, opts.log);
  if (res.code === 0) return;
  if (/Saved plan is stale/i.test(res.stderr)) {
    throw new ToolError(
      `The saved plan of ${opts.stack} is stale: its state changed after the plan was made (another apply ran), so Terraform refuses it and nothing was changed. Plan again (make plan), review the new plan, then apply it.`,
    );
  }
  throw new ToolError(`Applying the saved plan of ${opts.stack} failed:\n${res.stderr.trim().slice(-3000)}`);
}

/** Drift of one stack: a plan that should be empty. Returns its summary (empty = no drift). */
export async function driftOf(opts: { stack: string; dir: string; cliConfig: string; env: NodeJS.ProcessEnv }): Promise<PlanSummary> {
  const file = join(opts.dir, ".drift.tfplan");
  const plan = await terraform(["plan", "-input=false", "-no-color", "-lock=false", `-out=${file}`], opts.dir, opts.cliConfig, opts.env);
  if (plan.code !== 0) throw new ToolError(`The drift plan of ${opts.stack} failed:\n${(plan.stderr || plan.stdout).trim().slice(-3000)}`);
  const shown = await terraform(["show", "-json", "-no-color", file], opts.dir, opts.cliConfig, opts.env);
  if (shown.code !== 0) throw new ToolError(`terraform show of the drift plan of ${opts.stack} failed:\n${shown.stderr.trim().slice(-2000)}`);
  return summarizePlan(opts.stack, JSON.parse(shown.stdout) as PlanJson);
}
