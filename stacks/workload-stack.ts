import { DataAwsRouteTables } from "@cdktf/provider-aws/lib/data-aws-route-tables";
import { DataAwsSecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-version";
import { DataAwsSnsTopic } from "@cdktf/provider-aws/lib/data-aws-sns-topic";
import { DataAwsVpc } from "@cdktf/provider-aws/lib/data-aws-vpc";
import { EfsFileSystem } from "@cdktf/provider-aws/lib/efs-file-system";
import { EfsMountTarget } from "@cdktf/provider-aws/lib/efs-mount-target";
import { PlatformBackupPlan } from "../constructs/data/backup-plan";
import { ElasticacheReplicationGroup } from "@cdktf/provider-aws/lib/elasticache-replication-group";
import { ElasticacheSubnetGroup } from "@cdktf/provider-aws/lib/elasticache-subnet-group";
import { Route53ZoneAssociation } from "@cdktf/provider-aws/lib/route53-zone-association";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { accessLogBucketName, alertsTopicName, bucketName, clusterAdminRoleArns, cncClusterName, planRunnerRoleArn, provisionerRoleName, redisAuthSecretName, workloadClusterName } from "../config/names";
import type { Environment, WorkloadConfig } from "../config/schema";
import { PostgresDatabase } from "../constructs/data/postgres";
import { lookupPrivateZone } from "../constructs/dns/zones";
import { PlatformCluster } from "../constructs/eks/cluster";
import { ManagedNodeGroups } from "../constructs/eks/node-group";
import { PlatformNetwork } from "../constructs/network/network";
import { PlatformKey } from "../constructs/security/kms-key";
import { SecureBucket } from "../constructs/storage/secure-bucket";
import { MonitoringEndpoints } from "../constructs/workload/monitoring-endpoints";
import { CncPeering } from "../constructs/workload/peering";
import { PlatformStack } from "./platform-stack";

/**
 * `<env>-workload-<name>`: the AWS phase of one workload cluster: network, EKS and nodes (admins:
 * the deploy roles, the deploy runner, the environment's admins and the C&C's provisioner),
 * peering with the C&C and the private zone, the Terraform-owned monitoring NLB with its
 * `<name>-grpc` / `<name>.prometheus` names, the installations' PostgreSQL, S3 filestore, and
 * optional Redis and EFS. No Kubernetes provider: the cluster's objects are the
 * `<env>-workload-<name>-apps` stack, which finds this cluster by name.
 */
export class WorkloadStack extends PlatformStack {
  readonly workload: WorkloadConfig;

  constructor(scope: Construct, id: string, env: Environment, workload: WorkloadConfig) {
    super(scope, id, { env, dataProtection: workload.dataProtection });
    this.workload = workload;
    const name = workloadClusterName(env, workload.name);
    const throwaway = env.target === "emulator";
    const azs = workload.azs ?? env.network.azs;
    // Encrypts this stack's log groups (flow logs, control plane).
    const opsKey = new PlatformKey(this, "operations-key", {
      alias: `${id}-operations`,
      description: `Logs of ${id}`,
      cloudWatchLogs: { region: env.region, accountId: env.accountId },
      deletionWindowDays: throwaway ? 7 : 30,
    });

    // What the C&C layers made, found by name.
    const cncVpc = env.network.existing
      ? new DataAwsVpc(this, "cnc-vpc", { id: env.network.existing.vpcId })
      : new DataAwsVpc(this, "cnc-vpc", { tags: { "platform/network": cncClusterName(env) } });
    const cncRouteTables = new DataAwsRouteTables(this, "cnc-private-route-tables", { vpcId: cncVpc.id, tags: { tier: "private" } });
    const zone = lookupPrivateZone(this, "private-zone", env);

    // The cluster, with the same constructs and defaults as the C&C.
    const network = new PlatformNetwork(this, "network", {
      name,
      cidr: workload.cidr,
      azs,
      natGateways: env.network.natGateways,
      region: env.region,
      interfaceEndpoints: env.network.interfaceEndpoints,
      flowLogRetentionDays: env.network.flowLogRetentionDays,
      logsKmsKeyArn: opsKey.arn,
      clusterNames: [name],
    });
    const cluster = new PlatformCluster(this, "eks", {
      name,
      kubernetesVersion: workload.kubernetesVersion ?? env.cluster.kubernetesVersion,
      vpcId: network.vpcId,
      subnetIds: network.privateSubnetIds,
      adminCidrs: [env.network.cidr, ...env.cluster.adminCidrs],
      adminPrincipalArns: clusterAdminRoleArns(env),
      logRetentionDays: env.cluster.logRetentionDays,
      logsKmsKeyArn: opsKey.arn,
      keyDeletionWindowDays: throwaway ? 7 : 30,
    });
    // The provisioner in the C&C administers this cluster (installations are its work).
    cluster.grantAdmin("provisioner", `arn:aws:iam::${env.accountId}:role/${provisionerRoleName(env)}`);
    // The plan runner (pull-request diffs) reads everything and changes nothing.
    if (env.deployRunner.enabled) cluster.grantView("plan-runner", planRunnerRoleArn(env));
    const version = workload.kubernetesVersion ?? env.cluster.kubernetesVersion;
    // The workload's own AMI release, else the C&C's when both run the same minor, else the latest.
    const amiRelease = workload.nodeAmiRelease ?? (version === env.cluster.kubernetesVersion ? env.cluster.nodeAmiRelease : "latest");
    const nodes = new ManagedNodeGroups(this, "nodes", { cluster, subnetIds: network.privateSubnetIds, zones: azs, groups: workload.nodeGroups, kubernetesVersion: version, amiRelease });
    cluster.addComputeAddons(nodes.nodeGroups);

    // Reachability from the C&C.
    new CncPeering(this, "peering", {
      name,
      workloadVpcId: network.vpcId,
      workloadCidr: workload.cidr,
      workloadRouteTableIds: network.privateRouteTableIds,
      cncVpcId: cncVpc.id,
      cncCidr: env.network.cidr,
      cncRouteTableIds: cncRouteTables.ids,
    });
    new Route53ZoneAssociation(this, "private-zone-association", { zoneId: zone.zoneId, vpcId: network.vpcId });
    const endpoints = new MonitoringEndpoints(this, "monitoring-endpoints", {
      clusterName: name,
      workloadName: workload.name,
      vpcId: network.vpcId,
      subnetIds: network.privateSubnetIds,
      cncCidr: env.network.cidr,
      nodeSecurityGroupId: cluster.nodeSecurityGroup.id,
      zoneId: zone.zoneId,
      privateDomain: env.dns.privateDomain,
      // On by default; the emulator's environment is destroyed at the end of every rehearsal.
      deletionProtection: !throwaway && workload.dataProtection !== false,
    });

    // Mattermost serving.
    const database = new PostgresDatabase(this, "installations-db", {
      identifier: `${name}-installations`,
      databaseName: "mattermost",
      engineVersion: workload.database.engineVersion,
      instanceClass: workload.database.instanceClass,
      vpcId: network.vpcId,
      subnetIds: network.privateSubnetIds,
      clientSecurityGroupIds: [cluster.nodeSecurityGroup.id],
      adminCidrs: env.cluster.adminCidrs,
      backupRetentionDays: workload.database.backupRetentionDays,
      production: !throwaway,
      deletionProtection: !throwaway && workload.dataProtection !== false,
      multiAz: !throwaway && workload.database.multiAz,
      keyDeletionWindowDays: throwaway ? 7 : 30,
      // The emulator does not keep the monitoring interval; real accounts get OS metrics every minute.
      monitoringIntervalSeconds: throwaway ? 0 : 60,
      alarmTopicArn: new DataAwsSnsTopic(this, "alerts-topic", { name: alertsTopicName(env) }).arn,
    });
    const filestoreKey = new PlatformKey(this, "filestore-key", { alias: `${name}-filestore`, description: `Mattermost files of ${name}`, deletionWindowDays: throwaway ? 7 : 30 });
    const filestore = new SecureBucket(this, "filestore", { bucketName: bucketName(env, `${workload.name}-files`), kmsKeyArn: filestoreKey.arn, forceDestroy: throwaway, accessLogBucket: env.accessLogs.enabled ? accessLogBucketName(env) : undefined });

    // What AWS Backup keeps beyond RDS's automated backups (the database; EFS when there is one).
    const backedUp = [database.instance.arn];

    if (workload.redis) {
      const sg = new SecurityGroup(this, "redis-sg", { name: `${name}-redis`, description: `${name}: Redis from nodes only`, vpcId: network.vpcId });
      new VpcSecurityGroupIngressRule(this, "redis-from-nodes", { securityGroupId: sg.id, referencedSecurityGroupId: cluster.nodeSecurityGroup.id, ipProtocol: "tcp", fromPort: 6379, toPort: 6379, description: "Redis from cluster nodes" });
      const subnets = new ElasticacheSubnetGroup(this, "redis-subnets", { name: `${name}-redis`, subnetIds: network.privateSubnetIds });
      const token = new DataAwsSecretsmanagerSecretVersion(this, "redis-auth", { secretId: redisAuthSecretName(env, workload.name) });
      new ElasticacheReplicationGroup(this, "redis", {
        replicationGroupId: `${name}-redis`.slice(0, 40),
        description: `${name} Mattermost cache`,
        engine: "redis",
        nodeType: workload.redisNodeType,
        numCacheClusters: 2,
        automaticFailoverEnabled: true,
        multiAzEnabled: true,
        subnetGroupName: subnets.name,
        securityGroupIds: [sg.id],
        atRestEncryptionEnabled: "true",
        transitEncryptionEnabled: true,
        authToken: token.secretString,
        kmsKeyId: filestoreKey.arn,
      });
    }
    if (workload.efs) {
      const sg = new SecurityGroup(this, "efs-sg", { name: `${name}-efs`, description: `${name}: NFS from nodes only`, vpcId: network.vpcId });
      new VpcSecurityGroupIngressRule(this, "efs-from-nodes", { securityGroupId: sg.id, referencedSecurityGroupId: cluster.nodeSecurityGroup.id, ipProtocol: "tcp", fromPort: 2049, toPort: 2049, description: "NFS from cluster nodes" });
      const fs = new EfsFileSystem(this, "efs", { encrypted: true, kmsKeyId: filestoreKey.arn, performanceMode: "generalPurpose", throughputMode: "elastic", tags: { Name: `${name}-shared` } });
      network.privateSubnetIds.forEach((subnet, i) => new EfsMountTarget(this, `efs-mount-${i}`, { fileSystemId: fs.id, subnetId: subnet, securityGroups: [sg.id] }));
      backedUp.push(fs.arn);
    }
    if (env.backups.enabled) {
      new PlatformBackupPlan(this, "backups", { name, kmsKeyArn: filestoreKey.arn, schedule: env.backups.schedule, retentionDays: env.backups.retentionDays, resourceArns: backedUp });
    }

    new TerraformOutput(this, "cluster_name", { value: cluster.cluster.name });
    new TerraformOutput(this, "thanos_grpc_name", { value: endpoints.grpcName });
    new TerraformOutput(this, "prometheus_name", { value: endpoints.prometheusName });
    new TerraformOutput(this, "filestore_bucket", { value: filestore.name });
  }
}
