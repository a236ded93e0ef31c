/**
 * Where the bootstrap stack's own state lives on a real account, and how it moves.
 *
 * Every stack of a real environment keeps its state in the state bucket (`<env>/<stack>.tfstate`),
 * bootstrap's included, so no state of a real environment lives only on one disk. Bootstrap
 * creates that bucket, which gives it two moments where the bucket cannot hold its state:
 *
 * - its first apply, before the bucket exists: it runs with a local backend override
 *   (`backend_override.tf.json` in the stack's folder, state in `.state/<env>/<stack>.tfstate`),
 *   and the state is then moved into the bucket (`terraform init -migrate-state -force-copy`),
 *   checked there (the object exists; `terraform state list` through the S3 backend lists what the
 *   local state listed), and only then is the local file renamed `.migrated-<time>` (never deleted).
 *   A local state left by an earlier version of this tool, whose bucket has no bootstrap object
 *   yet, is moved the same way.
 * - its destroy, which deletes the bucket: the state is pulled back to that local file first
 *   (`terraform state pull`), checked, and the bucket's object deleted (a versioned bucket keeps it
 *   as a noncurrent version), so that the destroy runs with local state.
 *
 * At any time there is one live copy: the bucket's object or the local file. When both exist
 * nothing guesses which is right: it refuses and says how to compare them.
 *
 * Every function takes its S3 client, the Terraform working directory and any extra S3 backend
 * settings (`backendConfig`: the emulator's endpoint in the tests), so the same code runs against
 * moto with the real Terraform CLI.
 */
import { DeleteObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectVersionsCommand, type S3Client } from "@aws-sdk/client-s3";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ToolError, terraform } from "./terraform";

/** The override file that switches the stack's S3 backend to a local one (Terraform merges `*_override.tf.json`). */
export const LOCAL_BACKEND_OVERRIDE = "backend_override.tf.json";
/** Extra S3 backend settings, passed to every init against the bucket (`-backend-config=<file>`). */
const BACKEND_CONFIG_FILE = "s3.tfbackend";

type BackendValue = string | number | boolean | Record<string, string>;

export interface BootstrapState {
  /** The environment, for messages and commands (`make bootstrap ENVIRONMENT=<environment>`). */
  environment: string;
  /** The bootstrap stack: `<env>-bootstrap`. */
  stack: string;
  s3: S3Client;
  /** The state bucket the stack creates and its S3 backend names. */
  bucket: string;
  /** Its key there: `<env>/<env>-bootstrap.tfstate`. */
  key: string;
  /** The local state file (absolute): `.state/<env>/<env>-bootstrap.tfstate`. */
  localFile: string;
  /** The same, as messages show it (relative to the repository). */
  localShown?: string;
  /** The stack's Terraform working directory (its configuration names the S3 backend). */
  dir: string;
  /** Terraform CLI configuration file ("" for Terraform's default). */
  cliConfig: string;
  /** Environment variables for Terraform. */
  tfEnv?: NodeJS.ProcessEnv;
  /** Settings added to the S3 backend of the configuration (tests: endpoints, path style, test keys). */
  backendConfig?: Record<string, BackendValue>;
  /** Progress, one line per step. */
  log: (line: string) => void;
  /** The clock for the archived file's name. */
  now?: () => Date;
}

/** Where the state is: whether the bucket exists, holds the stack's object, and whether the local file exists. */
export interface StateLocation {
  bucketExists: boolean;
  inBucket: boolean;
  onDisk: boolean;
}

const shown = (t: BootstrapState) => t.localShown ?? t.localFile;
const url = (t: BootstrapState) => `s3://${t.bucket}/${t.key}`;
const status = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const describe = (err: unknown) => `${(err as Error).name}${status(err) ? ` ${status(err)}` : ""}: ${(err as Error).message || "(no message)"}`;

/**
 * Whether the state bucket exists (HeadBucket). 404 is "no"; 403 and every other failure stop with
 * a message saying what to do, because guessing would either apply the first bootstrap against a
 * bucket that exists or look for state in a bucket that does not.
 */
