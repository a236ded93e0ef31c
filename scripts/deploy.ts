/**
 * The deployment driver behind `make bootstrap|cluster|post-install|route53|workloads|all|destroy|diff`.
 *
 *   tsx scripts/deploy.ts apply  <bootstrap|cluster|post-install|route53|workloads|workload-<name>|all>
 *   tsx scripts/deploy.ts destroy <stack suffix|all>   (bootstrap of a real account: its state is moved out of its bucket first)
 *   tsx scripts/deploy.ts diff   <stack suffix>
 *   tsx scripts/deploy.ts plan   <stack suffix|workloads|all>   saved plans + summaries into PLAN_DIR (default .state/<env>/plans)
 *   tsx scripts/deploy.ts apply-plan <stack suffix|workloads|all>   applies exactly those saved plans (refuses stale ones)
 *   tsx scripts/deploy.ts upgrade [<workload>]   ordered minor upgrade: control plane, add-ons, node groups, the rest, the Kubernetes phase
 *   tsx scripts/deploy.ts drift  [all]             plans every stack; non-zero exit when any plan is not empty
 *   tsx scripts/deploy.ts register [all|<workload>]   workload clusters -> the provisioner (DRY_RUN=1: print only)
 *   tsx scripts/deploy.ts restore-db                 TIME=<RFC3339>: the provisioner's database restored to a point in time, the provisioner switched
 *   tsx scripts/deploy.ts decommission <workload>    unregister, delete its kubeconfig secret, destroy its two stacks (PROVISIONER_URL: the API to use)
 *   tsx scripts/deploy.ts local-down
 *
 * Environment: ENVIRONMENT (default local), AUTO_APPROVE=1 (no prompts), KEEP_EMULATOR=1 (leave a
 * moto that this run started running, so it can be inspected, diffed or destroyed for real
 * afterwards), VERBOSE=1 (print every stack's Terraform output here too).
 *
 * Output: one line per stack as it finishes, then the summary table. Each stack's full output
 * (preflight, held-back resources, the plan and the apply) goes to .state/<env>/logs/<stack>.log;
 * when a stack fails, the end of its log is printed with the error.
 *
 * For target "aws" it runs the real `terraform init/apply` of each synthesized stack after
 * checking Terraform and AWS credentials. Bootstrap's state lives in the bucket bootstrap creates:
 * its first apply runs with local state that is then moved there, and its destroy moves it back
 * out first (scripts/lib/bootstrap-state.ts). For target "emulator" it is the local rehearsal: the
 * same stacks against moto, with what the emulator cannot hold (Kubernetes/Helm resources, AWS
 * APIs moto lacks) held back by name, an idempotency re-plan, and dry runs of both services.
 */
