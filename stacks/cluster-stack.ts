import { DataAwsSecretsmanagerSecret } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret";
import { IamAccountAlias } from "@cdktf/provider-aws/lib/iam-account-alias";
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import {
  alertsForwarderFunctionName,
  alertsTopicName,
  clusterAdminRoleArns,
  cncClusterName,
  deployRunnerName,
  dnsRegistrationFunctionName,
  planRunnerName,
  provisionerAccountAlias,
  redisAuthSecretName,
  secretsKeyAlias,
  stateBucketName,
} from "../config/names";
import type { PolicyStatement } from "../constructs/eks/irsa-role";
import { CNC_APPS, type Environment } from "../config/schema";
import { AlertsForwarder } from "../constructs/alerts/forwarder";
import { AlertsTopic } from "../constructs/alerts/topic";
import { DeployRunner } from "../constructs/deploy/runner";
import { DnsRegistrationFunction } from "../constructs/dns-registration/function";
import { PlatformZones } from "../constructs/dns/zones";
import { PlatformCluster } from "../constructs/eks/cluster";
import { ManagedNodeGroups } from "../constructs/eks/node-group";
import { PlatformNetwork } from "../constructs/network/network";
import { PlatformKey, decryptSecretsStatement } from "../constructs/security/kms-key";
import { PlatformStack } from "./platform-stack";

/**
 * `<env>-cluster` (C&C layer 1): VPC, EKS, node groups, IAM/IRSA, KMS, flow logs, the alert
 * topic, the DNS-registration Lambda (whose role the cluster trusts through an access entry) and
 * the deploy runner (CodeBuild-hosted GitHub Actions runner in this VPC, admin of every cluster).
 * This stack needs only AWS APIs: it can be applied from anywhere with the deploy role.
 * Later layers find these by derived names (config/names.ts); the outputs are for people.
 */
export class ClusterStack extends PlatformStack {
  readonly network: PlatformNetwork;
  readonly cluster: PlatformCluster;