export async function stateBucketExists(s3: S3Client, bucket: string, environment: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (err) {
    if (status(err) === 404 || (err as Error).name === "NotFound" || (err as Error).name === "NoSuchBucket") return false;
    if (status(err) === 403) {
      throw new ToolError(
        `The state bucket ${bucket} of ${environment} answers 403 Forbidden, so this tool cannot tell whether it exists or holds bootstrap's state. ` +
          `Either a bucket of that name belongs to another AWS account (bucket names are global: choose another stateBucket in environments/${environment}/environment.ts), ` +
          `or your credentials lack s3:ListBucket on it (use a role from cluster.adminPrincipalArns, as bootstrap needs). Nothing was changed.`,
      );
    }
    throw new ToolError(
      `Could not tell whether the state bucket ${bucket} of ${environment} exists (HeadBucket failed with ${describe(err)}). ` +
        `Check the network, your AWS credentials, and that the bucket is in the environment's region, then run the command again. Nothing was changed.`,
    );
  }
}

async function objectExists(t: BootstrapState): Promise<boolean> {
  try {
    await t.s3.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key }));
    return true;
  } catch (err) {
    if (status(err) === 404 || (err as Error).name === "NotFound" || (err as Error).name === "NoSuchKey") return false;
    throw new ToolError(
      `Could not tell whether ${url(t)} exists (HeadObject failed with ${describe(err)}). ` +
        `Reading the state needs s3:GetObject and s3:ListBucket on the bucket (a role from cluster.adminPrincipalArns has them); run the command again with one. Nothing was changed.`,
    );
  }
}

/**
 * Where bootstrap's state is. Refuses when both the bucket's object and the local file exist:
 * which one is right is for a person to decide, and the message says how.
 */
export async function locateState(t: BootstrapState): Promise<StateLocation> {
  const bucketExists = await stateBucketExists(t.s3, t.bucket, t.environment);
  const inBucket = bucketExists && (await objectExists(t));
  const onDisk = existsSync(t.localFile);
  if (inBucket && onDisk) {
    throw new ToolError(
      `${t.stack} has state in two places, ${url(t)} and ${shown(t)}, and this tool does not guess which is right. ` +
        `Compare them (aws s3 cp ${url(t)} /tmp/${t.stack}.bucket.tfstate; their "serial" and "resources"), then keep one: ` +
        `if the bucket's is right, rename the local file (mv ${shown(t)} ${shown(t)}.set-aside); ` +
        `if the local one is right, delete the bucket's object (aws s3 rm ${url(t)}; the bucket is versioned, so that version stays recoverable) and make bootstrap ENVIRONMENT=${t.environment} moves the local one into the bucket. ` +
        `Then run the command again. Nothing was changed.`,
    );
  }
  return { bucketExists, inBucket, onDisk };
}

/** Why bootstrap's state can be found neither in the bucket (which exists) nor here, and what to do. */
export function stateElsewhereMessage(t: BootstrapState): string {
  return (
    `The state bucket ${t.bucket} exists but holds no state of ${t.stack} (${t.key}), and none is on this machine (${shown(t)}). ` +
    `If bootstrap was applied on another machine by an earlier version of this tool, its state is still there: run make bootstrap ENVIRONMENT=${t.environment} on that machine, which moves it into the bucket. ` +
    `If that state is lost, import what bootstrap made into a fresh state (docs/recovery.md, "Terraform state") before applying it again. Nothing was changed.`
  );
}