import { EC2Client } from "@aws-sdk/client-ec2";
import { EKSClient } from "@aws-sdk/client-eks";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { IAMClient } from "@aws-sdk/client-iam";
import { ChangeResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { RDSClient } from "@aws-sdk/client-rds";
import { S3Client } from "@aws-sdk/client-s3";
import { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { spawn, spawnSync } from "node:child_process";

import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { MissingBundleError } from "../constructs/bundle";
import { DEFAULT_ENVIRONMENTS_DIR, EnvironmentError, RESTORES_FILE, loadEnvironments } from "../config/load";
import { nextRestore, parseRestoreTime, recordRestore, restoreInstance, restoreWindowProblem, undoRecord, type Restore } from "./lib/restore";
import { clusterAdminRoleArns, cncClusterName, planRunnerRoleArn, provisionerAccountAlias, stateBucketName, workloadClusterName, workloadKubeconfigSecretName } from "../config/names";
import {
  bucketsNotEmpty,
  emptyBucketCommand,
  emptyBucketsMessage,
  locateState,
  migrateToBucket,
  pullToDisk,
  removeLocalOverride,
  stateBucketExists,
  stateElsewhereMessage,
  useBucketState,
  useLocalState,
  type BootstrapState,
} from "./lib/bootstrap-state";
import { bootstrapDestroyRefusal, s3StateStore } from "./lib/orphans";
import { HttpProvisionerApi, clientCredentialsToken, registerWorkloads } from "./lib/registration";
import { CNC_APPS, type Environment } from "../config/schema";
import { PROBES_KEY } from "../constructs/dns-registration/function";
import { EMULATOR_ROUND_TRIP_GAPS, emulatorHoldReason, lostCreations, securityGroupRuleId } from "./lib/emulator-support";
import { emulatorEnv, ensureEmulator, runningEmulator, stopEmulator, type Emulator } from "./lib/emulator";
import { synthesize, synthesizeEnvironments, type SynthesizedStack } from "./lib/synth";
import { declaredRecordNames, finalSnapshotsInTheWay, keptOnDecommission, deleteKubeconfig, provisionerHold, remainingRecords, unregister, type DecommissionTarget } from "./lib/decommission";
import { REPO_ROOT, ToolError, checkTerraform, findProviderMirror, mapLimit, terraform, writeCliConfig } from "./lib/terraform";
import { deploySequence, destroySequence } from "./lib/sequence";
import { checkQuotas, quotaMessage } from "./lib/quotas";
import { DATA_HOLDING_TYPES } from "../constructs/security/data-protection";
import { prune, type HeldBack } from "./lib/tf-json";
import { describePlan, upgradePlan, waitForAddons, waitForCluster, waitForNodegroups } from "./lib/upgrade";
import { DescribeClusterCommand } from "@aws-sdk/client-eks";
import { applySavedPlan, driftOf, formatSummary, gitCommit, isEmpty, markdownSummary, planDir, planRefusal, readManifest, savePlan, writeManifest, type PlanManifest, type PlanSummary } from "./lib/saved-plans";
import {
  accountAliasConflict,
  accountAliasProblem,
  environmentZones,
  zoneTagProblems,
  callerIsAdmin,
  callerMessage,
  checkAwsCli,
  clusterOfStack,
  reachable,
  secretsMessage,
  secretsNeededBy,
  loadBalancerLookups,
  loadBalancersMessage,
  waitForLoadBalancers,
  unfilledSecrets,
  unreachableMessage,
  usesKubernetes,
  versionStepProblem,
} from "./lib/preflight";

interface StackReport {
  stack: string;
  applied: number;
  heldBack: number;
  seconds: number;
  note?: string;
}

const say = (text: string) => process.stdout.write(`${text}\n`);
const VERBOSE = process.env.VERBOSE === "1";

/**
 * A stack's (or step's) log file: every line of its output, also printed when VERBOSE=1. The
 * console shows one line per stack instead; on failure, `failed` adds the end of the log.
 */
class StepLog {
  readonly file: string;
  constructor(env: Environment, name: string) {
    const dir = join(REPO_ROOT, ".state", env.name, "logs");
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${name}.log`);
    writeFileSync(this.file, "");
  }
  /** The path to print (relative to the repository). */
  get shown(): string {
    return relative(REPO_ROOT, this.file);
  }
  readonly line = (text: string): void => {
    appendFileSync(this.file, `${text}\n`);
    if (VERBOSE) say(text);
  };
  /** `err` with the last lines of this log appended (unless VERBOSE already printed them). */
  failed(err: unknown): unknown {
    if (!(err instanceof ToolError) || VERBOSE) return err;
    const lines = readFileSync(this.file, "utf8").trimEnd().split("\n");
    const tail = lines.slice(-40).join("\n");
    return new ToolError(`${err.message}\n\nThe last ${Math.min(40, lines.length)} lines of ${this.shown} (the full output):\n${tail}`);
  }
}
const EMULATOR_STACK_TIMEOUT_MS = 6 * 60_000;

// The AWS SDK warns that its 2027 releases will need Node 22; that is not this run's concern. Its
// own switch turns off that one warning (here and in the services' dry runs); others still print.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

function selectStacks(env: Environment, stacks: SynthesizedStack[], target: string): SynthesizedStack[] {
  if (target === "all") return stacks;
  // The workload chains, then route53, which names their installations.
  if (target === "workloads") return stacks.filter((s) => s.name.startsWith(`${env.name}-workload-`) || s.name === `${env.name}-route53`);
  const wanted = `${env.name}-${target}`;
  const found = stacks.filter((s) => s.name === wanted);
  if (!found.length) {
    const known = stacks.map((s) => s.name.slice(env.name.length + 1));
    throw new ToolError(`There is no stack "${wanted}". Choose one of: ${[...known, "workloads", "all"].join(", ")}.`);
  }
  return found;
}

async function checkAwsCredentials(env: Environment): Promise<string> {
  let account: string | undefined;
  let arn = "";
  try {
    const out = await new STSClient({ region: env.region }).send(new GetCallerIdentityCommand({}));
    account = out.Account;
    arn = out.Arn ?? "";
  } catch (err) {
    throw new ToolError(
      `No usable AWS credentials for environment ${env.name} (${(err as Error).name}: ${(err as Error).message}). ` +
        `Export AWS_PROFILE for account ${env.accountId} (and run \`aws sso login\` if it uses SSO), or assume the deploy role, then run the command again.`,
    );
  }
  if (account !== env.accountId) {
    throw new ToolError(`Your AWS credentials are for account ${account}, but environment ${env.name} lives in ${env.accountId}. Switch AWS_PROFILE and run the command again.`);
  }
  return arn;
}

async function confirm(question: string): Promise<boolean> {
  if (process.env.AUTO_APPROVE === "1") return true;
  if (!process.stdin.isTTY) throw new ToolError(`${question} needs confirmation, and there is no terminal to ask on. Set AUTO_APPROVE=1 to proceed without asking.`);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await new Promise<string>((r) => rl.question(`${question} Type "yes" to continue: `, r));
  rl.close();
  return answer.trim() === "yes";
}

/** The working directory of a stack: as synthesized (real AWS) or pruned for the emulator. */
function prepare(stack: SynthesizedStack, emulated: boolean): { dir: string; heldBack: HeldBack[]; kept: number; ignored: string[] } {
  if (!emulated) return { dir: stack.dir, heldBack: [], kept: Object.values(stack.json.resource ?? {}).reduce((n, r) => n + Object.keys(r).length, 0), ignored: [] };
  const pruned = prune(stack.json, (_a, type, kind) => emulatorHoldReason(type, kind), (p) => p !== "aws");
  const ignored: string[] = [];
  for (const [type, attrs] of Object.entries(EMULATOR_ROUND_TRIP_GAPS)) {
    for (const [name, body] of Object.entries(pruned.json.resource?.[type] ?? {})) {
      const b = body as { lifecycle?: { ignore_changes?: string[] } };
      b.lifecycle = { ...(b.lifecycle ?? {}), ignore_changes: [...(b.lifecycle?.ignore_changes ?? []), ...attrs] };
      ignored.push(`${type}.${name}: ${attrs.join(", ")}`);
    }
  }
  // Same depth as cdktf.out/stacks/<stack>, so the relative local-state path is unchanged.
  const dir = join(REPO_ROOT, "cdktf.out", "rehearsal", stack.name);
  rmSync(join(dir, "cdk.tf.json"), { force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cdk.tf.json"), JSON.stringify(pruned.json, null, 2));
  if (existsSync(join(stack.dir, "assets"))) cpSync(join(stack.dir, "assets"), join(dir, "assets"), { recursive: true });
  return { dir, heldBack: pruned.heldBack, kept: pruned.kept.length, ignored };
}

/** Bootstrap of a real environment: its state moves between a local file and the bucket it creates. */
const isRealBootstrap = (ctx: Context, stack: SynthesizedStack) => !ctx.emulated && stack.name === `${ctx.env.name}-bootstrap`;

/**
 * `terraform init` of a stack. Bootstrap on a real account re-reads its backend every time
 * (`-reconfigure`): it is switched between the bucket and a local override by this driver, which
 * moves the state itself (scripts/lib/bootstrap-state.ts), so init must never offer to.
 */
function initArgs(ctx: Context, stack: SynthesizedStack): string[] {
  return ["init", "-input=false", "-no-color", ...(isRealBootstrap(ctx, stack) ? ["-reconfigure"] : [])];
}

function stateFile(env: Environment, stack: string): string {
  return join(REPO_ROOT, ".state", env.name, `${stack}.tfstate`);
}

function resourcesInState(file: string): number {
  if (!existsSync(file)) return 0;
  const state = JSON.parse(readFileSync(file, "utf8")) as { resources?: { mode: string; instances: unknown[] }[] };
  return (state.resources ?? []).filter((r) => r.mode === "managed").reduce((n, r) => n + r.instances.length, 0);
}

/** Explains a failed apply: which resources failed, and (on the emulator) that moto rejected their type. */
function explainFailure(stderr: string, emulated: boolean): string {
  const lines: string[] = [];
  const blocks = stderr.split(/\n(?=Error: )/);
  for (const block of blocks) {
    const error = /Error: ([^\n]+)/.exec(block)?.[1];
    const address = /with ([\w.-]+\.[\w-]+(?:\[[^\]]+\])?),/.exec(block)?.[1];
    if (!error) continue;
    const type = address?.split(".")[0];
    const hint = /EntityAlreadyExists/.test(block) && type === "aws_iam_account_alias"
      ? "\n    (this alias belongs to another AWS account: aliases are unique across AWS; set provisioner.accountAlias to a free mattermost-cloud-<name>)"
      : address?.startsWith("data.")
      ? "\n    (a lookup found nothing: apply the layers before this one first, in order: bootstrap, cluster, post-install, the workloads, route53)"
      : emulated && type
        ? `\n    (the emulator rejected resource type ${type}; if moto lacks this API, add ${type} to scripts/lib/emulator-support.ts with the reason)`
        : "";
    lines.push(`  - ${address ?? "(no address)"}: ${error}${hint}`);
  }
  return lines.join("\n") || stderr.slice(-2000);
}

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, prefix: string, log: (line: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const relay = (stream: NodeJS.ReadableStream) => {
      let pending = "";
      stream.on("data", (d: Buffer) => {
        pending += d.toString();
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const l of lines) log(`${prefix}${l}`);
      });
      stream.on("end", () => pending && log(`${prefix}${pending}`));
    };
    relay(child.stdout);
    relay(child.stderr);
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
}

interface Context {
  env: Environment;
  /** apply, destroy, diff or register: a diff may also be run by the read-only plan runner. */
  command?: string;
  emulated: boolean;
  /** Who runs this (STS caller ARN; real AWS only). */
  callerArn?: string;
  secrets?: SecretsManagerClient;
  iam?: IAMClient;
  eks?: EKSClient;
  elb?: ElasticLoadBalancingV2Client;
  route53?: Route53Client;
  rds?: RDSClient;
  /** Real AWS only: where bootstrap's state is (scripts/lib/bootstrap-state.ts). */
  s3?: S3Client;
  cliConfig?: string;
  tfEnv: NodeJS.ProcessEnv;
  emulator?: Emulator;
  /** SDK client options for the emulator (region, endpoint, test credentials). */
  emulatorAws?: { region: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } };
}

/**
 * The checks before a stack is planned: its secrets are filled; for Kubernetes stacks on AWS, the
 * AWS CLI exists, the caller is a cluster admin role, and the API endpoint answers from here.
 */
async function preflight(ctx: Context, stack: SynthesizedStack, log: (line: string) => void = say): Promise<void> {
  const tag = `[${stack.name}] `;
  const names = secretsNeededBy(ctx.env, stack.name, stack.json);
  if (names.length && ctx.secrets) {
    const problems = await unfilledSecrets(ctx.secrets, names);
    if (problems.length) throw new ToolError(secretsMessage(stack.name, problems, ctx.env.name));
    log(`${tag}preflight: ${names.length} secret(s) it needs are filled (${names.join(", ")})`);
  }
  // A cluster the stack creates: one minor at a time, never down (against what runs on AWS).
  const upgrading = stack.name === `${ctx.env.name}-cluster` ? { cluster: cncClusterName(ctx.env), version: ctx.env.cluster.kubernetesVersion } : ctx.env.workloads.filter((w) => stack.name === `${ctx.env.name}-workload-${w.name}`).map((w) => ({ cluster: workloadClusterName(ctx.env, w.name), version: w.kubernetesVersion ?? ctx.env.cluster.kubernetesVersion }))[0];
  if (upgrading && ctx.eks && !ctx.emulated && ctx.command !== "destroy") {
    const problem = await versionStepProblem(ctx.eks, upgrading.cluster, upgrading.version);
    if (problem) throw new ToolError(`${stack.name}: ${problem}`);
  }
  if (stack.name === `${ctx.env.name}-cluster` && ctx.iam) {
    const conflict = await accountAliasConflict(ctx.iam, provisionerAccountAlias(ctx.env));
    if (conflict) throw new ToolError(`${stack.name} sets the account alias the provisioner needs. ${conflict}`);
  }
  if (stack.name === `${ctx.env.name}-post-install` && ctx.iam && ctx.route53) {
    // The provisioner's start-up prerequisites.
    const alias = provisionerAccountAlias(ctx.env);
    const problems = [await accountAliasProblem(ctx.iam, alias, ctx.env.name), ...(await zoneTagProblems(ctx.route53, await environmentZones(ctx.route53, ctx.env)))].filter((p): p is string => !!p);
    if (problems.length) throw new ToolError(`${stack.name} installs the provisioner, which would not start:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    log(`${tag}preflight: account alias ${alias} and the zones' ${"MattermostCloudDNS"} tags are in place`);
  }
  const lookups = loadBalancerLookups(stack.json);
  if (lookups.length && ctx.emulated) {
    log(`${tag}preflight: the ${lookups.length} load balancer(s) it names are made by the controller, which the emulator does not run (listed as held back after this)`);
  } else if (lookups.length && ctx.elb) {
    const problems = await waitForLoadBalancers(ctx.elb, lookups, { timeoutMs: 15 * 60_000, intervalMs: 20_000, log: (l) => log(`${tag}${l}`) });
    if (problems.length) throw new ToolError(loadBalancersMessage(stack.name, problems));
    log(`${tag}preflight: the ${lookups.length} load balancer(s) it names exist, one each`);
  }
  if (!usesKubernetes(stack.json)) return;
  if (ctx.emulated) {
    log(`${tag}preflight: AWS CLI, caller role and API reachability not checked: the emulator has no Kubernetes API (its objects are held back below)`);
    return;
  }
  const cli = checkAwsCli();
  const admins = [...clusterAdminRoleArns(ctx.env), ...(["diff", "plan", "drift"].includes(ctx.command ?? "") && ctx.env.deployRunner.enabled ? [planRunnerRoleArn(ctx.env)] : [])];
  if (!ctx.callerArn || !callerIsAdmin(ctx.callerArn, admins)) throw new ToolError(callerMessage(stack.name, ctx.callerArn ?? "(unknown)", admins));
  const cluster = clusterOfStack(stack.json);
  if (!cluster) return;
  const described = spawnSync(process.env.AWS_CLI_BINARY || "aws", ["eks", "describe-cluster", "--name", cluster, "--region", ctx.env.region, "--query", "cluster.endpoint", "--output", "text"], { encoding: "utf8" });
  if (described.status !== 0) {
    throw new ToolError(`${stack.name} needs cluster ${cluster}, which could not be described (${(described.stderr || "").trim().split("\n").pop()}); apply the layer that creates it first (make all applies them in order).`);
  }
  const endpoint = described.stdout.trim();
  if (!(await reachable(new URL(endpoint).hostname, 443))) throw new ToolError(unreachableMessage(stack.name, cluster, endpoint));
  log(`${tag}preflight: ${cli}, caller ${ctx.callerArn} is a cluster admin, ${endpoint} answers`);
}

/** What a resource that holds data is called, for people. */
function dataHolderName(type: string, body: Record<string, any>): string {
  const name = body.bucket ?? body.identifier ?? body.domain_name ?? body.name ?? body.tags?.Name ?? body.description;
  return `${type} ${name ?? "(unnamed)"}`;
}

/**
 * `make restore-db ENVIRONMENT=<env> TIME=<RFC3339>`: checks the time against the database's
 * restore window; restores it as a new instance (RestoreDBInstanceToPointInTime, waited for until
 * available: nothing in use changes); records the restore in environments/<env>/database-restores.json;
 * then applies post-install with the new instance imported: its plan (shown and approved on a real
 * account) imports it, moves the provisioner's DB_ENDPOINT and DB_SECRET_ARN to it, and lets the
 * old instance go without destroying it. When the switch is not applied, the file is put back.
 */
async function restoreDb(ctx: Context, restore: Restore, root: string): Promise<void> {
  const env = ctx.env;
  const problem = await restoreWindowProblem(ctx.rds!, restore.source, restore.time);
  if (problem) throw new ToolError(`The provisioner database of ${env.name} cannot be restored to ${restore.time}: ${problem}. Nothing was changed.`);
  say(
    `\nRestoring the provisioner database of ${env.name} to ${restore.time}:\n  1. new instance ${restore.identifier}, restored from ${restore.source} (nothing in use changes)\n` +
      `  2. the post-install plan imports it and moves the provisioner's DB_ENDPOINT and DB_SECRET_ARN to it (its pods restart with the new values)\n` +
      `  3. ${restore.source} stays running, no longer managed, until you delete it (docs/recovery.md)`,
  );
  if (!(await confirm(`Restore ${restore.source} to ${restore.time} as ${restore.identifier}?`))) {
    say("Nothing was changed.");
    return;
  }
  await restoreInstance(ctx.rds!, restore, { log: (l) => say(`  ${l}`), pollMs: ctx.emulated ? 1_000 : 30_000 });
  const before = recordRestore(root, env, restore);
  const file = relative(REPO_ROOT, join(root, env.name, RESTORES_FILE));
  let managed: () => Promise<boolean> = async () => false;
  try {
    const [reloaded] = loadEnvironments({ only: env.name, root });
    const postInstall = synthesizeEnvironments([reloaded], join(REPO_ROOT, "cdktf.out")).find((s) => s.name === `${env.name}-post-install`)!;
    const address = Object.keys(postInstall.json.resource?.aws_db_instance ?? {}).find((n) => n.endsWith(`_restore${reloaded.provisioner.restores.length}`));
    if (!address) throw new ToolError(`The post-install stack of ${env.name} declares no restored instance; this is a bug in constructs/data/postgres.ts.`);
    // For this one plan: the restored instance is imported, so the plan shows it and nothing is created.
    (postInstall.json as Record<string, unknown>).import = [{ to: `aws_db_instance.${address}`, id: restore.identifier }];
    writeFileSync(join(postInstall.dir, "cdk.tf.json"), JSON.stringify(postInstall.json, null, 2));
    // Whether an apply that failed half-way already took the restored instance into the state.
    managed = async () => {
      const dir = ctx.emulated ? join(REPO_ROOT, "cdktf.out", "rehearsal", postInstall.name) : postInstall.dir;
      const listed = await terraform(["state", "list", "-no-color"], dir, ctx.cliConfig ?? process.env.TF_CLI_CONFIG_FILE ?? "", ctx.tfEnv);
      return listed.stdout.split("\n").includes(`aws_db_instance.${address}`);
    };
    const report = await applyStack({ ...ctx, env: reloaded }, postInstall);
    table([report]);
  } catch (err) {
    if (await managed()) {
      throw new ToolError(
        `${(err as Error).message}\nThe switch to ${restore.identifier} was applied in part (it is in the post-install state), so ${file} keeps the restore: ` +
          `fix the cause above and run make post-install ENVIRONMENT=${env.name} to finish it.`,
      );
    }
    undoRecord(root, env.name, before, (f) => rmSync(f, { force: true }));
    throw new ToolError(
      `${(err as Error).message}\nThe provisioner still uses ${restore.source}; ${file} is as it was. The restored instance ${restore.identifier} exists, unused: ` +
        `run make restore-db again with TIME=${restore.time} to switch to it (it is not restored again), or delete it.`,
    );
  }
  say(
    `\nThe provisioner now uses ${restore.identifier}, restored to ${restore.time}. Commit ${file} (every later plan needs it). ` +
      `${restore.source} still runs, unmanaged: compare, then delete it by hand (docs/recovery.md "Provisioner database").`,
  );
}

/**
 * Before any AWS call: the workload is declared (its stacks are synthesized to destroy them) and
 * declares no installations, and on a real account CONFIRM names its cluster.
 */
function decommissionGuard(env: Environment, name: string): void {
  const workload = env.workloads.find((w) => w.name === name);
  if (!name || name === "all" || !workload) {
    throw new ToolError(
      `make decommission needs WORKLOAD=<name> of a workload environments/${env.name} declares (${env.workloads.map((w) => w.name).join(", ") || "it declares none"}); got ${name && name !== "all" ? `"${name}"` : "none"}. ` +
        `A workload already removed from the file: put it back as it was, decommission it, then remove it. Nothing was changed.`,
    );
  }
  if (workload.installations.length) {
    throw new ToolError(
      `Workload ${name} of ${env.name} declares ${workload.installations.length} installation(s) (${workload.installations.map((i) => i.name).join(", ")}), whose DNS names route53 publishes: ` +
        `move them to another workload in environments/${env.name}/environment.ts (and with the provisioner), apply route53, then decommission. Nothing was changed.`,
    );
  }
  if (env.target === "emulator") return;
  const cluster = workloadClusterName(env, name);
  if (process.env.CONFIRM !== cluster) {
    throw new ToolError(
      `Decommissioning ${cluster} destroys ${env.name}-workload-${name}-apps and ${env.name}-workload-${name}: its database (after a final snapshot), its file store and cache, its EFS and its cluster. ` +
        `It needs CONFIRM=${cluster} as well as the approval (make decommission ENVIRONMENT=${env.name} WORKLOAD=${name} CONFIRM=${cluster}). Nothing was changed.`,
    );
  }
}

/**
 * Destroying a real environment (or any of its stacks) needs CONFIRM=<env> besides the approval
 * (AUTO_APPROVE=1 answers only the question). It lists what holds data first, and runs before any
 * AWS call: the stacks are synthesized offline.
 */
function destroyGuard(env: Environment, target: string, root?: string): void {
  const stacks = synthesize({ outdir: join(REPO_ROOT, "cdktf.out"), only: env.name, root });
  const selected = selectStacks(env, stacks, target);
  const holders = selected.flatMap((stack) =>
    Object.entries(stack.json.resource ?? {})
      .filter(([type]) => DATA_HOLDING_TYPES.has(type) || type === "aws_secretsmanager_secret" || type === "aws_elasticache_replication_group")
      .flatMap(([type, byName]) => Object.values(byName).map((body) => `  - ${stack.name}: ${dataHolderName(type, body as Record<string, any>)}`)),
  );
  const what = `${selected.map((s) => s.name).join(", ")} in environment ${env.name} (account ${env.accountId}, ${env.region})`;
  const protectedHolders = selected.some((stack) => Object.keys(stack.json.resource ?? {}).some((type) => DATA_HOLDING_TYPES.has(type)));
  const protection =
    env.dataProtection && protectedHolders
      ? `\nThe databases, buckets, file systems, log domain, keys and vaults among them carry prevent_destroy (dataProtection is on): set dataProtection: false in environments/${env.name}/environment.ts first, as README "Deleting an environment" lists.`
      : "";
  if (process.env.CONFIRM !== env.name) {
    throw new ToolError(
      `Destroying ${what} needs CONFIRM=${env.name} as well as the approval (make destroy ENVIRONMENT=${env.name} CONFIRM=${env.name}). ` +
        `Nothing was destroyed. What holds data there (${holders.length}):\n${holders.join("\n") || "  (nothing)"}${protection}`,
    );
  }
  if (protection) {
    // Refused whole: otherwise route53 and the -apps stacks (which hold nothing protected) would be
    // destroyed first, and the first stack with a protected resource would stop the run half-way.
    throw new ToolError(`Destroying ${what} would stop half-way, after its DNS names and apps are gone. Nothing was destroyed.${protection}`);
  }
  say(`CONFIRM=${env.name}: destroying ${what}. What holds data there (${holders.length}):\n${holders.join("\n") || "  (nothing)"}${protection}`);
}

/**
 * Before an apply that may create clusters on a real account: do the account's quotas hold what
 * the clusters still to create need (scripts/lib/quotas.ts)? Refuses with the request commands.
 */
async function quotaPreflight(env: Environment, clusters: string[]): Promise<void> {
  const region = { region: env.region };
  let report: Awaited<ReturnType<typeof checkQuotas>>;
  const clients = { ec2: new EC2Client(region), eks: new EKSClient(region), rds: new RDSClient(region), quotas: new ServiceQuotasClient(region) };
  try {
    report = await checkQuotas(env, clients, clusters);
  } catch (err) {
    throw new ToolError(
      `Could not compare ${env.name}'s needs with the account's quotas (${(err as Error).name}: ${(err as Error).message}). ` +
        "The caller needs servicequotas:GetServiceQuota and GetAWSDefaultServiceQuota, and read access to EC2, EKS and RDS; grant them (or assume a role that has them) and run the command again.",
    );
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
  if (report.shortfalls.length) throw new ToolError(quotaMessage(env, report.shortfalls));
  say(
    report.newClusters.length
      ? `preflight: the account's quotas hold the ${report.newClusters.length} cluster(s) still to create (${report.newClusters.join(", ")}); ${report.checked.length} quota(s) compared` +
          (report.unchecked.length ? `; vCPUs of ${report.unchecked.join(", ")} not compared (not a Standard instance family)` : "")
      : "preflight: every cluster of the environment exists already; no quota to compare",
  );
}

/**
 * Rehearsal only: bootstrap created the secret containers empty; here, like the operator on a
 * real account, a placeholder value goes into each one the stacks read (never a real secret).
 */
async function fillRehearsalSecrets(ctx: Context, stacks: SynthesizedStack[]): Promise<void> {
  if (!ctx.secrets) return;
  const names = [...new Set(stacks.flatMap((s) => secretsNeededBy(ctx.env, s.name, s.json)))];
  const empty = (await unfilledSecrets(ctx.secrets, names)).filter((p) => p.problem === "empty");
  for (const { name } of empty) {
    await ctx.secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify({ placeholder: "rehearsal", user: "admin", password: "rehearsal-only", clientId: "rehearsal", clientSecret: "rehearsal-only" }) }));
  }
  if (empty.length) say(`\nrehearsal: put a placeholder value into ${empty.length} empty secret(s), as an operator would (aws secretsmanager put-secret-value): ${empty.map((e) => e.name).join(", ")}`);
}

