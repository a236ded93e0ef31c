import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import type { TerraformProvider } from "cdktf";
import { Construct } from "constructs";
import type { PolicyStatement } from "../eks/irsa-role";

export interface PlatformKeyProps {
  /** Alias without the `alias/` prefix, e.g. `prod-cnc-eks-secrets`. */
  readonly alias: string;
  /** What the key protects (shown in the console). */
  readonly description: string;
  /**
   * AWS service principals allowed to use the key through their service (e.g. `logs.<region>.amazonaws.com`
   * for encrypted log groups). Account administrators always keep control of the key.
   */
  readonly servicePrincipals?: string[];
  /**
   * Let CloudWatch Logs of this account and region encrypt log groups with the key (the key policy
   * statement AWS documents, limited by the log-group ARN in the encryption context).
   */
  readonly cloudWatchLogs?: { region: string; accountId: string };
  /** The provider (region) the key lives in; default the stack's. A key serves its own region only. */
  readonly provider?: TerraformProvider;
  /** Waiting period before deletion, 7-30 days; default 30. */
  readonly deletionWindowDays?: number;
}

/**
 * A customer-managed KMS key with yearly rotation on, a key policy that keeps the account in
 * control (so IAM policies decide who uses it), and an alias.
 */
export class PlatformKey extends Construct {
  readonly key: KmsKey;
  readonly arn: string;

  constructor(scope: Construct, id: string, props: PlatformKeyProps) {
    super(scope, id);
    const window = props.deletionWindowDays ?? 30;
    if (window < 7 || window > 30) throw new Error(`PlatformKey ${props.alias}: deletionWindowDays must be 7-30, got ${window}`);

    const provider = props.provider;
    const account = new DataAwsCallerIdentity(this, "account", { provider });
    const partition = new DataAwsPartition(this, "partition", { provider });
    const statements: object[] = [
      {
        Sid: "AccountAdministers",
        Effect: "Allow",
        Principal: { AWS: `arn:${partition.partition}:iam::${account.accountId}:root` },
        Action: "kms:*",
        Resource: "*",
      },
    ];
    if (props.servicePrincipals?.length) {
      statements.push({
        Sid: "ServicesEncrypt",
        Effect: "Allow",
        Principal: { Service: props.servicePrincipals },
        Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        Resource: "*",
      });
    }

    if (props.cloudWatchLogs) {
      const { region, accountId } = props.cloudWatchLogs;
      statements.push({
        Sid: "CloudWatchLogsEncrypt",
        Effect: "Allow",
        Principal: { Service: `logs.${region}.amazonaws.com` },
        Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        Resource: "*",
        Condition: { ArnLike: { "kms:EncryptionContext:aws:logs:arn": `arn:${partition.partition}:logs:${region}:${accountId}:log-group:*` } },
      });
    }

    this.key = new KmsKey(this, "key", {
      provider,
      description: props.description,
      enableKeyRotation: true,
      deletionWindowInDays: window,
      policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }),
    });
    new KmsAlias(this, "alias", { provider, name: `alias/${props.alias}`, targetKeyId: this.key.keyId });
    this.arn = this.key.arn;
  }
}

/**
 * The IAM statement that lets a role decrypt the environment's Secrets Manager secrets (encrypted
 * with the bootstrap key aliased `secretsKeyAlias`), only through Secrets Manager.
 */
export function decryptSecretsStatement(props: { region: string; accountId: string; keyAlias: string }): PolicyStatement {
  return {
    Sid: "DecryptPlatformSecrets",
    Effect: "Allow",
    Action: "kms:Decrypt",
    Resource: `arn:aws:kms:${props.region}:${props.accountId}:key/*`,
    Condition: {
      StringEquals: { "kms:ViaService": `secretsmanager.${props.region}.amazonaws.com` },
      "ForAnyValue:StringEquals": { "kms:ResourceAliases": `alias/${props.keyAlias}` },
    },
  };
}
