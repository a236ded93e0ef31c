/**
 * Bootstrap's own state on a real account (scripts/lib/bootstrap-state.ts), with the real Terraform
 * CLI and its S3 backend against moto: a small configuration shaped like the bootstrap stack (an S3
 * backend naming the bucket, one key, encrypt, use_lockfile) whose resources are `terraform_data`,
 * which needs no provider. The bucket is created by the SDK, standing in for the stack's apply.
 */
import { CreateBucketCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createServer, type Server } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  LOCAL_BACKEND_OVERRIDE,
  bucketsNotEmpty,
  emptyBucketsMessage,
  locateState,
  migrateToBucket,
  pullToDisk,
  stateBucketExists,
  stateElsewhereMessage,
  useBucketState,
  useLocalState,
  type BootstrapState,
} from "../../scripts/lib/bootstrap-state";
import { ToolError, terraform } from "../../scripts/lib/terraform";
import { clientOptions, startMoto, type Moto } from "../support/moto";

let moto: Moto;
let s3: S3Client;
let cliConfig: string;
let serial = 0;

beforeAll(async () => {
  moto = await startMoto();
  s3 = new S3Client({ ...clientOptions(moto), forcePathStyle: true });
  cliConfig = join(mkdtempSync(join(tmpdir(), "bootstrap-state-cli-")), "terraformrc");
  writeFileSync(cliConfig, "disable_checkpoint = true\n");
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  await moto?.stop();
});

/** A working directory like cdktf.out/stacks/t-bootstrap, with its own bucket and .state folder. */
function target(resources = ["key", "bucket"]): BootstrapState & { lines: string[]; root: string } {
  const root = mkdtempSync(join(tmpdir(), "bootstrap-state-"));
  const dir = join(root, "cdktf.out", "stacks", "t-bootstrap");
  mkdirSync(dir, { recursive: true });
  const bucket = `t-tfstate-${++serial}-${Date.now()}`;
  writeFileSync(
    join(dir, "cdk.tf.json"),
    JSON.stringify({
      terraform: { backend: { s3: { bucket, key: "t/t-bootstrap.tfstate", region: "us-east-1", encrypt: true, use_lockfile: true } } },
      resource: { terraform_data: Object.fromEntries(resources.map((r) => [r, { input: r }])) },
    }),
  );
  const lines: string[] = [];
  return {
    root,
    lines,
    environment: "t",
    stack: "t-bootstrap",
    s3,
    bucket,
    key: "t/t-bootstrap.tfstate",
    localFile: join(root, ".state", "t", "t-bootstrap.tfstate"),
    localShown: ".state/t/t-bootstrap.tfstate",
    dir,
    cliConfig,
    tfEnv: { AWS_EC2_METADATA_DISABLED: "true" },
    backendConfig: {
      endpoints: { s3: moto.endpoint },
      use_path_style: true,
      skip_credentials_validation: true,
      skip_requesting_account_id: true,
      skip_metadata_api_check: true,
      skip_region_validation: true,
      access_key: "test",
      secret_key: "test",
    },
    log: (l) => lines.push(l),
    now: () => new Date("2026-12-05T12:00:36.123Z"),
  };
}

async function tf(t: BootstrapState, args: string[]) {
  const res = await terraform(args, t.dir, t.cliConfig, t.tfEnv);
  if (res.code !== 0 && res.code !== 2) throw new Error(`terraform ${args.join(" ")}: ${res.stderr}`);
  return res;
}

async function objectExists(t: BootstrapState): Promise<boolean> {
  return s3.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key })).then(
    () => true,
    () => false,
  );
}

async function bucketResources(t: BootstrapState): Promise<string[]> {
  const body = await (await s3.send(new GetObjectCommand({ Bucket: t.bucket, Key: t.key }))).Body!.transformToString();
  return (JSON.parse(body) as { resources: { type: string; name: string }[] }).resources.map((r) => `${r.type}.${r.name}`).sort();
}

/** What the stack's apply makes: a versioned bucket (here made by the SDK). */
async function createStateBucket(bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }));
}

async function emptyBucket(bucket: string): Promise<void> {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
  if (objects.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }));
}