/** Destroys one stack (its output into .state/<env>/logs/<stack>.destroy.log); one line when done. */
async function destroyStack(ctx: Context, stack: SynthesizedStack, reports: StackReport[], keep: string[] = []): Promise<void> {
  const { env, emulated } = ctx;
  const started = Date.now();
  if (emulated && resourcesInState(stateFile(env, stack.name)) === 0) {
    reports.push({ stack: stack.name, applied: 0, heldBack: 0, seconds: 0, note: "nothing in state" });
    return;
  }
  const { dir } = prepare(stack, emulated);
  const log = new StepLog(env, `${stack.name}.destroy`);
  const cli = ctx.cliConfig ?? process.env.TF_CLI_CONFIG_FILE ?? "";
  // Counted through the backend (local file or state bucket) so that real accounts count too.
  const stateList = async () => {
    const res = await terraform(["state", "list"], dir, cli, ctx.tfEnv);
    if (res.code !== 0) throw new ToolError(`Listing ${stack.name}'s state failed:\n${res.stderr.slice(-1500)}`);
    // Managed resources only: the list names data sources too.
    return res.stdout.split("\n").map((l) => l.trim()).filter((l) => l && !/(^|\.)data\./.test(l));
  };
  let inState = 0;
  try {
    log.line(`\n==> ${stack.name}: terraform destroy`);
    await terraform(initArgs(ctx, stack), dir, cli, ctx.tfEnv);
    const listed = await stateList();
    // What outlives the stack on purpose leaves Terraform's hands first (its id is in the log).
    for (const address of keep.filter((a) => listed.includes(a))) {
      const shown = await terraform(["state", "show", "-no-color", address], dir, cli, ctx.tfEnv);
      const id = /^\s*(?:arn|id)\s*=\s*"([^"]+)"/m.exec(shown.stdout)?.[1] ?? "id in the log";
      const removed = await terraform(["state", "rm", address], dir, cli, ctx.tfEnv);
      if (removed.code !== 0) throw new ToolError(`Taking ${address} out of ${stack.name}'s state failed:\n${removed.stderr.slice(-1500)}`);
      log.line(`kept (no longer managed by Terraform): ${address} = ${id}`);
      say(`  ${stack.name}: kept ${address} (${id}), no longer managed; delete it by hand when its backups are no longer needed`);
    }
    inState = listed.length - keep.filter((a) => listed.includes(a)).length;
    const res = await terraform(["destroy", "-input=false", "-no-color", "-auto-approve", "-parallelism=20"], dir, cli, ctx.tfEnv, (l) => l.trim() && log.line(`[${stack.name}] ${l}`));
    if (res.code !== 0) {
      log.line(res.stderr);
      throw new ToolError(`Destroying ${stack.name} failed:\n${explainFailure(res.stderr, emulated)}`);
    }
    const left = await stateList();
    if (left.length > 0) throw new ToolError(`${stack.name} still has ${left.length} resources in state after destroy: ${left.slice(0, 5).join(", ")}${left.length > 5 ? ", ..." : ""}.`);
  } catch (err) {
    say(`  ${stack.name.padEnd(32)} FAILED  (${log.shown})`);
    throw log.failed(err);
  }
  const seconds = (Date.now() - started) / 1000;
  say(`  ${stack.name.padEnd(32)} destroyed ${inState}, ${seconds.toFixed(0)} s  (${log.shown})`);
  reports.push({ stack: stack.name, applied: -inState, heldBack: 0, seconds });
}

