import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { AssetType, TerraformAsset } from "cdktf";
import { Construct } from "constructs";
import { functionBaselineStatements } from "../functions/baseline";
import { decryptSecretsStatement } from "../security/kms-key";
import { MissingBundleError } from "../bundle";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../config/paths";
import { LAMBDA_NODE_RUNTIME } from "../../config/versions";
import type { PlatformCluster } from "../eks/cluster";

/** The deployment package `make bundle` builds and zips (deterministically). */
export const DNS_REGISTRATION_BUNDLE_ZIP = join(REPO_ROOT, "dist", "lambdas", "dns-registration.zip");

/** The data key of the installation probe targets (beside the federation targets, same ConfigMap). */
export const PROBES_KEY = "installation-probes.json";

/** The Kubernetes group the function's role is mapped to; layer 2 binds it to one ConfigMap. */
export const DNS_REGISTRATION_K8S_GROUP = "platform:dns-registration";

export interface DnsRegistrationFunctionProps {
  /** Function name, e.g. `prod-dns-registration`. */
  readonly functionName: string;
  readonly environmentName: string;
  /** The C&C cluster whose API the function writes to (endpoint, CA, access entry). */
  readonly cluster: PlatformCluster;
  readonly vpcId: string;
  /** Private subnets (the function reaches the private API endpoint and AWS through NAT). */
  readonly subnetIds: string[];
  /** Private hosted zone and its domain; records `<clusterID>.prometheus.<domain>` are targets. */
  readonly zoneId: string;
  readonly privateDomain: string;
  /**
   * Installation uptime probes: installation records of the public zone (one label under its
   * domain, except the platform's app names) become a second file-SD document, PROBES_KEY of the
   * same ConfigMap, which the C&C Prometheus probes through the blackbox exporter.
   */
  readonly probes?: { zoneId: string; domain: string; excludedNames: readonly string[] };
  /** Secrets Manager secret holding the alert webhook URL. */
  readonly alertsSecretArn: string;
  readonly alertsSecretName: string;
  /** SNS topic that receives the function's error alarm. */
  readonly alarmTopicArn: string;
  readonly region: string;
  readonly accountId: string;
  /**
   * Route53 is a global service: its CloudTrail events are delivered in us-east-1. When the
   * function lives elsewhere, the rule there forwards to this region's default bus.
   */
  readonly usEast1Provider?: AwsProvider;
  /** Safety-net schedule; default every 10 minutes. */
  readonly scheduleExpression?: string;
  readonly logRetentionDays: number;
  /**
   * KMS key for its log group, its dead-letter queue and its environment variables (a PlatformKey
   * with cloudWatchLogs; the function's role is granted its use).
   */
  readonly kmsKeyArn: string;
  /** Alias of the environment's secrets key (config/names.ts secretsKeyAlias): the webhook secret is encrypted with it. */
  readonly secretsKeyAlias: string;
  /**
   * Encrypt the function's environment variables with kmsKeyArn (default true). The AWS emulator
   * does not keep a function's KMSKeyArn, so the rehearsal turns it off to keep its second plan empty.
   */
  readonly encryptSettings?: boolean;
  /** Override of the zipped bundle (tests). */
  readonly bundleZip?: string;
}

/** The rule pattern: Route53 record changes in these zones, as CloudTrail reports them. */
export function route53ChangePattern(...zoneIds: string[]): Record<string, unknown> {
  return {
    source: ["aws.route53"],
    "detail-type": ["AWS API Call via CloudTrail"],
    detail: {
      eventSource: ["route53.amazonaws.com"],
      eventName: ["ChangeResourceRecordSets"],
      requestParameters: { hostedZoneId: zoneIds },
    },
  };
}

/**
 * The DNS-registration Lambda: keeps the C&C Prometheus federation targets equal to the
 * `<cluster>.prometheus.<domain>` records. Runs on record changes and on a schedule, one at a
 * time (reserved concurrency 1), in the private subnets, traced, with a dead-letter queue, an
 * error alarm, and a role that can list one zone, read one secret, manage its ENIs and log.
 */