function hclValue(value: BackendValue): string {
  if (typeof value === "object") return `{ ${Object.entries(value).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(", ")} }`;
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** `-backend-config=<file>` holding `backendConfig`, or nothing. */
function backendConfigArgs(t: BootstrapState): string[] {
  if (!t.backendConfig || !Object.keys(t.backendConfig).length) return [];
  const file = join(t.dir, BACKEND_CONFIG_FILE);
  writeFileSync(file, `${Object.entries(t.backendConfig).map(([k, v]) => `${k} = ${hclValue(v)}`).join("\n")}\n`);
  return [`-backend-config=${file}`];
}

async function tf(t: BootstrapState, args: string[], what: string): Promise<string> {
  const res = await terraform(args, t.dir, t.cliConfig, t.tfEnv ?? {});
  if (res.code !== 0) throw new ToolError(`${what} failed for ${t.stack} (terraform ${args[0]} exited ${res.code}):\n${(res.stderr || res.stdout).trim().slice(-2000)}`);
  return res.stdout;
}

async function stateList(t: BootstrapState): Promise<string[]> {
  return (await tf(t, ["state", "list", "-no-color"], "Listing the state")).split("\n").map((l) => l.trim()).filter(Boolean).sort();
}

/** Switches the working directory to the local state file: the override written, then `init -reconfigure`. */
export async function useLocalState(t: BootstrapState): Promise<void> {
  mkdirSync(dirname(t.localFile), { recursive: true });
  writeFileSync(join(t.dir, LOCAL_BACKEND_OVERRIDE), `${JSON.stringify({ terraform: { backend: { local: { path: t.localFile } } } }, null, 2)}\n`);
  await tf(t, ["init", "-input=false", "-no-color", "-reconfigure"], "terraform init with local state");
}

/** Switches the working directory to the bucket: the override removed, then `init -reconfigure` (nothing is copied). */
export async function useBucketState(t: BootstrapState): Promise<void> {
  rmSync(join(t.dir, LOCAL_BACKEND_OVERRIDE), { force: true });
  await tf(t, ["init", "-input=false", "-no-color", "-reconfigure", ...backendConfigArgs(t)], "terraform init against the state bucket");
}

/** Removes a local backend override a run that stopped half-way left behind (every run decides afresh). */
export function removeLocalOverride(dir: string): boolean {
  const file = join(dir, LOCAL_BACKEND_OVERRIDE);
  if (!existsSync(file)) return false;
  rmSync(file);
  return true;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function differences(before: string[], after: string[]): string {
  const missing = before.filter((x) => !after.includes(x));
  const extra = after.filter((x) => !before.includes(x));
  return [missing.length ? `missing: ${missing.join(", ")}` : "", extra.length ? `unexpected: ${extra.join(", ")}` : ""].filter(Boolean).join("; ");
}

/** `name.tfstate.migrated-2026-12-05T12-00-36Z`: the time in a form every file system takes. */
function archivedName(file: string, now: Date): string {
  return `${file}.migrated-${now.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-")}`;
}

/**
 * Moves the local state into the bucket, which must exist and hold no object at the key yet:
 * `init -migrate-state -force-copy`, then checks the object exists and `terraform state list`
 * through the S3 backend lists what the local state listed; only then renames the local file
 * (and its `.backup`) `.migrated-<time>`. Returns the archived file and the resources moved.
 */
export async function migrateToBucket(t: BootstrapState): Promise<{ archived: string; resources: string[] }> {
  if (!existsSync(t.localFile)) throw new ToolError(`There is no local state of ${t.stack} to move (${shown(t)}).`);
  t.log(`state 1/4: reading the local state ${shown(t)}`);
  await useLocalState(t);
  const before = await stateList(t);
  t.log(`state 2/4: copying it into ${url(t)} (terraform init -migrate-state -force-copy; ${before.length} resources)`);
  rmSync(join(t.dir, LOCAL_BACKEND_OVERRIDE), { force: true });
  await tf(t, ["init", "-input=false", "-no-color", "-migrate-state", "-force-copy", ...backendConfigArgs(t)], "Moving the state into the bucket").catch((err: Error) => {
    throw new ToolError(`${err.message}\n${shown(t)} is kept as it was and is still ${t.stack}'s state: fix the cause above, then run make bootstrap ENVIRONMENT=${t.environment} again, which moves it first.`);
  });
  t.log(`state 3/4: checking ${url(t)} exists and lists the same ${before.length} resources through the S3 backend`);
  if (!(await objectExists(t))) {
    throw new ToolError(`After terraform init -migrate-state, ${url(t)} does not exist, so the state was not moved. ${shown(t)} is kept as it was; run the command again, or check the bucket's permissions.`);
  }
  const after = await stateList(t);
  if (!sameList(before, after)) {
    throw new ToolError(
      `After moving the state of ${t.stack} into ${url(t)}, the bucket's state does not list what ${shown(t)} lists (${differences(before, after)}). ` +
        `The local file is kept as it was; compare the two (aws s3 cp ${url(t)} -) before anything else is applied.`,
    );
  }
  const archived = archivedName(t.localFile, (t.now ?? (() => new Date()))());
  renameSync(t.localFile, archived);
  if (existsSync(`${t.localFile}.backup`)) renameSync(`${t.localFile}.backup`, archivedName(`${t.localFile}.backup`, (t.now ?? (() => new Date()))()));
  t.log(`state 4/4: ${t.stack}'s state is in ${url(t)}; the local file is kept, renamed ${archived.split("/").pop()}`);
  return { archived, resources: after };
}

/**
 * Moves the bucket's state back to the local file (before the bucket is destroyed): `terraform
 * state pull` into the file, the local override, `terraform state list` compared with the
 * bucket's; then the bucket's object is deleted, leaving the local file the one live copy (the
 * bucket is versioned: the deleted version stays recoverable until the bucket goes).
 */
export async function pullToDisk(t: BootstrapState): Promise<{ resources: string[] }> {
  if (existsSync(t.localFile)) throw new ToolError(`${shown(t)} exists already; ${t.stack}'s state is not pulled over it.`);
  t.log(`state 1/4: reading ${url(t)} through the S3 backend`);
  await useBucketState(t);
  const before = await stateList(t);
  t.log(`state 2/4: pulling it into ${shown(t)} (terraform state pull; ${before.length} resources)`);
  const pulled = await tf(t, ["state", "pull"], "terraform state pull");
  mkdirSync(dirname(t.localFile), { recursive: true });
  writeFileSync(t.localFile, pulled);
  t.log(`state 3/4: checking the local state lists the same ${before.length} resources`);
  await useLocalState(t);
  const after = await stateList(t);
  if (!sameList(before, after)) {
    rmSync(join(t.dir, LOCAL_BACKEND_OVERRIDE), { force: true });
    renameSync(t.localFile, `${t.localFile}.incomplete`);
    throw new ToolError(`The state pulled from ${url(t)} does not list what the bucket's lists (${differences(before, after)}); it was set aside as ${shown(t)}.incomplete and the bucket's object kept. Nothing was destroyed.`);
  }
  await t.s3.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: t.key }));
  t.log(`state 4/4: ${t.stack}'s state is in ${shown(t)} (the one live copy); the bucket's object is deleted (its version stays recoverable until the bucket goes)`);
  return { resources: after };
}