/**
 * The provisioner's API: PROVISIONER_URL when set (a port-forward, or the rehearsal's stand-in),
 * else https://provisioner.<private domain> on a real account, with a client-credentials token
 * when not on the emulator. Undefined on the emulator without PROVISIONER_URL.
 */
async function provisionerApi(ctx: Context): Promise<HttpProvisionerApi | undefined> {
  const env = ctx.env;
  const override = process.env.PROVISIONER_URL?.trim();
  if (ctx.emulated) return override ? new HttpProvisionerApi(override.replace(/\/$/, "")) : undefined;
  const auth = env.provisioner.apiAuth;
  const client = await ctx.secrets!.send(new GetSecretValueCommand({ SecretId: auth.clientSecretName })).then(
    (v) => JSON.parse(v.SecretString ?? "{}") as { clientId: string; clientSecret: string },
    (err: Error) => {
      throw new ToolError(`The provisioner API client secret ${auth.clientSecretName} could not be read (${err.name}); fill it with {"clientId": "...", "clientSecret": "..."} and run the command again.`);
    },
  );
  let token: string | undefined;
  return new HttpProvisionerApi(
    (override || `https://provisioner.${env.dns.privateDomain}`).replace(/\/$/, ""),
    async () => (token ??= await clientCredentialsToken((auth.tokenEndpoint ?? env.auth.oidc?.tokenEndpoint)!, client, auth.scope ?? `${auth.audience}/.default`)),
  );
}

/**
 * `make decommission ENVIRONMENT=<env> WORKLOAD=<name>`: refuses while the provisioner reports
 * installations on the cluster (or the environment declares some), else unregisters it, deletes
 * its kubeconfig secret, lifts its data protection (a reviewed apply on a real account: deletion
 * protection off; RDS still takes its final snapshot), destroys `-apps` then the AWS phase, and
 * checks that none of its DNS names is left. Then the workload is removed from the environment file.
 */
async function decommission(ctx: Context, stacks: SynthesizedStack[], workloadName: string): Promise<void> {
  const env = ctx.env;
  const target: DecommissionTarget = { environment: env.name, workload: workloadName, clusterName: workloadClusterName(env, workloadName), secretName: workloadKubeconfigSecretName(env, workloadName) };
  const mine = [`${env.name}-workload-${workloadName}-apps`, `${env.name}-workload-${workloadName}`].map((n) => stacks.find((s) => s.name === n)!);
  say(
    `\nDecommissioning workload cluster ${target.clusterName} of ${env.name}:\n  1. provisioner: refuse while installations run on it\n` +
      `  2. ${ctx.emulated ? "(real accounts: lift its deletion protection, a reviewed apply)" : `lift the deletion protection of ${mine[1].name} (a reviewed apply)`}\n` +
      `  3. provisioner: delete the cluster; kubeconfig secret ${target.secretName}: delete\n  4. destroy ${mine.map((s) => s.name).join(", then ")}, keeping its backup vault and backup keys\n  5. check that its DNS names are gone`,
  );

  const api = await provisionerApi(ctx);
  let registered: Awaited<ReturnType<typeof provisionerHold>>;
  if (api) {
    registered = await provisionerHold(api, target);
    say(registered ? `  provisioner: ${target.clusterName} is cluster ${registered.ID}, with no installations` : `  provisioner: ${target.clusterName} is not registered`);
  } else {
    say(`  provisioner: none on the emulator (set PROVISIONER_URL to a stand-in, as scripts/rehearse-decommission.sh does); skipped`);
  }
  const keep = keptOnDecommission(mine[1].json);
  const inTheWay = ctx.rds ? await finalSnapshotsInTheWay(ctx.rds, mine[1].json) : [];
  if (inTheWay.length) {
    throw new ToolError(
      `${mine[1].name}'s database would end in a final snapshot named ${inTheWay.join(", ")}, but a snapshot of that name exists already (an earlier cluster of the same name left it), so RDS would refuse the deletion half-way. ` +
        `Keep it under another name (aws rds copy-db-snapshot --source-db-snapshot-identifier ${inTheWay[0]} --target-db-snapshot-identifier ${inTheWay[0]}-<date>), delete the original (aws rds delete-db-snapshot --db-snapshot-identifier ${inTheWay[0]}), and run the same command again. Nothing was changed.`,
    );
  }
  if (!(await confirm(`This unregisters ${target.clusterName} and destroys ${mine.map((s) => s.name).join(" and ")} in ${env.name}, keeping ${keep.length ? keep.join(", ") : "nothing"} (its backups and their keys).`))) {
    say("Nothing was changed.");
    return;
  }
  const reports: StackReport[] = [];
  // First what can still be declined or fail with nothing lost. On a real account the workload's
  // database and load balancer refuse deletion until an apply turns their protection off (this
  // synthesis has it lifted), shown and approved like every apply.
  if (!ctx.emulated) {
    say(`\nLifting the data protection of ${mine[1].name} (deletion protection off; the database still leaves a final snapshot):`);
    reports.push(await applyStack(ctx, mine[1]));
  }
  if (api && registered) await unregister(api, registered, { log: (l) => say(`  ${l}`) });
  const secret = await deleteKubeconfig(ctx.secrets!, target.secretName);
  say(`  kubeconfig secret ${target.secretName}: ${secret}`);
  try {
    await destroyStack(ctx, mine[0], reports);
    await destroyStack(ctx, mine[1], reports, keep);
  } catch (err) {
    say(
      `\n${target.clusterName} is unregistered and its kubeconfig secret deleted, but its stacks are not all destroyed. Fix the cause below and run the same make decommission again ` +
        `(it carries on), or, to keep the cluster after all, run make register-workloads ENVIRONMENT=${env.name} to register it again.`,
    );
    throw err;
  }

  const names = [...new Set(mine.flatMap((s) => declaredRecordNames(s.json)))];
  const left = await remainingRecords(ctx.route53!, names);
  if (left.length) throw new ToolError(`${target.clusterName}'s stacks are destroyed but ${left.length} of its DNS records remain:\n${left.map((l) => `  - ${l}`).join("\n")}\nDelete them by hand; store discovery and the DNS-registration Lambda drop a name only once its record is gone.`);
  table(reports.map((r) => ({ ...r, applied: Math.abs(r.applied) })), "destroyed");
  say(
    `\n${target.clusterName} is decommissioned: unregistered, its kubeconfig secret deleted, its stacks destroyed, and none of its ${names.length} DNS name(s) (${names.join(", ")}) left, ` +
      `so store discovery and the DNS-registration Lambda drop it on their next run (one cluster's removal passes their guard; the last one's, which empties the list, needs one run with ALLOW_MASS_REMOVAL=true). ` +
      `Now remove workload "${workloadName}" from environments/${env.name}/environment.ts and apply bootstrap, post-install and route53 (make bootstrap post-install route53 ENVIRONMENT=${env.name}), which still name it ` +
      `(its Redis and database secrets, its OpenSearch writer mapping and network, its names); make validate warns about state left for stacks the environment no longer declares.` +
      (keep.length ? ` Kept, no longer managed: ${keep.join(", ")}; delete them by hand once its last backups are no longer needed (docs/recovery.md).` : ""),
  );
}

/**
 * `make register-workloads` (and the last step of `make workloads` / `make all`): each workload
 * cluster's kubeconfig into Secrets Manager, and an import into the provisioner unless it knows
 * the cluster. On the emulator a dry run: nothing is written, and the import it would send is printed.
 */
async function registerStep(ctx: Context, only?: string): Promise<void> {
  const env = ctx.env;
  const workloads = env.workloads.filter((w) => !only || w.name === only);
  if (!workloads.length || !ctx.eks || !ctx.secrets) return;
  const api = await provisionerApi(ctx);
  // The emulator registers for real only against a stand-in of the provisioner (PROVISIONER_URL).
  const dryRun = process.env.DRY_RUN === "1" || (ctx.emulated && !api);
  say(`\n==> register workload clusters with the provisioner${dryRun ? " (dry run: nothing is written or imported)" : api && ctx.emulated ? ` (the stand-in at ${process.env.PROVISIONER_URL})` : ""}`);
  await registerWorkloads({
    eks: ctx.eks,
    secrets: ctx.secrets,
    api,
    dryRun,
    environment: env.name,
    clusters: workloads.map((w) => ({ workload: w.name, clusterName: workloadClusterName(env, w.name), region: env.region, secretName: workloadKubeconfigSecretName(env, w.name) })),
    log: (line) => say(`[register] ${line}`),
  });
}

/** Bootstrap's state on a real account: the bucket it creates, or (first apply, destroy) `.state/<env>/`. */
function bootstrapState(ctx: Context, stack: SynthesizedStack): BootstrapState {
  const localFile = stateFile(ctx.env, stack.name);
  return {
    environment: ctx.env.name,
    stack: stack.name,
    s3: ctx.s3!,
    bucket: stateBucketName(ctx.env),
    key: `${ctx.env.name}/${stack.name}.tfstate`,
    localFile,
    localShown: relative(REPO_ROOT, localFile),
    dir: stack.dir,
    cliConfig: ctx.cliConfig ?? process.env.TF_CLI_CONFIG_FILE ?? "",
    tfEnv: ctx.tfEnv,
    log: (line) => say(`  ${stack.name} ${line}`),
  };
}

/**
 * `make bootstrap` on a real account. Its state belongs in the bucket it creates:
 * - the bucket exists and holds the state: applied like every other stack;
 * - the bucket exists, the state is on this machine only (an earlier version of this tool kept it
 *   there): moved into the bucket first, then applied;
 * - the bucket does not exist yet: applied with local state (`.state/<env>/`), then moved into the
 *   bucket it created (checked there, the local file renamed, never deleted);
 * - the bucket exists but the state is in neither place: it is on another machine (or lost), so
 *   `make all` leaves bootstrap out and `make bootstrap` refuses, saying what to do.
 * Both places holding state is refused (scripts/lib/bootstrap-state.ts locateState).
 */
async function applyBootstrap(ctx: Context, stack: SynthesizedStack, target: string): Promise<StackReport | undefined> {
  const t = bootstrapState(ctx, stack);
  const where = await locateState(t);
  if (where.bucketExists && !where.inBucket && !where.onDisk) {
    if (target !== "all") throw new ToolError(stateElsewhereMessage(t));
    say(`\n${stack.name}: skipped. ${stateElsewhereMessage(t).replace(/ Nothing was changed\.$/, "")}`);
    return undefined;
  }
  if (where.bucketExists) {
    if (where.onDisk) {
      say(`\n${stack.name}: its state is on this machine only (${t.localShown}: kept there by an earlier version of this tool, or by a run that stopped before moving it); moving it into s3://${t.bucket}/${t.key} before the plan:`);
      await migrateToBucket(t);
    }
    await useBucketState(t);
    return applyStack(ctx, stack);
  }
  say(
    `\n${stack.name}: the state bucket ${t.bucket} does not exist yet, so this first apply keeps its state in ${t.localShown}` +
      `${where.onDisk ? " (continuing the local state an earlier run left there)" : ""}; once the bucket exists, the state is moved into it.`,
  );
  await useLocalState(t);
  let report: StackReport;
  try {
    report = await applyStack(ctx, stack);
  } catch (err) {
    // A failed first apply may have created the bucket: its state goes there all the same, so it
    // does not stay on this disk only (the next run applies through the bucket).
    if (await stateBucketExists(t.s3, t.bucket, t.environment).catch(() => false)) {
      say(`  ${stack.name}: the apply failed, but the state bucket exists: moving the state into it before stopping:`);
      await migrateToBucket(t);
    }
    throw err;
  }
  if (!(await stateBucketExists(t.s3, t.bucket, t.environment))) {
    throw new ToolError(`${stack.name} was applied, but the state bucket ${t.bucket} still does not exist, so its state stays in ${t.localShown}: keep that file, and run make bootstrap ENVIRONMENT=${ctx.env.name} again.`);
  }
  say(`  ${stack.name}: moving its state into the bucket it created:`);
  await migrateToBucket(t);
  return report;
}

