/**
 * The base of every stack: one environment, one state file, one AWS provider.
 *
 * - target "aws": S3 state, one key per stack (`<env>/<stack>.tfstate`), S3-native locking
 *   (`use_lockfile`, Terraform >= 1.10), encrypted; the provider refuses any account but the
 *   environment's (`allowed_account_ids`). The bootstrap stack too: it creates the bucket, so its
 *   first apply runs with a local backend override and its state is then moved into the bucket,
 *   and its destroy moves the state back out first (scripts/lib/bootstrap-state.ts).
 * - target "emulator": local state under `.state/<env>/` (moto keeps nothing on disk, so neither
 *   does a bucket it holds).
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Aspects, LocalBackend, S3Backend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { stateBucketName, stateKeyAlias } from "../config/names";
import type { Environment } from "../config/schema";
import { PreventDataDestruction } from "../constructs/security/data-protection";

/** Where local state lives, relative to the stack's working directory `cdktf.out/stacks/<stack>`. */
export const LOCAL_STATE_DIR = ".state";

export interface PlatformStackProps {
  /** The validated environment this stack belongs to. */
  readonly env: Environment;
  /** prevent_destroy on what holds data (real accounts); default: the environment's `dataProtection`. */
  readonly dataProtection?: boolean;
}

export abstract class PlatformStack extends TerraformStack {
  readonly env: Environment;
  readonly aws: AwsProvider;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id);
    const { env } = props;
    this.env = env;

    if (env.target === "emulator") {
      new LocalBackend(this, { path: `../../../${LOCAL_STATE_DIR}/${env.name}/${id}.tfstate` });
    } else {
      new S3Backend(this, {
        bucket: stateBucketName(env),
        key: `${env.name}/${id}.tfstate`,
        region: env.region,
        // With encrypt alone the backend asks S3 for SSE-S3 (AES256) on every write, overriding the
        // bucket's default: name the state key, so state is encrypted with it, as the bucket is.
        encrypt: true,
        kmsKeyId: `arn:aws:kms:${env.region}:${env.accountId}:alias/${stateKeyAlias(env)}`,
      });
      // cdktf 0.21 has no typed field for S3-native locking yet.
      this.addOverride("terraform.backend.s3.use_lockfile", true);
    }

    this.aws = new AwsProvider(this, "aws", this.providerConfig(env.region, id));
    // No plan of a real environment deletes or replaces what holds data (README "Deleting an environment").
    if (env.target === "aws" && (props.dataProtection ?? env.dataProtection)) Aspects.of(this).add(new PreventDataDestruction());
  }

  /**
   * cdktf's own prepareStack resolves every element of the stack a first time, only to find
   * references to other stacks (which it would turn into remote-state lookups), before synthesis
   * resolves everything again. Stacks here never reference each other: layers find each other by
   * derived names and tags through data sources (config/names.ts), so each plans on its own. The
   * pass is skipped here, which halves the cost of synthesis; every in-process synthesis (make
   * validate, so npm test; make all and diff) runs cdktf's pass once more only to refuse any
   * cross-stack reference it finds (scripts/lib/synth.ts refuseCrossStackReferences).
   */
  override prepareStack(): void {
    this.ensureBackendExists();
  }

  /** A second AWS provider for another region (e.g. us-east-1 for Route53 events and health checks). */
  providerIn(region: string): AwsProvider {
    const alias = region.replace(/-/g, "_");
    const existing = this.node.tryFindChild(`aws-${alias}`);
    if (existing) return existing as AwsProvider;
    return new AwsProvider(this, `aws-${alias}`, { ...this.providerConfig(region, this.node.id), alias });
  }

  private providerConfig(region: string, id: string) {
    const env = this.env;
    const emulator = env.target === "emulator";
    return {
      region,
      defaultTags: [{ tags: { ...env.tags, Environment: env.name, Stack: id } }],
      // A real environment can only ever be applied to its own account.
      allowedAccountIds: emulator ? undefined : [env.accountId],
      // The emulator is reached through AWS_ENDPOINT_URL (set by the Makefile); it has no
      // credentials to validate, no instance metadata, and serves S3 on a path, not a host.
      skipCredentialsValidation: emulator || undefined,
      skipRequestingAccountId: emulator || undefined,
      skipMetadataApiCheck: emulator ? "true" : undefined,
      s3UsePathStyle: emulator || undefined,
    };
  }
}
