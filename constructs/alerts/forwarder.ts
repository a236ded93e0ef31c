import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { AssetType, TerraformAsset } from "cdktf";
import { Construct } from "constructs";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../config/paths";
import { LAMBDA_NODE_RUNTIME } from "../../config/versions";
import { MissingBundleError } from "../bundle";
import { functionBaselineStatements } from "../functions/baseline";
import { decryptSecretsStatement } from "../security/kms-key";

/** The deployment package `make bundle` builds and zips (deterministically). */
export const ALERTS_FORWARDER_BUNDLE_ZIP = join(REPO_ROOT, "dist", "lambdas", "alerts-forwarder.zip");

export interface AlertsForwarderProps {
  /** Function name, e.g. `prod-alerts-forwarder`. */
  readonly functionName: string;
  readonly environmentName: string;
  /** The SNS alert topic every CloudWatch alarm publishes to. */
  readonly topicArn: string;
  /** Secrets Manager secret (name and ARN) with the Mattermost incoming-webhook URL. */
  readonly webhookSecretName: string;
  readonly webhookSecretArn: string;
  /** Alias of the environment's secrets key (config/names.ts secretsKeyAlias). */
  readonly secretsKeyAlias: string;
  readonly vpcId: string;
  /** Private subnets with NAT (the webhook is on the internet). */
  readonly subnetIds: string[];
  /** Key for the log group, the dead-letter queue and the settings (a PlatformKey with cloudWatchLogs). */
  readonly kmsKeyArn: string;
  readonly logRetentionDays: number;
  /**
   * Encrypt the function's environment variables with kmsKeyArn (default true). The AWS emulator
   * does not keep a function's KMSKeyArn, so the rehearsal turns it off to keep its second plan empty.
   */
  readonly encryptSettings?: boolean;
  readonly region: string;
  readonly accountId: string;
  /** Override of the zipped bundle (tests). */
  readonly bundleZip?: string;
}

/**
 * Delivers the SNS alert topic to people: a Lambda subscribed to the topic posts every CloudWatch
 * alarm to the Mattermost alerts channel (where Alertmanager posts too). Failed posts are retried
 * by Lambda and then kept in an encrypted dead-letter queue for 14 days.
 */
export class AlertsForwarder extends Construct {
  readonly function: LambdaFunction;
  readonly subscription: SnsTopicSubscription;
  readonly deadLetters: SqsQueue;

  constructor(scope: Construct, id: string, props: AlertsForwarderProps) {
    super(scope, id);
    const bundle = props.bundleZip ?? ALERTS_FORWARDER_BUNDLE_ZIP;
    if (!existsSync(bundle)) throw new MissingBundleError("alerts-forwarder Lambda", bundle);
    const name = props.functionName;

    const logGroup = new CloudwatchLogGroup(this, "logs", { name: `/aws/lambda/${name}`, retentionInDays: props.logRetentionDays, kmsKeyId: props.kmsKeyArn });
    this.deadLetters = new SqsQueue(this, "dlq", { name: `${name}-dlq`, kmsMasterKeyId: props.kmsKeyArn, kmsDataKeyReusePeriodSeconds: 3600, messageRetentionSeconds: 14 * 24 * 3600 });
    const sg = new SecurityGroup(this, "sg", { name, description: `${name}: out to the webhook and AWS APIs on 443 only`, vpcId: props.vpcId, tags: { Name: name } });
    new VpcSecurityGroupEgressRule(this, "egress-https", { securityGroupId: sg.id, ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0", description: "The Mattermost webhook and Secrets Manager over HTTPS" });

    const role = new IamRole(this, "role", {
      name,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole", Condition: { StringEquals: { "aws:SourceAccount": props.accountId } } }],
      }),
    });
    new IamRolePolicy(this, "policy", {
      role: role.id,
      name: "alerts-forwarder",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "ReadTheWebhook", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: props.webhookSecretArn },
          decryptSecretsStatement({ region: props.region, accountId: props.accountId, keyAlias: props.secretsKeyAlias }),
          // Its dead letters and settings are encrypted with the stack key.
          ...functionBaselineStatements({ stackKeyArn: props.kmsKeyArn, logGroupArn: logGroup.arn, deadLetterArn: this.deadLetters.arn }),
        ],
      }),
    });

    const asset = new TerraformAsset(this, "code", { path: bundle, type: AssetType.FILE });
    this.function = new LambdaFunction(this, "function", {
      functionName: name,
      description: "Posts the SNS alert topic (CloudWatch alarms) to the Mattermost alerts channel",
      role: role.arn,
      runtime: LAMBDA_NODE_RUNTIME,
      handler: "index.handler",
      filename: asset.path,
      sourceCodeHash: asset.assetHash,
      timeout: 30,
      memorySize: 128,
      reservedConcurrentExecutions: 5,
      tracingConfig: { mode: "Active" },
      kmsKeyArn: props.encryptSettings === false ? undefined : props.kmsKeyArn,
      deadLetterConfig: { targetArn: this.deadLetters.arn },
      vpcConfig: { subnetIds: props.subnetIds, securityGroupIds: [sg.id] },
      loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
      environment: { variables: { ALERTS_SECRET_ID: props.webhookSecretName, ENVIRONMENT_NAME: props.environmentName } },
      dependsOn: [logGroup],
    });
    const permission = new LambdaPermission(this, "invoke-from-topic", {
      statementId: "sns-alerts",
      action: "lambda:InvokeFunction",
      functionName: this.function.functionName,
      principal: "sns.amazonaws.com",
      sourceArn: props.topicArn,
    });
    this.subscription = new SnsTopicSubscription(this, "subscription", { topicArn: props.topicArn, protocol: "lambda", endpoint: this.function.arn, dependsOn: [permission] });
  }
}