describe("bootstrap state on a real account (Terraform's S3 backend against moto)", () => {
  it("first run without a bucket: applies with local state, then moves it into the bucket, checks it there and keeps the local file renamed; a second run moves nothing", async () => {
    const t = target();
    expect(await locateState(t)).toEqual({ bucketExists: false, inBucket: false, onDisk: false });

    // The first apply: the bucket does not exist, so the stack runs with a local backend override.
    await useLocalState(t);
    expect(existsSync(join(t.dir, LOCAL_BACKEND_OVERRIDE))).toBe(true);
    await tf(t, ["apply", "-auto-approve", "-input=false", "-no-color"]);
    expect(existsSync(t.localFile)).toBe(true);
    // ...which creates the bucket (here the SDK stands in for the stack's aws_s3_bucket).
    await createStateBucket(t.bucket);

    expect(await locateState(t)).toEqual({ bucketExists: true, inBucket: false, onDisk: true });
    const moved = await migrateToBucket(t);

    expect(moved.resources).toEqual(["terraform_data.bucket", "terraform_data.key"]);
    expect(await objectExists(t)).toBe(true);
    expect(await bucketResources(t)).toEqual(["terraform_data.bucket", "terraform_data.key"]);
    // Renamed, never deleted; the override is gone, so the working directory now uses the bucket.
    expect(existsSync(t.localFile)).toBe(false);
    expect(moved.archived).toBe(`${t.localFile}.migrated-2026-12-05T12-00-36Z`);
    expect(JSON.parse(readFileSync(moved.archived, "utf8")).resources).toHaveLength(2);
    expect(existsSync(join(t.dir, LOCAL_BACKEND_OVERRIDE))).toBe(false);
    expect(t.lines).toEqual([
      "state 1/4: reading the local state .state/t/t-bootstrap.tfstate",
      `state 2/4: copying it into s3://${t.bucket}/t/t-bootstrap.tfstate (terraform init -migrate-state -force-copy; 2 resources)`,
      `state 3/4: checking s3://${t.bucket}/t/t-bootstrap.tfstate exists and lists the same 2 resources through the S3 backend`,
      "state 4/4: t-bootstrap's state is in s3://" + t.bucket + "/t/t-bootstrap.tfstate; the local file is kept, renamed t-bootstrap.tfstate.migrated-2026-12-05T12-00-36Z",
    ]);

    // Second run: the state is in the bucket and nowhere else, so nothing moves, and a plan
    // through the S3 backend sees both resources (no changes).
    expect(await locateState(t)).toEqual({ bucketExists: true, inBucket: true, onDisk: false });
    await useBucketState(t);
    const plan = await tf(t, ["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    expect(plan.code).toBe(0);
    expect(readdirSync(join(t.root, ".state", "t")).filter((f) => f.includes(".migrated-"))).toHaveLength(1);
  }, 120_000);

  it("moves a local state an earlier version left (its own local backend, the bucket already made) into the bucket", async () => {
    const t = target(["secret"]);
    // The earlier version: the stack itself named a local backend at a relative path.
    const config = JSON.parse(readFileSync(join(t.dir, "cdk.tf.json"), "utf8"));
    const legacy = { ...config, terraform: { backend: { local: { path: "../../../.state/t/t-bootstrap.tfstate" } } } };
    writeFileSync(join(t.dir, "cdk.tf.json"), JSON.stringify(legacy));
    await tf(t, ["init", "-input=false", "-no-color"]);
    await tf(t, ["apply", "-auto-approve", "-input=false", "-no-color"]);
    await createStateBucket(t.bucket);
    // This version synthesizes the S3 backend; the working directory still remembers the local one.
    writeFileSync(join(t.dir, "cdk.tf.json"), JSON.stringify(config));

    expect(await locateState(t)).toEqual({ bucketExists: true, inBucket: false, onDisk: true });
    await migrateToBucket(t);
    expect(await bucketResources(t)).toEqual(["terraform_data.secret"]);
    expect(existsSync(t.localFile)).toBe(false);
    expect(await locateState(t)).toEqual({ bucketExists: true, inBucket: true, onDisk: false });
  }, 120_000);

  it("refuses when the bucket's object and a local file both exist, and says how to choose; when neither exists but the bucket does, says where the state may be", async () => {
    const t = target();
    await createStateBucket(t.bucket);
    expect(await locateState(t)).toEqual({ bucketExists: true, inBucket: false, onDisk: false });
    expect(stateElsewhereMessage(t)).toMatch(/exists but holds no state of t-bootstrap .* run make bootstrap ENVIRONMENT=t on that machine, which moves it into the bucket/);

    await s3.send(new PutObjectCommand({ Bucket: t.bucket, Key: t.key, Body: JSON.stringify({ version: 4, serial: 3, lineage: "a", resources: [] }) }));
    mkdirSync(join(t.root, ".state", "t"), { recursive: true });
    writeFileSync(t.localFile, JSON.stringify({ version: 4, serial: 1, lineage: "b", resources: [] }));
    const refusal = await locateState(t).catch((e: Error) => e);
    expect(refusal).toBeInstanceOf(ToolError);
    expect((refusal as Error).message).toMatch(
      new RegExp(`^t-bootstrap has state in two places, s3://${t.bucket}/t/t-bootstrap\\.tfstate and \\.state/t/t-bootstrap\\.tfstate, and this tool does not guess which is right\\. Compare them`),
    );
    expect((refusal as Error).message).toMatch(/rename the local file .* delete the bucket's object .* Nothing was changed\.$/);
    // Nothing was touched.
    expect(existsSync(t.localFile)).toBe(true);
    expect(await objectExists(t)).toBe(true);
  }, 60_000);

  it("stops with what to do when HeadBucket answers 403, or fails otherwise; 404 is a bucket to create", async () => {
    let answer = 403;
    const server: Server = createServer((_req, res) => {
      res.statusCode = answer;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    const denied = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    try {
      const forbidden = await stateBucketExists(denied, "cloud-t-tfstate", "t").catch((e: Error) => e);
      expect(forbidden).toBeInstanceOf(ToolError);
      expect((forbidden as Error).message).toBe(
        "The state bucket cloud-t-tfstate of t answers 403 Forbidden, so this tool cannot tell whether it exists or holds bootstrap's state. " +
          "Either a bucket of that name belongs to another AWS account (bucket names are global: choose another stateBucket in environments/t/environment.ts), " +
          "or your credentials lack s3:ListBucket on it (use a role from cluster.adminPrincipalArns, as bootstrap needs). Nothing was changed.",
      );
      answer = 500;
      expect(((await stateBucketExists(denied, "cloud-t-tfstate", "t").catch((e: Error) => e)) as Error).message).toMatch(/^Could not tell whether the state bucket cloud-t-tfstate of t exists \(HeadBucket failed with .*500/);
      answer = 404;
      expect(await stateBucketExists(denied, "cloud-t-tfstate", "t")).toBe(false);
    } finally {
      denied.destroy();
      server.close();
    }
    // moto: a bucket that does not exist is 404, one that does is there.
    expect(await stateBucketExists(s3, "no-such-state-bucket", "t")).toBe(false);
  }, 30_000);

  it("before a destroy, pulls the state out of the bucket into the local file, and the destroy then runs with local state once the bucket is empty", async () => {
    const t = target();
    await useLocalState(t);
    await tf(t, ["apply", "-auto-approve", "-input=false", "-no-color"]);
    await createStateBucket(t.bucket);
    await migrateToBucket(t);
    t.lines.length = 0;

    const pulled = await pullToDisk(t);
    expect(pulled.resources).toEqual(["terraform_data.bucket", "terraform_data.key"]);
    expect(JSON.parse(readFileSync(t.localFile, "utf8")).resources).toHaveLength(2);
    // One live copy: the bucket's object is deleted (a version stays until the bucket is emptied).
    expect(await objectExists(t)).toBe(false);
    expect(await locateState(t)).toEqual({ bucketExists: true, inBucket: false, onDisk: true });
    expect(t.lines[3]).toBe("state 4/4: t-bootstrap's state is in .state/t/t-bootstrap.tfstate (the one live copy); the bucket's object is deleted (its version stays recoverable until the bucket goes)");

    // The bucket still holds versions: refused with the commands that empty it.
    expect(await bucketsNotEmpty(s3, [t.bucket, "no-such-bucket"])).toEqual([t.bucket]);
    const message = emptyBucketsMessage(t, [t.bucket]);
    expect(message).toMatch(/Its state is now on this machine \(\.state\/t\/t-bootstrap\.tfstate\): keep that file/);
    expect(message).toContain(`aws s3api delete-objects --bucket ${t.bucket} --delete`);
    expect(message).toMatch(/make destroy ENVIRONMENT=t CONFIRM=t STACK=bootstrap\. Nothing of t-bootstrap was destroyed\.$/);
    // The access-log bucket is emptied right before: it keeps receiving the state bucket's logs.
    expect(emptyBucketsMessage(t, [t.bucket], ["t-access-logs"])).toMatch(/, t-access-logs too, right before the destroy: it receives the state bucket's access logs until that bucket is gone.*\n.*\n {2}aws s3api delete-objects --bucket t-access-logs /);
    await emptyBucket(t.bucket);
    expect(await bucketsNotEmpty(s3, [t.bucket])).toEqual([]);

    // The working directory is on the local state now: destroy empties it.
    expect(existsSync(join(t.dir, LOCAL_BACKEND_OVERRIDE))).toBe(true);
    await tf(t, ["destroy", "-auto-approve", "-input=false", "-no-color"]);
    expect(JSON.parse(readFileSync(t.localFile, "utf8")).resources).toEqual([]);
  }, 120_000);
});
