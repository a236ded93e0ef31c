/**
 * Saved plans and drift (scripts/lib/saved-plans.ts) with the real Terraform CLI and AWS provider
 * against moto: the summary counts what Terraform counts and calls out destroys and replacements;
 * exactly the saved plan is applied; a plan whose state moved on, from another commit, or of
 * changed code is refused; an out-of-band change is reported as drift.
 */
import { CreateTagsCommand, DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findProviderMirror, terraform, writeCliConfig } from "../../scripts/lib/terraform";
import { applySavedPlan, driftOf, formatSummary, isEmpty, markdownSummary, planRefusal, savePlan, type PlanManifest } from "../../scripts/lib/saved-plans";
import { clientOptions, freePort, startMoto, type Moto } from "../support/moto";
import { spawnSync } from "node:child_process";

jest.setTimeout(240_000);

let moto: Moto;
let cli: string;
let work: string;
let ec2: EC2Client;

/** A stack of VPCs; `second` moves the second's block (a replacement), `tag` changes a tag (an update), `third` adds one. */
function config(opts: { tag: string; second?: string; third?: boolean }): string {
  const vpc = (cidr: string, name: string) => ({ cidr_block: cidr, tags: { Name: name, Team: opts.tag } });
  return JSON.stringify({
    terraform: { required_providers: { aws: { source: "hashicorp/aws", version: "5.100.0" } }, backend: { local: { path: join(work, "terraform.tfstate") } } },
    provider: { aws: [{ region: "us-east-1", skip_credentials_validation: true, skip_requesting_account_id: true, skip_metadata_api_check: "true" }] },
    resource: {
      aws_vpc: {
        first: vpc("10.1.0.0/16", "plans-first"),
        second: vpc(opts.second ?? "10.2.0.0/16", "plans-second"),
        ...(opts.third ? { third: vpc("10.3.0.0/16", "plans-third") } : {}),
      },
    },
  });
}

function write(text: string): string {
  writeFileSync(join(work, "cdk.tf.json"), text);
  return text;
}

const env = () => moto.env;
const manifestOf = (_text: string, record: { planSha256: string; configSha256: string; add: number; change: number; destroy: number }, commit = "a".repeat(40)): PlanManifest => ({
  environment: "t",
  commit,
  dirty: false,
  created: new Date().toISOString(),
  stacks: { "t-stack": { file: "t-stack.tfplan", ...record } },
});

beforeAll(async () => {
  moto = await startMoto();
  ec2 = new EC2Client(clientOptions(moto));
  cli = writeCliConfig(findProviderMirror());
  work = mkdtempSync(join(tmpdir(), "saved-plans-"));
  write(config({ tag: "one", third: true }));
  const init = await terraform(["init", "-input=false", "-no-color"], work, cli, env());
  expect(init.stderr).toBe("");
});

