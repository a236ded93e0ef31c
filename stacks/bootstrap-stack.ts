import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { accessLogBucketName, installationDatabaseSecretName, redisAuthSecretName, secretsKeyAlias, stateBucketName, stateKeyAlias } from "../config/names";
import type { Environment } from "../config/schema";
import { PlatformKey } from "../constructs/security/kms-key";
import { AccessLogBucket, SecureBucket } from "../constructs/storage/secure-bucket";
import { PlatformStack } from "./platform-stack";

/**
 * `<env>-bootstrap`: what every other stack assumes exists.
 * - the encrypted, versioned S3 bucket every other stack keeps its state in;
 * - the access-log bucket every bucket of the environment logs to (when accessLogs.enabled);
 * - the KMS key the environment's secrets are encrypted with (readers get kms:Decrypt through
 *   Secrets Manager only: constructs/security/kms-key.ts decryptSecretsStatement);
 * - the (empty) Secrets Manager secrets the environment names (alert webhook, Grafana admin,
 *   OIDC client): after bootstrap, an operator puts each value in
 *   (`aws secretsmanager put-secret-value --secret-id <name> --secret-string ...`), so values
 *   never pass through code.
 * Its state lives in the bucket it creates, at `<env>/<env>-bootstrap.tfstate` like every other
 * stack's (target "aws"). The first apply cannot use that bucket, so `make bootstrap` runs it with
 * a local backend override (`.state/<env>/`), then moves the state into the bucket, checks it
 * there and renames the local file `.migrated-<time>`; `make destroy` moves it back out before
 * the bucket is deleted (scripts/lib/bootstrap-state.ts, README "Terraform state").
 */
export class BootstrapStack extends PlatformStack {
  constructor(scope: Construct, id: string, env: Environment) {
    super(scope, id, { env });
    const key = new PlatformKey(this, "state-key", {
      alias: stateKeyAlias(env),
      description: `Terraform state of the ${env.name} environment`,
      deletionWindowDays: env.target === "emulator" ? 7 : 30,
    });
    const throwaway = env.target === "emulator";
    const accessLogs = env.accessLogs.enabled
      ? new AccessLogBucket(this, "access-logs", { bucketName: accessLogBucketName(env), accountId: env.accountId, retentionDays: env.accessLogs.retentionDays, forceDestroy: throwaway })
      : undefined;
    const secretsKey = new PlatformKey(this, "secrets-key", {
      alias: secretsKeyAlias(env),
      description: `Secrets Manager secrets of the ${env.name} environment`,
      deletionWindowDays: throwaway ? 7 : 30,
    });
    const bucket = new SecureBucket(this, "state-bucket", {
      bucketName: stateBucketName(env),
      kmsKeyArn: key.arn,
      accessLogBucket: accessLogs,
      noncurrentVersionExpirationDays: 365,
      forceDestroy: env.target === "emulator",
    });
    // Secret containers only: operators put the values in; Terraform never sees them here.
    const secrets: [string, string, string | undefined][] = [
      ["alerts-webhook", "Mattermost incoming-webhook URL for platform alerts", env.alerts.webhookSecretName],
      ["alerts-pager", `${env.alerts.pager?.service === "opsgenie" ? "Opsgenie API key" : "PagerDuty Events API v2 routing key"} for critical alerts`, env.alerts.pager?.secretName],
      ["grafana-admin", 'Grafana admin credentials as {"user": "...", "password": "..."}', env.secrets.grafanaAdmin],
      ["oidc-client", 'OIDC client of the app login as {"clientId": "...", "clientSecret": "..."}', env.auth.enabled ? env.auth.oidc?.clientSecretName : undefined],
      ["provisioner-ssh-key", "SSH public key of the provisioner (kops and its start-up check read $HOME/.ssh)", env.provisioner.sshPublicKeySecretName],
      ["provisioner-api-client", 'OAuth2 client that calls the provisioner API as {"clientId": "...", "clientSecret": "..."}', env.provisioner.apiAuth.clientSecretName],
      ...env.workloads
        .filter((w) => w.redis)
        .map((w): [string, string, string] => [`redis-auth-${w.name}`, `Redis AUTH token of workload cluster ${w.name} (16-128 printable characters)`, redisAuthSecretName(env, w.name)]),
      ...env.workloads.flatMap((w) =>
        w.installations.map((i): [string, string, string] => [
          `db-${w.name}-${i.name}`,
          `database connection string of installation ${i.name} on ${w.name}, with its own database user (postgres://user:password@host:5432/db?sslmode=require)`,
          installationDatabaseSecretName(env, w.name, i.name),
        ]),
      ),
    ];
    const [webhook] = secrets
      .filter((s): s is [string, string, string] => !!s[2])
      .map(
        ([id, what, name]) =>
          new SecretsmanagerSecret(this, id, {
            name,
            kmsKeyId: secretsKey.arn,
            description: `${env.name}: ${what} (value set by an operator, never by Terraform)`,
            recoveryWindowInDays: env.target === "emulator" ? 0 : 30,
          }),
      );
    new TerraformOutput(this, "state_bucket", { value: bucket.name });
    new TerraformOutput(this, "alerts_webhook_secret_arn", { value: webhook.arn });
    new TerraformOutput(this, "state_kms_key_arn", { value: key.arn });
  }
}