/**
 * `make destroy` of bootstrap on a real account: the bucket cannot hold the state of its own
 * deletion, so the state is pulled out of it into `.state/<env>/` first (checked, and the bucket's
 * object deleted: one live copy). The buckets bootstrap deletes must then be empty, every version
 * included (never force-destroyed in a real account): when they are not, it stops with the
 * commands, and the next `make destroy ... STACK=bootstrap` finds the state on this machine.
 */
async function destroyBootstrap(ctx: Context, stack: SynthesizedStack, reports: StackReport[]): Promise<void> {
  try {
    await destroyBootstrapFromDisk(ctx, stack, reports);
  } finally {
    // The state stays where it is (on this machine); the override was for these steps only.
    removeLocalOverride(stack.dir);
  }
}

async function destroyBootstrapFromDisk(ctx: Context, stack: SynthesizedStack, reports: StackReport[]): Promise<void> {
  const t = bootstrapState(ctx, stack);
  const where = await locateState(t);
  if (where.bucketExists) {
    const refusal = await bootstrapDestroyRefusal(s3StateStore(t.s3, t.bucket, ctx.env.name), ctx.env.name, stack.name);
    if (refusal) throw new ToolError(refusal);
  }
  if (!where.onDisk) {
    if (!where.bucketExists) {
      say(`  ${stack.name.padEnd(32)} nothing in state: the state bucket ${t.bucket} does not exist and ${t.localShown} is not here (a bootstrap applied elsewhere is destroyed where its state is)`);
      reports.push({ stack: stack.name, applied: 0, heldBack: 0, seconds: 0, note: "no state" });
      return;
    }
    if (!where.inBucket) throw new ToolError(stateElsewhereMessage(t).replace("Nothing was changed.", "Nothing of it was destroyed."));
    say(`\n${stack.name}: its state moves out of the bucket this destroy deletes, into ${t.localShown}:`);
    await pullToDisk(t);
  }
  // Only the state bucket is checked: the access-log bucket receives the state bucket's access logs
  // (this check's included) until the state bucket is gone, so it is emptied right before.
  const accessLogs = Object.values(stack.json.resource?.aws_s3_bucket ?? {})
    .map((b) => (b as { bucket?: string }).bucket)
    .filter((b): b is string => !!b && b !== t.bucket);
  const full = await bucketsNotEmpty(t.s3, [t.bucket]);
  if (full.length) throw new ToolError(emptyBucketsMessage(t, full, accessLogs));
  await useLocalState(t);
  try {
    await destroyStack(ctx, stack, reports);
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    throw new ToolError(
      `${err.message}\n${stack.name}'s state stays on this machine (${t.localShown}); keep it. Where a bucket was not empty (BucketNotEmpty), delete its object versions (${emptyBucketCommand("<bucket>")}), ` +
        `then run make destroy ENVIRONMENT=${ctx.env.name} CONFIRM=${ctx.env.name} STACK=bootstrap again.`,
    );
  }
  say(`  ${stack.name}: destroyed with its local state ${t.localShown}, which now holds nothing; delete .state/${ctx.env.name}/ once you no longer need it or the logs beside it.`);
}

/** Applies one stack, its output into its log file; prints one line when it is done. */
async function applyStack(ctx: Context, stack: SynthesizedStack): Promise<StackReport> {
  const log = new StepLog(ctx.env, stack.name);
  try {
    const report = await applyStackLogged(ctx, stack, log.line);
    const held = report.heldBack ? `, ${report.heldBack} held back` : "";
    say(`  ${stack.name.padEnd(32)} applied ${report.applied}${held}, ${report.seconds.toFixed(0)} s  (${log.shown})`);
    return report;
  } catch (err) {
    say(`  ${stack.name.padEnd(32)} FAILED  (${log.shown})`);
    throw log.failed(err);
  }
}

async function applyStackLogged(ctx: Context, stack: SynthesizedStack, log: (line: string) => void): Promise<StackReport> {
  const started = Date.now();
  await preflight(ctx, stack, log);
  const { dir, heldBack, kept, ignored } = prepare(stack, ctx.emulated);
  const tag = `[${stack.name}] `;
  log(`\n==> ${stack.name}: terraform init + apply (${kept} resource blocks${heldBack.length ? `, ${heldBack.length} held back` : ""}; the summary counts the instances in state)`);
  for (const h of heldBack) log(`${tag}held back: ${h.address} (${h.reason})`);
  for (const i of ignored) log(`${tag}emulator gap, not compared on re-plan: ${i} (moto does not return these attributes)`);
  const cli = ctx.cliConfig;
  const init = await terraform(initArgs(ctx, stack), dir, cli ?? process.env.TF_CLI_CONFIG_FILE ?? "", ctx.tfEnv);
  if (init.code !== 0) throw new ToolError(`terraform init failed for ${stack.name}:\n${init.stderr || init.stdout}`);
  if (!ctx.emulated) {
    // A real account: the plan is saved, shown, approved, and exactly that plan is applied.
    const out = join(planDir(ctx.env.name), "applied");
    const { summary } = await savePlan({ stack: stack.name, dir, config: readFileSync(join(dir, "cdk.tf.json"), "utf8"), out, cliConfig: cli ?? process.env.TF_CLI_CONFIG_FILE ?? "", env: ctx.tfEnv, log: (l) => l.trim() && log(`${tag}${l}`) });
    log(formatSummary(summary));
    if (isEmpty(summary)) return { stack: stack.name, applied: 0, heldBack: 0, seconds: (Date.now() - started) / 1000, note: "no changes" };
    say(`\n${formatSummary(summary)}`);
    if (!(await confirm(`Apply this plan of ${stack.name} to account ${ctx.env.accountId}?`))) throw new ToolError(`The plan of ${stack.name} was not approved; it and the stacks after it were not applied.`);
    await applySavedPlan({ stack: stack.name, dir, file: join(out, `${stack.name}.tfplan`), cliConfig: cli ?? process.env.TF_CLI_CONFIG_FILE ?? "", env: ctx.tfEnv, log: (l) => l.trim() && log(`${tag}${l}`) });
    return { stack: stack.name, applied: resourcesInState(stateFile(ctx.env, stack.name)), heldBack: 0, seconds: (Date.now() - started) / 1000 };
  }
  const approve = true;
  const runApply = () =>
    terraform(
      ["apply", "-input=false", "-no-color", "-parallelism=20", ...(approve ? ["-auto-approve"] : [])],
      dir,
      cli ?? process.env.TF_CLI_CONFIG_FILE ?? "",
      ctx.tfEnv,
      (line) => line.trim() && log(`${tag}${line}`),
      // Against the emulator nothing should take this long; a hang means moto is failing a call the provider retries.
      ctx.emulated ? EMULATOR_STACK_TIMEOUT_MS : undefined,
    );
  let apply = await runApply();
  // Emulator only: under load moto sometimes creates a resource but the response is lost; the
  // SDK retries and gets "already exists". Such a resource is adopted (terraform import) and the
  // apply runs once more, saying so. Any other failure, and any failure on AWS, stops here.
  const lost = ctx.emulated && apply.code !== 0 && !apply.timedOut ? lostCreations(apply.stderr) : [];
  if (lost.length) {
    const ec2 = new EC2Client(ctx.emulatorAws!);
    for (const { address, id: named } of lost) {
      const id = named ?? (await securityGroupRuleId(ec2, join(dir, "cdk.tf.json"), stateFile(ctx.env, stack.name), address));
      if (!id) throw new ToolError(`Applying ${stack.name} failed: the emulator says ${address} already exists, but no rule matching it was found to adopt:\n${explainFailure(apply.stderr, ctx.emulated)}`);
      log(`${tag}emulator: ${address} (${id}) was created but its response was lost (${named ? "AlreadyExists" : "InvalidPermission.Duplicate"} on the SDK's retry); importing it and applying again`);
      const imported = await terraform(["import", "-input=false", "-no-color", address, id], dir, cli ?? "", ctx.tfEnv);
      if (imported.code !== 0) throw new ToolError(`Applying ${stack.name} failed, and adopting ${address} (${id}) failed too:\n${imported.stderr.slice(-1500)}`);
    }
    ec2.destroy();
    apply = await runApply();
  }
  if (apply.timedOut) {
    throw new ToolError(`Applying ${stack.name} took more than ${EMULATOR_STACK_TIMEOUT_MS / 60000} minutes against the emulator and was stopped; the resource still "creating" at the end of its log is one moto fails on (see .state/${ctx.env.name}/emulator.log for its error), so add its type to scripts/lib/emulator-support.ts with the reason.`);
  }
  if (apply.code !== 0) {
    log(apply.stderr);
    throw new ToolError(`Applying ${stack.name} failed:\n${explainFailure(apply.stderr, ctx.emulated)}`);
  }
  const outputs = await terraform(["output", "-json", "-no-color"], dir, cli ?? "", ctx.tfEnv);
  const urls = (JSON.parse(outputs.stdout || "{}") as Record<string, { value: unknown }>).urls?.value;
  if (urls) {
    log(`${tag}URLs:\n${(urls as string[]).map((u) => `  ${u}`).join("\n")}`);
    if (!VERBOSE) say(`${tag}URLs:\n${(urls as string[]).map((u) => `  ${u}`).join("\n")}`);
  }
  return { stack: stack.name, applied: resourcesInState(stateFile(ctx.env, stack.name)) || kept, heldBack: heldBack.length, seconds: (Date.now() - started) / 1000 };
}

