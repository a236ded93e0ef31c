import { DataAwsEksClusterAuth } from "@cdktf/provider-aws/lib/data-aws-eks-cluster-auth";
import { DataAwsKmsAlias } from "@cdktf/provider-aws/lib/data-aws-kms-alias";
import { DataAwsOpensearchDomain } from "@cdktf/provider-aws/lib/data-aws-opensearch-domain";
import { DataAwsRouteTables } from "@cdktf/provider-aws/lib/data-aws-route-tables";
import { DataAwsS3Bucket } from "@cdktf/provider-aws/lib/data-aws-s3-bucket";
import { DataAwsSecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-version";
import { DataAwsVpc } from "@cdktf/provider-aws/lib/data-aws-vpc";
import { EfsFileSystem } from "@cdktf/provider-aws/lib/efs-file-system";
import { EfsMountTarget } from "@cdktf/provider-aws/lib/efs-mount-target";
import { ElasticacheReplicationGroup } from "@cdktf/provider-aws/lib/elasticache-replication-group";
import { ElasticacheSubnetGroup } from "@cdktf/provider-aws/lib/elasticache-subnet-group";
import { Route53ZoneAssociation } from "@cdktf/provider-aws/lib/route53-zone-association";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { Fn, TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { NAMESPACES, bucketName, cncClusterName, installationDatabaseSecretName, provisionerRoleName, redisAuthSecretName, workloadClusterName } from "../config/names";
import type { Environment, WorkloadConfig } from "../config/schema";
import { PostgresDatabase } from "../constructs/data/postgres";
import { lookupPrivateZone } from "../constructs/dns/zones";
import { PlatformCluster } from "../constructs/eks/cluster";
import { IrsaRole } from "../constructs/eks/irsa-role";
import { ManagedNodeGroups } from "../constructs/eks/node-group";
import { HelmAddon } from "../constructs/helm/addon";
import { LoadBalancerController } from "../constructs/ingress/load-balancer-controller";
import { FluentBit } from "../constructs/logging/fluent-bit";
import { OBJSTORE_KEY, OBJSTORE_SECRET, PrometheusStack, SIDECAR_DISCOVERY, KPS_RELEASE } from "../constructs/monitoring/prometheus-stack";
import { THANOS_RELEASE } from "../constructs/monitoring/thanos";
import { PlatformNetwork } from "../constructs/network/network";
import { PlatformKey } from "../constructs/security/kms-key";
import { SecureBucket } from "../constructs/storage/secure-bucket";
import { MonitoringEndpoints, PROMETHEUS_PORT, THANOS_GRPC_PORT } from "../constructs/workload/monitoring-endpoints";
import { CncPeering } from "../constructs/workload/peering";
import { PlatformStack } from "./platform-stack";
import { THANOS_IMAGE_TAG } from "./post-install-stack";

/**
 * `<env>-workload-<name>`: one workload cluster. It serves Mattermost installations (EKS, a shared
 * PostgreSQL, an S3 filestore reached through IRSA, optional Redis and EFS, the AWS Load
 * Balancer Controller for installation ingress, the Mattermost operator) and reports to the C&C
 * (VPC peering, the private zone, Prometheus with a Thanos sidecar uploading to the
 * environment's metrics bucket, a Thanos query and Prometheus behind an internal NLB whose names
 * store discovery and the DNS-registration Lambda find, fluent-bit to the C&C's OpenSearch).
 */
export class WorkloadStack extends PlatformStack {
  readonly workload: WorkloadConfig;

  constructor(scope: Construct, id: string, env: Environment, workload: WorkloadConfig) {
    super(scope, id, { env });
    this.workload = workload;
    const name = workloadClusterName(env, workload.name);
    const throwaway = env.target === "emulator";
    const azs = workload.azs ?? env.network.azs;

    // What the C&C layers made, found by name.
    const cncVpc = env.network.existing
      ? new DataAwsVpc(this, "cnc-vpc", { id: env.network.existing.vpcId })
      : new DataAwsVpc(this, "cnc-vpc", { tags: { "platform/network": cncClusterName(env) } });
    const cncRouteTables = new DataAwsRouteTables(this, "cnc-private-route-tables", { vpcId: cncVpc.id, tags: { tier: "private" } });
    const zone = lookupPrivateZone(this, "private-zone", env);
    const metricsBucket = new DataAwsS3Bucket(this, "metrics-bucket", { bucket: bucketName(env, "metrics") });
    const metricsKey = new DataAwsKmsAlias(this, "metrics-key", { name: `alias/${bucketName(env, "metrics")}` });
    const logs = new DataAwsOpensearchDomain(this, "logs", { domainName: `${env.name}-logs` });

    // The cluster, with the same constructs and defaults as the C&C.
    const network = new PlatformNetwork(this, "network", {
      name,
      cidr: workload.cidr,
      azs,
      natGateways: env.network.natGateways,
      flowLogRetentionDays: env.network.flowLogRetentionDays,
      clusterNames: [name],
    });
    const cluster = new PlatformCluster(this, "eks", {
      name,
      kubernetesVersion: workload.kubernetesVersion ?? env.cluster.kubernetesVersion,
      vpcId: network.vpcId,
      subnetIds: network.privateSubnetIds,
      adminCidrs: [env.network.cidr, ...env.cluster.adminCidrs],
      adminPrincipalArns: env.cluster.adminPrincipalArns,
      logRetentionDays: env.cluster.logRetentionDays,
      keyDeletionWindowDays: throwaway ? 7 : 30,
    });
    // The provisioner in the C&C administers this cluster (installations are its work).
    cluster.grantAdmin("provisioner", `arn:aws:iam::${env.accountId}:role/${provisionerRoleName(env)}`);
    const nodes = new ManagedNodeGroups(this, "nodes", { cluster, subnetIds: network.privateSubnetIds, groups: workload.nodeGroups });
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
    });

    // Kubernetes and Helm on the new cluster (its admin is whoever applies: an access-entry admin).
    const connection = {
      host: cluster.cluster.endpoint,
      clusterCaCertificate: Fn.base64decode(cluster.cluster.certificateAuthority.get(0).data),
      // A presigned token (no API call), valid for the apply.
      token: new DataAwsEksClusterAuth(this, "auth", { name: cluster.cluster.name }).token,
    };
    new KubernetesProvider(this, "kubernetes", connection);
    new HelmProvider(this, "helm", { kubernetes: connection });
    const ns = Object.fromEntries(
      (["monitoring", "logging", "mattermost"] as const).map((key) => [
        key,
        new NamespaceV1(this, `ns-${key}`, {
          metadata: { name: key === "mattermost" ? "mattermost-operator" : NAMESPACES[key], labels: { "pod-security.kubernetes.io/enforce": key === "mattermost" ? "restricted" : "privileged" } },
          dependsOn: nodes.nodeGroups,
        }),
      ]),
    ) as Record<"monitoring" | "logging" | "mattermost", NamespaceV1>;

    // Monitoring agent: Prometheus + sidecar into the environment's bucket, and a query for the C&C.
    const objstore = new SecretV1(this, "objstore", {
      metadata: { name: OBJSTORE_SECRET, namespace: NAMESPACES.monitoring },
      data: {
        [OBJSTORE_KEY]: `type: S3\nconfig:\n  bucket: ${metricsBucket.bucket}\n  endpoint: s3.${env.region}.amazonaws.com\n  region: ${env.region}\n  aws_sdk_auth: true\n`,
      },
      dependsOn: [ns.monitoring],
    });
    const prometheus = new PrometheusStack(this, "prometheus", {
      version: env.versions["kube-prometheus-stack"],
      namespace: NAMESPACES.monitoring,
      clusterLabel: workload.name,
      environment: env.name,
      oidc: cluster.oidc,
      rolePrefix: name,
      sidecarStatements: [
          { Sid: "ListBlocks", Effect: "Allow", Action: ["s3:ListBucket"], Resource: metricsBucket.arn },
          { Sid: "Blocks", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: `${metricsBucket.arn}/*` },
          { Sid: "BlockKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: metricsKey.targetKeyArn },
      ],
      objstoreSecret: objstore,
      storageGiB: env.monitoring.prometheusStorageGiB,
      retention: env.monitoring.prometheusRetention,
      after: [ns.monitoring],
    });
    const query = new HelmAddon(this, "thanos-query", {
      app: "thanos",
      version: env.versions.thanos,
      namespace: NAMESPACES.monitoring,
      releaseName: THANOS_RELEASE,
      values: {
        fullnameOverride: THANOS_RELEASE,
        image: { tag: THANOS_IMAGE_TAG },
        objstoreConfig: { create: false, name: OBJSTORE_SECRET, key: OBJSTORE_KEY },
        additionalReplicaLabels: ["prometheus_replica"],
        additionalEndpoints: [SIDECAR_DISCOVERY(NAMESPACES.monitoring)],
        query: { enabled: true, replicas: 2, resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } }, podDisruptionBudget: { enabled: true, minAvailable: 1 } },
        storeGateway: { enabled: false },
        compact: { enabled: false },
        rule: { enabled: false },
      },
      dependsOn: [prometheus.addon],
    });
    const lbc = new LoadBalancerController(this, "load-balancer-controller", {
      version: env.versions["aws-load-balancer-controller"],
      clusterName: name,
      region: env.region,
      vpcId: network.vpcId,
      oidc: cluster.oidc,
      rolePrefix: name,
      after: nodes.nodeGroups,
    });
    // The controller registers the pods behind the Terraform-owned NLB.
    for (const [key, service, port, tg] of [
      ["thanos-grpc", `${THANOS_RELEASE}-query`, THANOS_GRPC_PORT, endpoints.thanosTargetGroup.arn],
      ["prometheus", `${KPS_RELEASE}-prometheus`, PROMETHEUS_PORT, endpoints.prometheusTargetGroup.arn],
    ] as const) {
      new Manifest(this, `tgb-${key}`, {
        manifest: {
          apiVersion: "elbv2.k8s.aws/v1beta1",
          kind: "TargetGroupBinding",
          metadata: { name: key, namespace: NAMESPACES.monitoring },
          spec: { serviceRef: { name: service, port }, targetGroupARN: tg, targetType: "ip" },
        },
        dependsOn: [lbc.addon.release, query.release],
      });
    }

    new FluentBit(this, "fluent-bit", {
      version: env.versions["fluent-bit"],
      namespace: NAMESPACES.logging,
      clusterName: name,
      region: env.region,
      accountId: env.accountId,
      oidc: cluster.oidc,
      opensearchHost: logs.endpoint,
      domainName: `${env.name}-logs`,
      after: [ns.logging],
    });

    // Mattermost serving.
    new PostgresDatabase(this, "installations-db", {
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
      keyDeletionWindowDays: throwaway ? 7 : 30,
    });
    const filestoreKey = new PlatformKey(this, "filestore-key", { alias: `${name}-filestore`, description: `Mattermost files of ${name}`, deletionWindowDays: throwaway ? 7 : 30 });
    const filestore = new SecureBucket(this, "filestore", { bucketName: bucketName(env, `${workload.name}-files`), kmsKeyArn: filestoreKey.arn, forceDestroy: throwaway });

    if (workload.redis) {
      const sg = new SecurityGroup(this, "redis-sg", { name: `${name}-redis`, description: `${name}: Redis from nodes only`, vpcId: network.vpcId });
      new VpcSecurityGroupIngressRule(this, "redis-from-nodes", { securityGroupId: sg.id, referencedSecurityGroupId: cluster.nodeSecurityGroup.id, ipProtocol: "tcp", fromPort: 6379, toPort: 6379 });
      const subnets = new ElasticacheSubnetGroup(this, "redis-subnets", { name: `${name}-redis`, subnetIds: network.privateSubnetIds });
      const token = new DataAwsSecretsmanagerSecretVersion(this, "redis-auth", { secretId: redisAuthSecretName(env, workload.name) });
      new ElasticacheReplicationGroup(this, "redis", {
        replicationGroupId: `${name}-redis`.slice(0, 40),
        description: `${name} Mattermost cache`,
        engine: "redis",
        nodeType: "cache.t4g.medium",
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
      new VpcSecurityGroupIngressRule(this, "efs-from-nodes", { securityGroupId: sg.id, referencedSecurityGroupId: cluster.nodeSecurityGroup.id, ipProtocol: "tcp", fromPort: 2049, toPort: 2049 });
      const fs = new EfsFileSystem(this, "efs", { encrypted: true, kmsKeyId: filestoreKey.arn, performanceMode: "generalPurpose", throughputMode: "elastic", tags: { Name: `${name}-shared` } });
      network.privateSubnetIds.forEach((subnet, i) => new EfsMountTarget(this, `efs-mount-${i}`, { fileSystemId: fs.id, subnetId: subnet, securityGroups: [sg.id] }));
    }

    const operator = new HelmAddon(this, "mattermost-operator", {
      app: "mattermost-operator",
      version: env.versions["mattermost-operator"],
      namespace: "mattermost-operator",
      values: { mattermostOperator: { replicas: 1 } },
      dependsOn: [lbc.addon],
      after: [ns.mattermost],
    });

    // Declared installations: a namespace, a ServiceAccount whose IRSA role reaches only its own
    // prefix of the filestore, its own database connection as a Secret, and the Mattermost resource.
    for (const inst of workload.installations) {
      const nsName = `mm-${inst.name}`;
      const instNs = new NamespaceV1(this, `ns-${inst.name}`, { metadata: { name: nsName }, dependsOn: nodes.nodeGroups });
      const role = new IrsaRole(this, `filestore-role-${inst.name}`, {
        roleName: `${name}-${inst.name}-files`.slice(0, 64),
        oidc: cluster.oidc,
        namespace: nsName,
        serviceAccount: inst.name,
        statements: [
          { Sid: "List", Effect: "Allow", Action: ["s3:ListBucket"], Resource: filestore.arn, Condition: { StringLike: { "s3:prefix": [`${inst.name}/*`] } } },
          { Sid: "Files", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: `${filestore.arn}/${inst.name}/*` },
          { Sid: "Key", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: filestoreKey.arn },
        ],
      });
      new ServiceAccountV1(this, `sa-${inst.name}`, { metadata: { name: inst.name, namespace: nsName, annotations: { "eks.amazonaws.com/role-arn": role.arn } }, dependsOn: [instNs] });
      // Each installation has its own database user; its DSN is read from Secrets Manager at deploy
      // time (the master credentials never reach an installation).
      const dsn = new DataAwsSecretsmanagerSecretVersion(this, `db-dsn-${inst.name}`, { secretId: installationDatabaseSecretName(env, workload.name, inst.name) });
      const dbSecret = new SecretV1(this, `db-${inst.name}`, {
        metadata: { name: `${inst.name}-database`, namespace: nsName },
        data: { DB_CONNECTION_STRING: dsn.secretString },
        dependsOn: [instNs],
      });
      new Manifest(this, `installation-${inst.name}`, {
        manifest: {
          apiVersion: "installation.mattermost.com/v1beta1",
          kind: "Mattermost",
          metadata: { name: inst.name, namespace: nsName },
          spec: {
            size: inst.size,
            version: inst.version,
            ingress: { enabled: true, host: inst.dns, ingressClass: "alb" },
            database: { external: { secret: dbSecret.metadata.name } },
            fileStore: { external: { url: `s3.${env.region}.amazonaws.com`, bucket: filestore.name, useServiceAccount: true } },
          },
        },
        dependsOn: [operator.release],
      });
    }

    new TerraformOutput(this, "cluster_name", { value: cluster.cluster.name });
    new TerraformOutput(this, "thanos_grpc_name", { value: endpoints.grpcName });
    new TerraformOutput(this, "prometheus_name", { value: endpoints.prometheusName });
    new TerraformOutput(this, "filestore_bucket", { value: filestore.name });
  }
}