export class DnsRegistrationFunction extends Construct {
  readonly function: LambdaFunction;
  readonly role: IamRole;
  readonly securityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: DnsRegistrationFunctionProps) {
    super(scope, id);
    const bundle = props.bundleZip ?? DNS_REGISTRATION_BUNDLE_ZIP;
    if (!existsSync(bundle)) throw new MissingBundleError("DNS-registration Lambda", bundle);
    const name = props.functionName;
    const zoneIds = [props.zoneId, ...(props.probes ? [props.probes.zoneId] : [])];

    const logGroup = new CloudwatchLogGroup(this, "logs", { name: `/aws/lambda/${name}`, retentionInDays: props.logRetentionDays, kmsKeyId: props.kmsKeyArn });
    const dlq = new SqsQueue(this, "dlq", { name: `${name}-dlq`, kmsMasterKeyId: props.kmsKeyArn, kmsDataKeyReusePeriodSeconds: 3600, messageRetentionSeconds: 14 * 24 * 3600 });

    this.securityGroup = new SecurityGroup(this, "sg", {
      name,
      description: `${name}: out to the cluster API and AWS APIs on 443 only`,
      vpcId: props.vpcId,
      tags: { Name: name },
    });
    new VpcSecurityGroupEgressRule(this, "egress-https", {
      securityGroupId: this.securityGroup.id,
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: "0.0.0.0/0",
      description: "Kubernetes API, Route53, Secrets Manager and the webhook over HTTPS",
    });
    props.cluster.allowApiFrom("dns-registration-lambda", { referencedSecurityGroupId: this.securityGroup.id });

    this.role = new IamRole(this, "role", {
      name,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "lambda.amazonaws.com" },
            Action: "sts:AssumeRole",
            Condition: { StringEquals: { "aws:SourceAccount": props.accountId } },
          },
        ],
      }),
    });
    new IamRolePolicy(this, "policy", {
      role: this.role.id,
      name: "dns-registration",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "ListTheZones", Effect: "Allow", Action: "route53:ListResourceRecordSets", Resource: zoneIds.map((z) => `arn:aws:route53:::hostedzone/${z}`) },
          { Sid: "ReadTheWebhook", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: props.alertsSecretArn },
          decryptSecretsStatement({ region: props.region, accountId: props.accountId, keyAlias: props.secretsKeyAlias }),
          // Its dead letters and settings are encrypted with the stack key.
          ...functionBaselineStatements({ stackKeyArn: props.kmsKeyArn, logGroupArn: logGroup.arn, deadLetterArn: dlq.arn }),
        ],
      }),
    });

    const asset = new TerraformAsset(this, "code", { path: bundle, type: AssetType.FILE });
    this.function = new LambdaFunction(this, "function", {
      functionName: name,
      description: "Keeps the C&C Prometheus federation targets equal to the workload clusters' Prometheus records",
      role: this.role.arn,
      runtime: LAMBDA_NODE_RUNTIME,
      handler: "index.handler",
      filename: asset.path,
      sourceCodeHash: asset.assetHash,
      timeout: 120,
      memorySize: 256,
      reservedConcurrentExecutions: 1,
      tracingConfig: { mode: "Active" },
      kmsKeyArn: props.encryptSettings === false ? undefined : props.kmsKeyArn,
      deadLetterConfig: { targetArn: dlq.arn },
      vpcConfig: { subnetIds: props.subnetIds, securityGroupIds: [this.securityGroup.id] },
      loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
      environment: {
        variables: {
          PRIVATE_HOSTED_ZONE_ID: props.zoneId,
          PRIVATE_DOMAIN: props.privateDomain,
          ...(props.probes ? { PUBLIC_HOSTED_ZONE_ID: props.probes.zoneId, PUBLIC_DOMAIN: props.probes.domain, EXCLUDED_NAMES: props.probes.excludedNames.join(","), PROBES_KEY: PROBES_KEY } : {}),
          CLUSTER_NAME: props.cluster.cluster.name,
          CLUSTER_ENDPOINT: props.cluster.cluster.endpoint,
          CLUSTER_CA: props.cluster.cluster.certificateAuthority.get(0).data,
          ALERTS_SECRET_ID: props.alertsSecretName,
          ENVIRONMENT_NAME: props.environmentName,
        },
      },
      dependsOn: [logGroup],
    });

    // The cluster trusts the role as a member of one group; RBAC (layer 2) decides the rest.
    props.cluster.mapToGroups("dns-registration-lambda", this.role.arn, [DNS_REGISTRATION_K8S_GROUP]);

    const pattern = route53ChangePattern(...zoneIds);
    const changes = new CloudwatchEventRule(this, "on-record-change", {
      name: `${name}-on-record-change`,
      description: `Route53 ChangeResourceRecordSets in zone ${props.zoneId}`,
      eventPattern: JSON.stringify(pattern),
    });
    const schedule = new CloudwatchEventRule(this, "schedule", {
      name: `${name}-schedule`,
      description: "Safety net for missed change events",
      scheduleExpression: props.scheduleExpression ?? "rate(10 minutes)",
    });
    for (const [key, rule] of [["changes", changes], ["schedule", schedule]] as const) {
      new CloudwatchEventTarget(this, `target-${key}`, { rule: rule.name, arn: this.function.arn, retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 3600 } });
      new LambdaPermission(this, `invoke-${key}`, {
        statementId: `events-${key}`,
        action: "lambda:InvokeFunction",
        functionName: this.function.functionName,
        principal: "events.amazonaws.com",
        sourceArn: rule.arn,
      });
    }

    if (props.usEast1Provider) {
      // Forward the us-east-1 CloudTrail events to this region's default bus, where `changes` matches them.
      const forwardRole = new IamRole(this, "forward-role", {
        provider: props.usEast1Provider,
        name: `${name}-forward-events`,
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
      });
      const bus = `arn:aws:events:${props.region}:${props.accountId}:event-bus/default`;
      new IamRolePolicy(this, "forward-policy", {
        provider: props.usEast1Provider,
        role: forwardRole.id,
        name: "put-events",
        policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "events:PutEvents", Resource: bus }] }),
      });
      const forward = new CloudwatchEventRule(this, "forward-from-us-east-1", {
        provider: props.usEast1Provider,
        name: `${name}-forward`,
        description: `Forward Route53 changes of zone ${props.zoneId} to ${props.region}`,
        eventPattern: JSON.stringify(pattern),
      });
      new CloudwatchEventTarget(this, "forward-target", { provider: props.usEast1Provider, rule: forward.name, arn: bus, roleArn: forwardRole.arn });
    }

    new CloudwatchMetricAlarm(this, "errors-alarm", {
      alarmName: `${name}-errors`,
      alarmDescription: "The DNS-registration Lambda failed; Prometheus federation targets may be stale",
      namespace: "AWS/Lambda",
      metricName: "Errors",
      dimensions: { FunctionName: this.function.functionName },
      statistic: "Sum",
      period: 300,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
      alarmActions: [props.alarmTopicArn],
      okActions: [props.alarmTopicArn],
    });
    new CloudwatchMetricAlarm(this, "dlq-alarm", {
      alarmName: `${name}-dead-letters`,
      alarmDescription: "Events the DNS-registration Lambda could not process",
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: dlq.name },
      statistic: "Maximum",
      period: 300,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
      alarmActions: [props.alarmTopicArn],
    });
  }
}