async function replan(ctx: Context, stack: SynthesizedStack): Promise<string[]> {
  const dir = ctx.emulated ? join(REPO_ROOT, "cdktf.out", "rehearsal", stack.name) : stack.dir;
  const plan = await terraform(["plan", "-input=false", "-no-color", "-detailed-exitcode", "-lock=false"], dir, ctx.cliConfig ?? "", ctx.tfEnv);
  if (plan.code === 0) return [];
  if (plan.code === 2) return plan.stdout.split("\n").filter((l) => /^\s+# .+ (will be|must be)/.test(l)).map((l) => l.trim());
  throw new ToolError(`terraform plan failed for ${stack.name}:\n${plan.stderr || plan.stdout}`);
}

async function output(ctx: Context, stack: SynthesizedStack, name: string): Promise<string | undefined> {
  const dir = ctx.emulated ? join(REPO_ROOT, "cdktf.out", "rehearsal", stack.name) : stack.dir;
  const out = await terraform(["output", "-json", "-no-color"], dir, ctx.cliConfig ?? "", ctx.tfEnv);
  return (JSON.parse(out.stdout || "{}") as Record<string, { value: string }>)[name]?.value;
}

/** Both services once, in dry-run mode; their JSON logs go to .state/<env>/logs/services.log. */
async function serviceDryRuns(ctx: Context, cluster: SynthesizedStack): Promise<void> {
  const log = new StepLog(ctx.env, "services");
  try {
    await serviceDryRunsLogged(ctx, cluster, log.line);
    say(`  ${"services (dry runs)".padEnd(32)} store discovery and DNS registration ran  (${log.shown})`);
  } catch (err) {
    say(`  ${"services (dry runs)".padEnd(32)} FAILED  (${log.shown})`);
    throw log.failed(err);
  }
}

async function serviceDryRunsLogged(ctx: Context, cluster: SynthesizedStack, log: (line: string) => void): Promise<void> {
  const zoneId = await output(ctx, cluster, "private_zone_id");
  if (!zoneId) {
    log("\n(services not run: the cluster stack has no private_zone_id output yet)");
    return;
  }
  const base = { ...ctx.tfEnv, PRIVATE_HOSTED_ZONE_ID: zoneId, DRY_RUN: "true", ENVIRONMENT_NAME: ctx.env.name, NODE_NO_WARNINGS: "1" };
  log(`\n==> store discovery (dry run) against zone ${zoneId}`);
  let code = await run(
    process.execPath,
    [join(REPO_ROOT, "dist", "cronjobs", "store-discovery", "main.js")],
    { ...base, THANOS_NAMESPACE: "monitoring", THANOS_DEPLOYMENT_NAME: "thanos-query", THANOS_CONFIGMAP_NAME: "thanos-store-endpoints" },
    "[store-discovery] ",
    log,
  );
  if (code !== 0) throw new ToolError(`The store-discovery dry run failed (exit ${code}); see its JSON log.`);
  // Installation records are made by the provisioner at run time, which the rehearsal does not run:
  // stand in for it with one CNAME in the emulated public zone, so the probe document has a target.
  const publicZoneId = await output(ctx, cluster, "public_zone_id");
  const probesEnv: Record<string, string> = {};
  if (publicZoneId && ctx.route53 && ctx.env.dns.publicDomain) {
    const name = `rehearsal-installation.${ctx.env.dns.publicDomain}`;
    await ctx.route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: publicZoneId,
        ChangeBatch: { Changes: [{ Action: "UPSERT", ResourceRecordSet: { Name: name, Type: "CNAME", TTL: 60, SetIdentifier: "rehearsal", Weight: 255, ResourceRecords: [{ Value: `installations.${ctx.env.dns.publicDomain}` }] } }] },
      }),
    );
    log(`(the rehearsal stands in for the provisioner: installation record ${name} in the public zone)`);
    Object.assign(probesEnv, { PUBLIC_HOSTED_ZONE_ID: publicZoneId, PUBLIC_DOMAIN: ctx.env.dns.publicDomain, EXCLUDED_NAMES: CNC_APPS.join(","), PROBES_KEY });
  }
  log(`\n==> DNS-registration Lambda (dry run) against zones ${[zoneId, publicZoneId].filter(Boolean).join(" and ")}`);
  code = await run(
    process.execPath,
    [
      "-e",
      `require(${JSON.stringify(join(REPO_ROOT, "dist", "lambdas", "dns-registration", "index.js"))}).handler({source:"rehearsal"}).then(` +
        // With the public zone, the stand-in installation must come out as a probe target.
        `r=>{console.log(JSON.stringify(r));if(process.env.PUBLIC_HOSTED_ZONE_ID&&!(r.installations>0)){console.error("the probe document has no target although the public zone holds an installation record");process.exit(1)}},` +
        `e=>{console.error(e.message);process.exit(1)})`,
    ],
    { ...base, PRIVATE_DOMAIN: ctx.env.dns.privateDomain, ...probesEnv },
    "[dns-registration] ",
    log,
  );
  if (code !== 0) throw new ToolError(`The DNS-registration dry run failed (exit ${code}); see its JSON log.`);
}