afterAll(async () => {
  ec2?.destroy();
  await moto?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("saved plans against the emulator", () => {
  const out = () => join(work, "plans");

  it("summarizes a first plan as Terraform counts it, and applying the saved plan creates exactly that", async () => {
    const text = write(config({ tag: "one", third: true }));
    const { summary, record } = await savePlan({ stack: "t-stack", dir: work, config: text, out: out(), cliConfig: cli, env: env() });
    expect(summary).toMatchObject({ add: 3, change: 0, destroy: 0, replaced: [], destroyed: [] });
    expect(summary.changes.map((c) => `${c.action} ${c.address}`).sort()).toEqual(["create aws_vpc.first", "create aws_vpc.second", "create aws_vpc.third"]);
    expect(readFileSync(join(out(), "t-stack.txt"), "utf8")).toMatch(/^t-stack: 3 to add, 0 to change, 0 to destroy/);
    expect(planRefusal(manifestOf(text, record), "t-stack", { environment: "t", checkout: { commit: "a".repeat(40), dirty: false }, config: text, planDir: out(), requireCommit: true })).toBeUndefined();
    await applySavedPlan({ stack: "t-stack", dir: work, file: join(out(), "t-stack.tfplan"), cliConfig: cli, env: env() });
    const again = await driftOf({ stack: "t-stack", dir: work, cliConfig: cli, env: env() });
    expect(isEmpty(again)).toBe(true);
  });

  it("calls out a destroy and a replacement in the summary and in the pull-request comment", async () => {
    const text = write(config({ tag: "two", second: "10.20.0.0/16" }));
    const { summary } = await savePlan({ stack: "t-stack", dir: work, config: text, out: out(), cliConfig: cli, env: env() });
    // first: tag update; second: renamed (replaced); third: gone (destroyed).
    expect(summary).toMatchObject({ add: 1, change: 1, destroy: 2, replaced: ["aws_vpc.second"], destroyed: ["aws_vpc.third"] });
    const text2 = formatSummary(summary);
    expect(text2).toMatch(/DESTROYS \(1\): aws_vpc\.third/);
    expect(text2).toMatch(/REPLACES \(1, destroyed and created again\): aws_vpc\.second/);
    const md = markdownSummary("t", "b".repeat(40), [summary]);
    expect(md).toMatch(/\*\*1 to add, 1 to change, 2 to destroy\*\*/);
    expect(md).toMatch(/> - `t-stack`: destroys `aws_vpc\.third`/);
    expect(md).toMatch(/> - `t-stack`: replaces `aws_vpc\.second`/);
  });

  it("refuses a saved plan whose state moved on (another apply ran), and changes nothing", async () => {
    const text = write(config({ tag: "three", third: true }));
    const { record } = await savePlan({ stack: "t-stack", dir: work, config: text, out: out(), cliConfig: cli, env: env() });
    expect(record.change).toBe(3);
    // Someone applies another change first.
    const other = await terraform(["apply", "-input=false", "-no-color", "-auto-approve"], work, cli, env());
    expect(other.code).toBe(0);
    await expect(applySavedPlan({ stack: "t-stack", dir: work, file: join(out(), "t-stack.tfplan"), cliConfig: cli, env: env() })).rejects.toThrow(
      /The saved plan of t-stack is stale: its state changed after the plan was made .* nothing was changed\. Plan again/,
    );
  });

  it("refuses a plan from another commit, from uncommitted changes, of changed code, or a swapped plan file, before Terraform runs", async () => {
    const text = write(config({ tag: "four", third: true }));
    const { record } = await savePlan({ stack: "t-stack", dir: work, config: text, out: out(), cliConfig: cli, env: env() });
    const manifest = manifestOf(text, record);
    const base = { environment: "t", checkout: { commit: "a".repeat(40), dirty: false }, config: text, planDir: out(), requireCommit: true };
    expect(planRefusal(manifest, "t-stack", { ...base, checkout: { commit: "c".repeat(40), dirty: false } })).toMatch(/made at commit aaaaaaaaaaaa, and this checkout is at cccccccccccc: the code moved on/);
    expect(planRefusal({ ...manifest, dirty: true }, "t-stack", base)).toMatch(/made from uncommitted changes/);
    expect(planRefusal(manifest, "t-stack", { ...base, checkout: { ...base.checkout, dirty: true } })).toMatch(/This checkout has uncommitted changes/);
    expect(planRefusal(manifest, "t-stack", { ...base, config: config({ tag: "five", third: true }) })).toMatch(/is not the one its saved plan was made from/);
    expect(planRefusal(manifest, "t-stack", { ...base, environment: "u" })).toMatch(/are for environment t, not u/);
    expect(planRefusal(manifest, "other", base)).toMatch(/There is no saved plan of other/);
    writeFileSync(join(out(), "t-stack.tfplan"), "not the reviewed plan");
    expect(planRefusal(manifest, "t-stack", base)).toMatch(/is not the one that was reviewed/);
  });

  it("reports an out-of-band change as drift, naming the resource", async () => {
    write(config({ tag: "three", third: true }));
    expect(isEmpty(await driftOf({ stack: "t-stack", dir: work, cliConfig: cli, env: env() }))).toBe(true);
    const { Vpcs } = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "tag:Name", Values: ["plans-first"] }] }));
    expect(Vpcs).toHaveLength(1);
    await ec2.send(new CreateTagsCommand({ Resources: [Vpcs![0].VpcId!], Tags: [{ Key: "Team", Value: "changed-by-hand" }] }));
    const drift = await driftOf({ stack: "t-stack", dir: work, cliConfig: cli, env: env() });
    expect(isEmpty(drift)).toBe(false);
    expect(drift.changes).toEqual([{ address: "aws_vpc.first", action: "update" }]);
    expect(drift.drifted).toContain("aws_vpc.first");
  });
});

describe("applying a real environment without a terminal", () => {
  const REPO = join(__dirname, "..", "..");
  it("is refused before any AWS call unless AUTO_APPROVE=1 (not Terraform's 'error asking for approval: EOF' half-way)", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const env = { ...process.env, ENVIRONMENT: "staging", AUTO_APPROVE: "", AWS_ENDPOINT_URL: closed, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "" };
    for (const [command, target] of [["apply", "cluster"], ["apply-plan", "all"]]) {
      const run = spawnSync(join(REPO, "node_modules", ".bin", "tsx"), [join(REPO, "scripts", "deploy.ts"), command, target], { cwd: REPO, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/on staging \(a real account\) shows each plan and asks before it applies it, and there is no terminal to ask on\. .*set AUTO_APPROVE=1 .* Nothing was changed\./);
      expect(run.stderr + run.stdout).not.toMatch(/credential|\bSTS\b|GetCallerIdentity|ECONNREFUSED|terraform/i);
    }
  });
});