/** The buckets among `buckets` that exist and hold any object version or delete marker (a versioned bucket is deleted only empty). */
export async function bucketsNotEmpty(s3: S3Client, buckets: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const bucket of buckets) {
    try {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 1 }));
      if ((page.Versions?.length ?? 0) + (page.DeleteMarkers?.length ?? 0) > 0) found.push(bucket);
    } catch (err) {
      if ((err as Error).name === "NoSuchBucket" || status(err) === 404) continue;
      throw new ToolError(`Could not list ${bucket} (ListObjectVersions failed with ${describe(err)}); a role from cluster.adminPrincipalArns can. Nothing was destroyed.`);
    }
  }
  return found;
}

/** How to delete every object version and delete marker of a bucket (up to 1000 a run; `aws s3 rm` alone leaves the versions). */
export function emptyBucketCommand(bucket: string): string {
  return `aws s3api delete-objects --bucket ${bucket} --delete "$(aws s3api list-object-versions --bucket ${bucket} --max-items 1000 --query '{Objects: [Versions, DeleteMarkers][][].{Key: Key, VersionId: VersionId}}' --output json)"`;
}

/**
 * What to do when the state bucket still holds objects: bootstrap's state is local now; empty the
 * bucket (and, right before the destroy, the access-log bucket), then destroy bootstrap again.
 */
export function emptyBucketsMessage(t: BootstrapState, buckets: string[], accessLogBuckets: string[] = []): string {
  const commands = [...buckets, ...accessLogBuckets].map((b) => `  ${emptyBucketCommand(b)}`);
  return (
    `${t.stack} cannot be destroyed yet: ${buckets.join(" and ")} still hold${buckets.length === 1 ? "s" : ""} objects, and buckets are never force-destroyed in a real account. ` +
    `Its state is now on this machine (${shown(t)}): keep that file until bootstrap is destroyed. ` +
    `Take what you want to keep, then delete every object version and delete marker (repeat each command until it reports nothing to delete; aws s3 rm alone leaves the versions)` +
    `${accessLogBuckets.length ? `, ${accessLogBuckets.join(" and ")} too, right before the destroy: it receives the state bucket's access logs until that bucket is gone, so a destroy that stops on it (BucketNotEmpty) needs it emptied once more` : ""}:\n` +
    `${commands.join("\n")}\n` +
    `Then run make destroy ENVIRONMENT=${t.environment} CONFIRM=${t.environment} STACK=bootstrap. Nothing of ${t.stack} was destroyed.`
  );
}
