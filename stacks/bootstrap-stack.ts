import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { stateBucketName } from "../config/names";
import type { Environment } from "../config/schema";
import { PlatformKey } from "../constructs/security/kms-key";
import { SecureBucket } from "../constructs/storage/secure-bucket";
import { PlatformStack } from "./platform-stack";

/**
 * `<env>-bootstrap`: what every other stack assumes exists.
 * - the encrypted, versioned S3 bucket every other stack keeps its state in;
 * - the (empty) Secrets Manager secret for the alert webhook: after bootstrap, an operator puts
 *   the URL in it (`aws secretsmanager put-secret-value --secret-id <name> --secret-string <url>`),
 *   so the value never passes through code or Terraform state.
 * Its own state stays local (`.state/<env>/`): keep that folder.
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
    const webhook = new SecretsmanagerSecret(this, "alerts-webhook", {
      name: env.alerts.webhookSecretName,
      description: `Mattermost incoming-webhook URL for ${env.name} platform alerts (value set by an operator, never by Terraform)`,
      recoveryWindowInDays: env.target === "emulator" ? 0 : 30,
    });
    new TerraformOutput(this, "state_bucket", { value: bucket.name });
    new TerraformOutput(this, "alerts_webhook_secret_arn", { value: webhook.arn });
    new TerraformOutput(this, "state_kms_key_arn", { value: key.arn });
  }
}
