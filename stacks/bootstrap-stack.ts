import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { stateBucketName } from "../config/names";
import type { Environment } from "../config/schema";
import { PlatformKey } from "../constructs/security/kms-key";
import { SecureBucket } from "../constructs/storage/secure-bucket";
import { PlatformStack } from "./platform-stack";

/**
 * `<env>-bootstrap`: the encrypted, versioned S3 bucket every other stack keeps its state in.
 * Its own state stays local (`.state/<env>/`): commit-free, but keep it; it is small.
 */
export class BootstrapStack extends PlatformStack {
  constructor(scope: Construct, id: string, env: Environment) {
    super(scope, id, { env, localState: true });
    const key = new PlatformKey(this, "state-key", {
      alias: `${env.name}-terraform-state`,
      description: `Terraform state of the ${env.name} environment`,
      deletionWindowDays: env.target === "emulator" ? 7 : 30,
    });
    const bucket = new SecureBucket(this, "state-bucket", {
      bucketName: stateBucketName(env),
      kmsKeyArn: key.arn,
      noncurrentVersionExpirationDays: 365,
      forceDestroy: env.target === "emulator",
    });
    new TerraformOutput(this, "state_bucket", { value: bucket.name });
    new TerraformOutput(this, "state_kms_key_arn", { value: key.arn });
  }
}