  constructor(scope: Construct, id: string, env: Environment) {
    super(scope, id, { env });
    const name = cncClusterName(env);
    const throwaway = env.target === "emulator";
    // Encrypts this stack's log groups, the Lambda's dead letters and settings, and the runners' builds.
    const opsKey = new PlatformKey(this, "operations-key", {
      alias: `${id}-operations`,
      description: `Logs, queues and build output of ${id}`,
      cloudWatchLogs: { region: env.region, accountId: env.accountId },
      deletionWindowDays: throwaway ? 7 : 30,
    });

    this.network = new PlatformNetwork(this, "network", {
      name,
      cidr: env.network.cidr,
      azs: env.network.azs,
      natGateways: env.network.natGateways,
      region: env.region,
      interfaceEndpoints: env.network.interfaceEndpoints,
      flowLogRetentionDays: env.network.flowLogRetentionDays,
      logsKmsKeyArn: opsKey.arn,
      clusterNames: [name],
      existing: env.network.existing,
    });
    this.cluster = new PlatformCluster(this, "eks", {
      name,
      kubernetesVersion: env.cluster.kubernetesVersion,
      vpcId: this.network.vpcId,
      subnetIds: this.network.privateSubnetIds,
      endpointPublicAccess: env.cluster.endpointPublicAccess,
      publicAccessCidrs: env.cluster.publicAccessCidrs,
      adminCidrs: env.cluster.adminCidrs,
      adminPrincipalArns: clusterAdminRoleArns(env),
      logRetentionDays: env.cluster.logRetentionDays,
      logsKmsKeyArn: opsKey.arn,
      keyDeletionWindowDays: throwaway ? 7 : 30,
    });
    const nodes = new ManagedNodeGroups(this, "nodes", { cluster: this.cluster, subnetIds: this.network.privateSubnetIds, zones: env.network.azs, groups: env.cluster.nodeGroups, kubernetesVersion: env.cluster.kubernetesVersion, amiRelease: env.cluster.nodeAmiRelease });
    this.cluster.addComputeAddons(nodes.nodeGroups);

    if (env.deployRunner.enabled) {
      const common = {
        repositoryUrl: env.deployRunner.repositoryUrl,
        connectionArn: env.deployRunner.connectionArn,
        vpcId: this.network.vpcId,
        subnetIds: this.network.privateSubnetIds,
        computeType: env.deployRunner.computeType,
        logRetentionDays: env.deployRunner.logRetentionDays,
        logsKmsKeyArn: opsKey.arn,
        encryptionKeyArn: throwaway ? undefined : opsKey.arn,
        region: env.region,
        accountId: env.accountId,
      };
      // Applies: the deploy workflow only. Its jobs assume a deploy role through GitHub OIDC (whose
      // trust admits only the protected GitHub environment); the runner's own role holds nothing.
      const runner = new DeployRunner(this, "deploy-runner", { ...common, name: deployRunnerName(env), purpose: "runs deploy jobs (they assume the deploy role through GitHub OIDC)", workflowNames: ["deploy"] });
      // Plans pull requests: read-only in AWS and in every cluster, so pull-request code never holds the deploy role.
      const planner = new DeployRunner(this, "plan-runner", { ...common, name: planRunnerName(env), purpose: "plans every stack for pull requests and the daily drift check, read-only", workflowNames: ["diff", "drift"], policyArns: ["arn:aws:iam::aws:policy/ReadOnlyAccess"], statements: planRunnerStatements(env) });
      this.cluster.allowApiFrom("deploy-runner", { referencedSecurityGroupId: runner.securityGroup.id });
      this.cluster.allowApiFrom("plan-runner", { referencedSecurityGroupId: planner.securityGroup.id });
      this.cluster.grantView("plan-runner", planner.role.arn);
    }

    // The provisioner reads its environment name from the account alias at start (mattermost-cloud-<env>).
    new IamAccountAlias(this, "account-alias", { accountAlias: provisionerAccountAlias(env) });

    const zones = new PlatformZones(this, "zones", { env, vpcId: this.network.vpcId, associate: !env.network.existing });
    const alerts = new AlertsTopic(this, "alerts", { topicName: alertsTopicName(env), accountId: env.accountId, keyDeletionWindowDays: throwaway ? 7 : 30 });
    const webhookSecret = new DataAwsSecretsmanagerSecret(this, "alerts-webhook", { name: env.alerts.webhookSecretName });

    // Every CloudWatch alarm of every layer publishes to the topic; this posts them to the alerts channel.
    new AlertsForwarder(this, "alerts-forwarder", {
      functionName: alertsForwarderFunctionName(env),
      environmentName: env.name,
      topicArn: alerts.arn,
      webhookSecretName: env.alerts.webhookSecretName,
      webhookSecretArn: webhookSecret.arn,
      secretsKeyAlias: secretsKeyAlias(env),
      vpcId: this.network.vpcId,
      subnetIds: this.network.privateSubnetIds,
      kmsKeyArn: opsKey.arn,
      encryptSettings: !throwaway,
      logRetentionDays: env.cluster.logRetentionDays,
      region: env.region,
      accountId: env.accountId,
    });

    new DnsRegistrationFunction(this, "dns-registration", {
      functionName: dnsRegistrationFunctionName(env),
      environmentName: env.name,
      cluster: this.cluster,
      vpcId: this.network.vpcId,
      subnetIds: this.network.privateSubnetIds,
      zoneId: zones.privateZoneId,
      privateDomain: env.dns.privateDomain,
      // Every installation record of the public zone is probed on /api/v4/system/ping.
      probes: zones.publicZoneId ? { zoneId: zones.publicZoneId, domain: env.dns.publicDomain!, excludedNames: CNC_APPS } : undefined,
      alertsSecretArn: webhookSecret.arn,
      alertsSecretName: env.alerts.webhookSecretName,
      alarmTopicArn: alerts.arn,
      region: env.region,
      accountId: env.accountId,
      usEast1Provider: env.region === "us-east-1" ? undefined : this.providerIn("us-east-1"),
      logRetentionDays: env.cluster.logRetentionDays,
      kmsKeyArn: opsKey.arn,
      encryptSettings: !throwaway,
      secretsKeyAlias: secretsKeyAlias(env),
    });

    const outputs: Record<string, string | string[]> = {
      cluster_name: this.cluster.cluster.name,
      cluster_endpoint: this.cluster.cluster.endpoint,
      oidc_issuer: this.cluster.oidc.issuerUrl,
      oidc_provider_arn: this.cluster.oidc.providerArn,
      vpc_id: this.network.vpcId,
      private_subnet_ids: this.network.privateSubnetIds,
      public_subnet_ids: this.network.publicSubnetIds,
      node_security_group_id: this.cluster.nodeSecurityGroup.id,
      secrets_kms_key_arn: this.cluster.secretsKey.arn,
      alerts_topic_arn: alerts.arn,
      private_zone_id: zones.privateZoneId,
      ...(zones.publicZoneId ? { public_zone_id: zones.publicZoneId } : {}),
    };
    for (const [key, value] of Object.entries(outputs)) new TerraformOutput(this, key, { value });
  }
}

/**
 * What a plan needs beyond ReadOnlyAccess: its state lock object, the state key, the secrets the
 * stacks read at plan time, and the OpenSearch master role (the opensearch provider reads the
 * domain's role mappings through it; README "Where deploys run" lists this as an accepted risk).
 */
export function planRunnerStatements(env: Environment): PolicyStatement[] {
  const { region, accountId } = env;
  // Only the AWS-phase reads remain (each workload's Redis AUTH token): the apps' secrets reach
  // the clusters through the External Secrets Operator, never through a plan.
  const secrets = env.workloads.filter((w) => w.redis).map((w) => redisAuthSecretName(env, w.name));
  return [
    { Sid: "StateLocks", Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject"], Resource: `arn:aws:s3:::${stateBucketName(env)}/${env.name}/*.tflock` },
    {
      Sid: "StateKey",
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: `arn:aws:kms:${region}:${accountId}:key/*`,
      Condition: { "ForAnyValue:StringEquals": { "kms:ResourceAliases": `alias/${env.name}-terraform-state` } },
    },
    ...(secrets.length
      ? [
          { Sid: "SecretsThePlansRead", Effect: "Allow" as const, Action: ["secretsmanager:GetSecretValue"], Resource: secrets.map((n) => `arn:aws:secretsmanager:${region}:${accountId}:secret:${n}-*`) },
          decryptSecretsStatement({ region, accountId, keyAlias: secretsKeyAlias(env) }),
        ]
      : []),
    { Sid: "OpenSearchMappings", Effect: "Allow", Action: ["sts:AssumeRole"], Resource: `arn:aws:iam::${accountId}:role/${env.name}-logs-opensearch-admin` },
  ];
}