function table(rows: StackReport[], verb = "applied"): void {
  const header = ["stack", verb, "held back", "seconds"];
  const data = rows.map((r) => [r.stack, String(r.applied), String(r.heldBack), r.seconds.toFixed(1)]);
  const widths = header.map((h, i) => Math.max(h.length, ...data.map((d) => d[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  say(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  data.forEach((d) => say(line(d)));
}

/** The emulator keeps nothing on disk: state left from an emulator that has since stopped describes nothing. */
function clearStaleEmulatorState(env: Environment, stacks: string[]): void {
  const stale = stacks.map((name) => ({ s: { name }, n: resourcesInState(stateFile(env, name)) })).filter((x) => x.n > 0);
  if (!stale.length) return;
  say(
    `Note: local state lists ${stale.reduce((n, x) => n + x.n, 0)} resources (${stale.map((x) => x.s.name).join(", ")}) from an emulator that is no longer running; ` +
      `moto keeps nothing on disk, so they no longer exist. Clearing that state.`,
  );
  for (const { s } of stale) {
    rmSync(stateFile(env, s.name), { force: true });
    rmSync(`${stateFile(env, s.name)}.backup`, { force: true });
  }
}

/**
 * `make diff` on the emulator plans against what a `KEEP_EMULATOR=1 make all` left running: a
 * fresh emulator holds nothing, so every plan would fail on its first lookup.
 */
async function refuseDiffWithoutKeptEmulator(env: Environment, target: string, command = "diff"): Promise<void> {
  const kept = await runningEmulator(env.name);
  const again = `run \`KEEP_EMULATOR=1 make all ENVIRONMENT=${env.name}\` first, which leaves its emulator running for \`make ${command}\` (and \`make destroy\` stops it)`;
  if (!kept) throw new ToolError(`make ${command} on ${env.name} plans against the local AWS emulator a kept rehearsal leaves running, and none is running: ${again}.`);
  if (target !== "bootstrap" && resourcesInState(stateFile(env, `${env.name}-bootstrap`)) === 0) {
    throw new ToolError(`The local AWS emulator at ${kept.endpoint} holds nothing of ${env.name} yet (its bootstrap is not applied): ${again}.`);
  }
  say(`make ${command} on ${env.name}: planning against the emulator a kept rehearsal left running at ${kept.endpoint}.`);
}

/**
 * An apply, apply-plan or destroy of a real environment asks on a terminal. Without one (a
 * pipeline, `make ... | tee`), it is refused before any AWS call unless AUTO_APPROVE=1 says the
 * run is approved (Terraform would otherwise fail half-way with "error asking for approval: EOF").
 */
function refuseWithoutTerminal(env: Environment, command: string, target: string): void {
  if (process.env.AUTO_APPROVE === "1" || process.stdin.isTTY) return;
  const verb = command === "destroy" ? "destroy" : "apply";
  throw new ToolError(
    `make ${command === "apply" ? target : command} on ${env.name} (a real account) shows each plan and asks before it ${verb === "destroy" ? "destroys" : "applies"} it, and there is no terminal to ask on. ` +
      `Run it in a terminal, or set AUTO_APPROVE=1 where the approval was given elsewhere (the deploy workflow's environment approval). Nothing was changed.`,
  );
}

/**
 * diff, plan, apply-plan and drift of a real environment read bootstrap's state from the bucket.
 * While it is not there (bootstrap not applied yet, or its state still on the machine that applied
 * it with an earlier version of this tool), bootstrap is left out, saying why; asked for by name,
 * it is refused.
 */
async function withBootstrapStateInBucket(ctx: Context, stacks: SynthesizedStack[], target: string): Promise<SynthesizedStack[]> {
  const bootstrap = stacks.find((s) => isRealBootstrap(ctx, s));
  if (!bootstrap) return stacks;
  const t = bootstrapState(ctx, bootstrap);
  const where = await locateState(t);
  if (where.inBucket) return stacks;
  const why = !where.bucketExists
    ? `the state bucket ${t.bucket} does not exist yet: make bootstrap ENVIRONMENT=${ctx.env.name} applies it first`
    : where.onDisk
      ? `its state is still on this machine (${t.localShown}): make bootstrap ENVIRONMENT=${ctx.env.name} moves it into s3://${t.bucket}/${t.key}`
      : `its state is not in s3://${t.bucket}/${t.key} yet: it is on the machine that applied bootstrap with an earlier version of this tool, where make bootstrap ENVIRONMENT=${ctx.env.name} moves it into the bucket`;
  if (target === "bootstrap") throw new ToolError(`make ${ctx.command} of ${bootstrap.name} reads its state from the state bucket, and ${why}. Nothing was planned.`);
  say(`${bootstrap.name}: left out (${why}).`);
  return stacks.filter((s) => s !== bootstrap);
}

/** The working directory of a stack for plans: the synthesized one, or the emulator's pruned copy. */
function planningDir(ctx: Context, stack: SynthesizedStack, log: (line: string) => void): string {
  const { dir, heldBack } = prepare(stack, ctx.emulated);
  for (const h of heldBack) log(`[${stack.name}] held back: ${h.address} (${h.reason})`);
  return dir;
}

async function initStack(ctx: Context, stack: SynthesizedStack, dir: string): Promise<void> {
  const init = await terraform(initArgs(ctx, stack), dir, ctx.cliConfig ?? process.env.TF_CLI_CONFIG_FILE ?? "", ctx.tfEnv);
  if (init.code !== 0) throw new ToolError(`terraform init failed for ${stack.name}:\n${explainFailure(init.stderr, ctx.emulated)}`);
}

/**
 * `make plan`: a saved plan per stack, its summary printed and written beside it, one manifest
 * (commit, configuration and plan hashes) and summary.md (the pull-request comment) for the set.
 */
async function planStacks(ctx: Context, stacks: SynthesizedStack[]): Promise<void> {
  const out = planDir(ctx.env.name);
  const checkout = gitCommit();
  const manifest: PlanManifest = { environment: ctx.env.name, commit: checkout.commit, dirty: checkout.dirty, created: new Date().toISOString(), stacks: {} };
  const summaries: PlanSummary[] = [];
  for (const stack of stacks) {
    const log = new StepLog(ctx.env, `${stack.name}.plan`);
    try {
      await preflight(ctx, stack, log.line);
      const dir = planningDir(ctx, stack, log.line);
      await initStack(ctx, stack, dir);
      const { summary, record } = await savePlan({
        stack: stack.name,
        dir,
        config: readFileSync(join(dir, "cdk.tf.json"), "utf8"),
        out,
        cliConfig: ctx.cliConfig ?? process.env.TF_CLI_CONFIG_FILE ?? "",
        env: ctx.tfEnv,
        // The plan runner is read-only: it cannot take the state lock.
        lock: false,
        log: (l) => l.trim() && log.line(`[${stack.name}] ${l}`),
      });
      manifest.stacks[stack.name] = record;
      summaries.push(summary);
      say(formatSummary(summary));
    } catch (err) {
      say(`  ${stack.name.padEnd(32)} FAILED  (${log.shown})`);
      throw log.failed(err);
    }
  }
  writeManifest(out, manifest);
  writeFileSync(join(out, "summary.md"), `${markdownSummary(ctx.env.name, checkout.commit, summaries)}\n`);
  say(
    `\nSaved ${stacks.length} plan(s) of ${ctx.env.name} at commit ${checkout.commit.slice(0, 12)}${checkout.dirty ? " (with uncommitted changes: such plans are for reading, apply-plan refuses them)" : ""} in ${relative(REPO_ROOT, out) || out}/ ` +
      `(summaries: <stack>.txt, summary.md). \`make apply-plan STACK=${stacks.length === 1 ? stacks[0].name.slice(ctx.env.name.length + 1) : "all"} ENVIRONMENT=${ctx.env.name}\` applies exactly these.`,
  );
}

/** `make apply-plan`: applies the saved plans in deployment order after checking they are the reviewed ones. */
async function applyPlans(ctx: Context, stacks: SynthesizedStack[]): Promise<void> {
  const dir = planDir(ctx.env.name);
  const manifest = readManifest(dir);
  const checkout = gitCommit();
  const planned = stacks.filter((s) => manifest.stacks[s.name]);
  if (!planned.length) throw new ToolError(`None of ${stacks.map((s) => s.name).join(", ")} has a saved plan in ${dir}: run make plan first.`);
  // Everything is checked before anything is applied.
  const work = planned.map((stack) => {
    const log = new StepLog(ctx.env, `${stack.name}.apply-plan`);
    const tfDir = planningDir(ctx, stack, log.line);
    const refusal = planRefusal(manifest, stack.name, { environment: ctx.env.name, checkout, config: readFileSync(join(tfDir, "cdk.tf.json"), "utf8"), planDir: dir, requireCommit: !ctx.emulated });
    if (refusal) throw new ToolError(`${refusal} Nothing was applied.`);
    return { stack, tfDir, log, record: manifest.stacks[stack.name] };
  });
  const changing = work.filter((w) => w.record.add + w.record.change + w.record.destroy > 0);
  say(`Saved plans of ${ctx.env.name} at ${manifest.commit.slice(0, 12)} (made ${manifest.created}): ${work.map((w) => `${w.stack.name} +${w.record.add} ~${w.record.change} -${w.record.destroy}`).join(", ")}`);
  if (!changing.length) {
    say("Every saved plan is empty: nothing to apply.");
    return;
  }
  for (const w of changing) {
    say(`\n${readFileSync(join(dir, `${w.stack.name}.txt`), "utf8").trimEnd()}`);
    if (!(await confirm(`Apply this saved plan of ${w.stack.name}?`))) throw new ToolError(`The saved plan of ${w.stack.name} was not approved; it and the stacks after it were not applied.`);
    const started = Date.now();
    try {
      await preflight(ctx, w.stack, w.log.line);
      await initStack(ctx, w.stack, w.tfDir);
      await applySavedPlan({ stack: w.stack.name, dir: w.tfDir, file: join(dir, w.record.file), cliConfig: ctx.cliConfig ?? process.env.TF_CLI_CONFIG_FILE ?? "", env: ctx.tfEnv, log: (l) => l.trim() && w.log.line(`[${w.stack.name}] ${l}`) });
    } catch (err) {
      say(`  ${w.stack.name.padEnd(32)} FAILED  (${w.log.shown})`);
      throw w.log.failed(err);
    }
    say(`  ${w.stack.name.padEnd(32)} applied its saved plan, ${((Date.now() - started) / 1000).toFixed(0)} s  (${w.log.shown})`);
  }
}

/**
 * `make drift`: every stack planned against what exists; each plan should be empty. Lists the
 * stacks and resources that differ (drift.md beside the plans for the scheduled workflow) and
 * exits non-zero when any does.
 */
async function drift(ctx: Context, stacks: SynthesizedStack[]): Promise<void> {
  const found: PlanSummary[] = [];
  for (const stack of stacks) {
    const log = new StepLog(ctx.env, `${stack.name}.drift`);
    try {
      await preflight(ctx, stack, log.line);
      const dir = planningDir(ctx, stack, log.line);
      await initStack(ctx, stack, dir);
      const summary = await driftOf({ stack: stack.name, dir, cliConfig: ctx.cliConfig ?? process.env.TF_CLI_CONFIG_FILE ?? "", env: ctx.tfEnv });
      log.line(formatSummary(summary));
      say(`  ${stack.name.padEnd(32)} ${isEmpty(summary) ? "in step" : `DRIFT: ${summary.changes.length} resource(s) differ`}${summary.drifted.length ? ` (changed outside Terraform: ${summary.drifted.join(", ")})` : ""}`);
      if (!isEmpty(summary)) found.push(summary);
    } catch (err) {
      say(`  ${stack.name.padEnd(32)} FAILED  (${log.shown})`);
      throw log.failed(err);
    }
  }
  const out = planDir(ctx.env.name);
  mkdirSync(out, { recursive: true });
  const report = found.length
    ? `### Drift in \`${ctx.env.name}\`\n\n${found.length} of ${stacks.length} stack(s) differ from the code at ${gitCommit().commit.slice(0, 12)}. Apply the code again (make plan, review, make apply-plan) or change the code to match.\n\n\`\`\`\n${found.map(formatSummary).join("\n")}\n\`\`\`\n`
    : "";
  writeFileSync(join(out, "drift.md"), report);
  if (found.length) {
    throw new ToolError(
      `${ctx.env.name} has drifted: ${found.length} of ${stacks.length} stack(s) differ from the code, listed below (also in ${relative(REPO_ROOT, join(out, "drift.md"))}). ` +
        `Someone changed them outside Terraform, or code was merged but not applied: apply the code again (make plan, review, make apply-plan) or change the code to match.\n${found.map(formatSummary).join("\n")}`,
    );
  }
  say(`\nNo drift: every one of the ${stacks.length} stack(s) of ${ctx.env.name} matches the code.`);
}

/**
 * `make upgrade ENVIRONMENT=<env> [WORKLOAD=<name>]`: per cluster (the C&C first), the control
 * plane, its add-ons, its node groups, then the rest of its AWS phase and its Kubernetes phase
 * (scripts/lib/upgrade.ts). Prints what it will do, runs the offline upgrade checks' version rule
 * against what runs, asks, then shows and applies each step's saved plan and waits for EKS to
 * report it ACTIVE before the next.
 */
async function upgrade(ctx: Context, stacks: SynthesizedStack[], workload?: string): Promise<void> {
  const eks = ctx.eks!;
  const byName = new Map(stacks.map((s) => [s.name, s]));
  const plan = upgradePlan(ctx.env, (n) => byName.get(n)?.json, workload);
  const running: Record<string, string | undefined> = {};
  for (const c of plan) {
    running[c.cluster] = await eks.send(new DescribeClusterCommand({ name: c.cluster })).then(
      (r) => r.cluster?.version,
      (err: Error) => (err.name === "ResourceNotFoundException" ? undefined : Promise.reject(err)),
    );
    const problem = await versionStepProblem(eks, c.cluster, c.version);
    if (problem) throw new ToolError(problem);
  }
  say(`\nmake upgrade on ${ctx.env.name}, in this order:\n${describePlan(plan, running)}`);
  if (!(await confirm(`Run these steps on account ${ctx.env.accountId}? Each step's plan is shown before it is applied.`))) {
    say("Nothing was changed.");
    return;
  }
  const wait = { timeoutMs: 90 * 60_000, intervalMs: 30_000, log: (l: string) => say(`  ${l}`) };
  const cli = ctx.cliConfig ?? process.env.TF_CLI_CONFIG_FILE ?? "";
  for (const c of plan) {
    say(`\n==> ${c.cluster}`);
    const aws = byName.get(c.awsStack)!;
    for (const step of c.steps.slice(0, 3)) {
      if (!step.targets.length) continue;
      const log = new StepLog(ctx.env, `${aws.name}.upgrade-${step.kind.replace(/ /g, "-")}`);
      try {
        await preflight(ctx, aws, log.line);
        await initStack(ctx, aws, aws.dir);
        const out = join(planDir(ctx.env.name), "upgrade");
        const name = `${aws.name}.${step.kind.replace(/ /g, "-")}`;
        const { summary } = await savePlan({ stack: aws.name, name, dir: aws.dir, config: readFileSync(join(aws.dir, "cdk.tf.json"), "utf8"), out, cliConfig: cli, env: ctx.tfEnv, targets: step.targets, log: (l) => l.trim() && log.line(l) });
        if (isEmpty(summary)) {
          say(`  ${step.kind}: no changes`);
        } else {
          say(`  ${step.kind}:\n${formatSummary(summary).replace(/^/gm, "    ")}`);
          if (!(await confirm(`Apply the ${step.kind} step of ${c.cluster}?`))) throw new ToolError(`The ${step.kind} step of ${c.cluster} was not approved; nothing after it ran. Run make upgrade again to continue.`);
          await applySavedPlan({ stack: aws.name, dir: aws.dir, file: join(out, `${name}.tfplan`), cliConfig: cli, env: ctx.tfEnv, log: (l) => l.trim() && log.line(l) });
        }
        if (step.kind === "control plane") await waitForCluster(eks, c.cluster, c.version, wait);
        if (step.kind === "add-ons") {
          const names = Object.values<any>(aws.json.resource?.aws_eks_addon ?? {}).map((a) => a.addon_name as string);
          await waitForAddons(eks, c.cluster, names, wait);
        }
        if (step.kind === "node groups") await waitForNodegroups(eks, c.cluster, c.version, wait);
        say(`  ${step.kind}: ACTIVE${step.kind === "add-ons" ? "" : ` at ${c.version}`}  (${log.shown})`);
      } catch (err) {
        say(`  ${step.kind}: FAILED  (${log.shown})`);
        throw log.failed(err);
      }
    }
    // The rest of the AWS phase, then the Kubernetes phase (plan shown, asked, applied exactly).
    for (const name of [c.awsStack, c.kubernetesStack]) {
      const stack = byName.get(name);
      if (stack) await applyStack(ctx, stack);
    }
  }
  say(`\nUpgrade done: ${plan.map((c) => `${c.cluster} at ${c.version}`).join(", ")}.`);
}

async function main(): Promise<void> {
  const [command, target = "all"] = process.argv.slice(2);
  const envName = process.env.ENVIRONMENT?.trim() || "local";
  if (command === "local-down") {
    const stopped = await stopEmulator(envName);
    say(stopped ? `Stopped the local AWS emulator of ${envName}.` : `No local AWS emulator of ${envName} is running.`);
    return;
  }
  if (!["apply", "destroy", "diff", "plan", "apply-plan", "drift", "upgrade", "register", "decommission", "restore-db"].includes(command)) {
    throw new ToolError(`Unknown command "${command}": use apply, destroy, diff, plan, apply-plan, drift, upgrade, register, decommission, restore-db or local-down.`);
  }

  // ENVIRONMENTS_DIR points the driver (like the app) at another folder of environments.
  const root = process.env.ENVIRONMENTS_DIR || undefined;
  const [env] = loadEnvironments({ only: envName, root });
  const emulated = env.target === "emulator";
  // Before anything else: an apply on a real account shows each stack's plan and asks, so it needs a
  // terminal, or AUTO_APPROVE=1 (then the plan is still shown, saved and applied exactly).
  if (!emulated && ["apply", "apply-plan", "destroy", "upgrade", "decommission", "restore-db"].includes(command)) refuseWithoutTerminal(env, command, target);
  // A malformed, future or already used TIME is refused before any AWS call.
  const restore = command === "restore-db" ? nextRestore(env, parseRestoreTime(process.env.TIME)) : undefined;
  if (command === "decommission") {
    decommissionGuard(env, target);
    if (emulated && !(await runningEmulator(env.name))) {
      say(`No local AWS emulator of ${env.name} is running, so workload ${target} does not exist there: run \`KEEP_EMULATOR=1 make all ENVIRONMENT=${env.name}\` first.`);
      return;
    }
  }
  if (emulated && command === "upgrade") {
    throw new ToolError(
      `make upgrade runs against a real account: the local AWS emulator (moto) implements neither EKS UpdateClusterVersion nor UpdateNodegroupVersion nor add-ons, so an upgrade cannot be rehearsed on ${env.name}. ` +
        `Check one offline with make upgrade-check ENVIRONMENT=${env.name} TO=<minor>.`,
    );
  }
  if (command === "destroy" && !emulated) destroyGuard(env, target, root);
  if (emulated && ["diff", "plan", "apply-plan", "drift", "restore-db"].includes(command)) await refuseDiffWithoutKeptEmulator(env, target, command);
  if (emulated && command === "destroy" && !(await runningEmulator(env.name))) {
    // Nothing to plan or synthesize: the emulator that held the resources is gone.
    const dir = join(REPO_ROOT, ".state", env.name);
    clearStaleEmulatorState(env, existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".tfstate")).map((f) => f.slice(0, -".tfstate".length)) : []);
    say(
      `No local AWS emulator of ${env.name} is running, so nothing of ${env.name} exists to destroy: moto keeps nothing on disk, and ` +
        `\`make all\` stops the emulator it starts unless KEEP_EMULATOR=1 (then \`make destroy\` deletes every resource for real).`,
    );
    return;
  }
  const version = checkTerraform();
  const ctx: Context = { env, emulated, tfEnv: {}, command };
  if (emulated) {
    ctx.cliConfig = writeCliConfig(findProviderMirror());
  } else {
    if (process.env.TF_PROVIDER_MIRROR) ctx.cliConfig = writeCliConfig(findProviderMirror());
    ctx.callerArn = await checkAwsCredentials(env);
    ctx.secrets = new SecretsManagerClient({ region: env.region });
    ctx.iam = new IAMClient({ region: env.region });
    ctx.eks = new EKSClient({ region: env.region });
    ctx.elb = new ElasticLoadBalancingV2Client({ region: env.region });
    ctx.route53 = new Route53Client({ region: env.region });
    ctx.rds = new RDSClient({ region: env.region });
    ctx.s3 = new S3Client({ region: env.region });
  }
  say(`environment ${env.name} (${env.target}, ${env.region}), terraform ${version}`);

  // Decommissioning synthesizes the environment with that one workload's data protection lifted.
  const stacks =
    command === "decommission"
      ? synthesizeEnvironments([{ ...env, workloads: env.workloads.map((w) => (w.name === target ? { ...w, dataProtection: false } : w)) }], join(REPO_ROOT, "cdktf.out"))
      : synthesize({ outdir: join(REPO_ROOT, "cdktf.out"), only: env.name, root });
  const selected = ["register", "upgrade", "decommission", "restore-db"].includes(command) ? [] : selectStacks(env, stacks, target);
  // A local backend override of bootstrap is written by this driver for one step and removed after
  // it; one left by a run that stopped half-way must not silently switch a later plan to local state.
  const bootstrapStack = stacks.find((s) => s.name === `${env.name}-bootstrap`);
  if (!emulated && bootstrapStack && removeLocalOverride(bootstrapStack.dir)) say(`${bootstrapStack.name}: removed the local backend override a run that stopped half-way left (each run decides where bootstrap's state is).`);

  if (emulated) {
    const before = await runningEmulator(env.name);
    if (!before) clearStaleEmulatorState(env, stacks.map((s) => s.name));
    ctx.emulator = before ?? (await ensureEmulator(env.name));
    ctx.tfEnv = emulatorEnv(ctx.emulator, env.region);
    const local = { region: env.region, endpoint: ctx.emulator.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } };
    ctx.emulatorAws = local;
    ctx.rds = new RDSClient(local);
    ctx.secrets = new SecretsManagerClient(local);
    ctx.iam = new IAMClient(local);
    ctx.eks = new EKSClient(local);
    ctx.route53 = new Route53Client(local);
    say(`local AWS emulator: ${ctx.emulator.endpoint} (${ctx.emulator.started ? "started by this run" : "already running"})`);
  }

  const reports: StackReport[] = [];
  try {
    if (command === "register") {
      await registerStep(ctx, target === "all" ? undefined : target);
      return;
    }
    if (command === "upgrade") {
      await upgrade(ctx, stacks, target === "all" ? undefined : target);
      return;
    }
    if (command === "decommission") {
      await decommission(ctx, stacks, target);
      return;
    }
    if (command === "restore-db") {
      await restoreDb(ctx, restore!, root ?? DEFAULT_ENVIRONMENTS_DIR);
      return;
    }
    if (command === "plan" || command === "apply-plan" || command === "drift") {
      const stacksToUse = await withBootstrapStateInBucket(ctx, selected, target);
      if (command === "plan") await planStacks(ctx, stacksToUse);
      else if (command === "apply-plan") await applyPlans(ctx, stacksToUse);
      else await drift(ctx, stacksToUse);
      return;
    }
    if (command === "diff") {
      for (const stack of await withBootstrapStateInBucket(ctx, selected, target)) {
        const tag = `[${stack.name}] `;
        await preflight(ctx, stack);
        const { dir, heldBack } = prepare(stack, emulated);
        for (const h of heldBack) say(`${tag}held back: ${h.address} (${h.reason})`);
        const cli = ctx.cliConfig ?? process.env.TF_CLI_CONFIG_FILE ?? "";
        const init = await terraform(initArgs(ctx, stack), dir, cli, ctx.tfEnv);
        if (init.code !== 0) throw new ToolError(`terraform init failed for ${stack.name}:\n${explainFailure(init.stderr, emulated)}`);
        const plan = await terraform(["plan", "-input=false", "-no-color", "-lock=false"], dir, cli, ctx.tfEnv, (l) => say(`${tag}${l}`));
        if (plan.code !== 0) throw new ToolError(`The plan of ${stack.name} failed:\n${explainFailure(plan.stderr, emulated)}`);
      }
      return;
    }
    if (command === "destroy") {
      const order = [...selected].reverse();
      if (!(await confirm(`This destroys ${order.map((s) => s.name).join(", ")} in environment ${env.name}.`))) {
        say("Nothing was destroyed.");
        return;
      }
      const destroyOne = (stack: SynthesizedStack) => (isRealBootstrap(ctx, stack) ? destroyBootstrap(ctx, stack, reports) : destroyStack(ctx, stack, reports));
      const { first: route53, chains: workloads, last: layers } = destroySequence(env.name, selected);
      for (const stack of route53) await destroyOne(stack);
      await mapLimit(workloads, emulated ? 1 : 2, async (chain) => {
        for (const stack of chain) await destroyOne(stack);
      });
      for (const stack of layers) await destroyOne(stack);
      table(reports.map((r) => ({ ...r, applied: Math.abs(r.applied) })), "destroyed");
      say(`\nEvery stack of ${env.name} is destroyed; no resources are left in its state.`);
      return;
    }

    // apply
    // The clusters this apply may create: the C&C with the cluster layer, each workload with its AWS phase.
    const clusters = [
      ...(selected.some((s) => s.name === `${env.name}-cluster`) ? [cncClusterName(env)] : []),
      ...env.workloads.filter((w) => selected.some((s) => s.name === `${env.name}-workload-${w.name}`)).map((w) => workloadClusterName(env, w.name)),
    ];
    if (!emulated && clusters.length) await quotaPreflight(env, clusters);
    if (!emulated) say(`\nEach stack is planned, its plan shown${process.env.AUTO_APPROVE === "1" ? " and applied exactly (AUTO_APPROVE=1)" : ", and applied exactly as shown once you approve it"}; saved plans in ${relative(REPO_ROOT, planDir(env.name))}/applied/.`);
    // bootstrap, cluster and post-install go in order; then the workload chains; route53 last.
    const { first: layers, chains: workloads, last: route53 } = deploySequence(env.name, selected);
    if (!VERBOSE) say(`\nApplying ${selected.length} stack(s); one line as each is done, its full output in .state/${env.name}/logs/<stack>.log (VERBOSE=1 prints it here).`);
    for (const stack of layers) {
      if (isRealBootstrap(ctx, stack)) {
        const report = await applyBootstrap(ctx, stack, target);
        if (report) reports.push(report);
        continue;
      }
      reports.push(await applyStack(ctx, stack));
      if (emulated && stack.name === `${env.name}-bootstrap`) await fillRehearsalSecrets(ctx, stacks);
    }
    // Workload chains side by side (two at a time on AWS; one at a time on the emulator, where
    // concurrent RDS creations lose instances), then route53, which names what they made.
    const interactive = !emulated && process.env.AUTO_APPROVE !== "1";
    const chains = await mapLimit(workloads, emulated || interactive ? 1 : 2, async (chain) => {
      const done: StackReport[] = [];
      for (const stack of chain) done.push(await applyStack(ctx, stack));
      return done;
    });
    reports.push(...chains.flat());
    for (const stack of route53) reports.push(await applyStack(ctx, stack));

    if (emulated) {
      const drift: string[] = [];
      const plans = await mapLimit(selected, 2, (stack) => replan(ctx, stack));
      selected.forEach((stack, i) => drift.push(...plans[i].map((c) => `${stack.name}: ${c}`)));
      if (drift.length) throw new ToolError(`The second plan is not empty, so applying is not idempotent:\n${drift.map((d) => `  - ${d}`).join("\n")}`);
      say(`  ${"idempotency".padEnd(32)} a second plan of each of the ${selected.length} stacks shows no changes`);
      const cluster = stacks.find((s) => s.name === `${env.name}-cluster`);
      if (cluster && target === "all") await serviceDryRuns(ctx, cluster);
    }
    if (target === "all" || target === "workloads") await registerStep(ctx);
    table(reports);
    const held = reports.reduce((n, r) => n + r.heldBack, 0);
    if (held) say(`\n${held} resources were held back (each listed with its reason in its stack's log); everything else was applied.`);
    say(`Full output of every stack (its plan and apply): ${relative(REPO_ROOT, join(REPO_ROOT, ".state", env.name, "logs"))}/<stack>.log${VERBOSE ? "" : " (VERBOSE=1 prints it here too)"}`);
  } finally {
    if (ctx.emulator?.started && process.env.KEEP_EMULATOR !== "1") {
      await stopEmulator(env.name, ctx.emulator);
      say(`\nStopped the local AWS emulator this run started (KEEP_EMULATOR=1 keeps it running for inspection or a real destroy).`);
    } else if (ctx.emulator?.started) {
      say(`\nThe local AWS emulator keeps running at ${ctx.emulator.endpoint}; \`make destroy\` or \`make local-down\` stops it.`);
    }
    // A destroy of one stack (STACK=...) leaves the kept emulator running for the others.
    if (command === "destroy" && emulated && target === "all" && !ctx.emulator?.started) {
      await stopEmulator(env.name);
    }
  }
}

main().catch((err) => {
  if (err instanceof ToolError || err instanceof EnvironmentError || err instanceof MissingBundleError) {
    process.stderr.write(`\nError: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
