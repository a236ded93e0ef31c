/**
 * staging: where every change is applied before prod (README "Promotion: staging, then prod").
 *
 * The same shape as prod, smaller and cheaper: its own account, two zones, one NAT gateway,
 * single-AZ databases, spot nodes for the workload cluster (stateless Mattermost pods; the C&C's
 * Prometheus, Alertmanager and Thanos hold EBS volumes and stay on on-demand nodes), a smaller
 * log domain and shorter retention. Placeholder ids; secrets by Secrets Manager name only.
 */
import type { EnvironmentInput } from "../../config/schema";

const environment: EnvironmentInput = {
  accountId: "222222222222",
  region: "us-east-1",
  target: "aws",
  stateBucket: "cloud-staging-tfstate-222222222222",
  tags: { Environment: "staging", Owner: "platform-team", ManagedBy: "cdktf" },
  network: {
    cidr: "10.110.0.0/16",
    azs: ["us-east-1a", "us-east-1b"],
    // One NAT gateway in total: a zone outage takes staging's egress with it, which staging can afford.
    natGateways: "single",
    flowLogRetentionDays: 30,
  },
  cluster: {
    // The same minor as prod: staging is where a minor upgrade is tried first.
    kubernetesVersion: "1.34",
    endpointPublicAccess: false,
    adminCidrs: ["10.200.0.0/16"],
    deployRoleArns: ["arn:aws:iam::222222222222:role/platform-deploy"],
    adminPrincipalArns: ["arn:aws:iam::222222222222:role/platform-admin"],
    logRetentionDays: 30,
    nodeGroups: [{ name: "general", instanceTypes: ["m6i.large", "m6a.large"], minSize: 2, maxSize: 4, desiredSize: 2, diskSizeGiB: 50 }],
  },
  dns: {
    privateZoneId: "Z0STAGINGPRIVATE0001",
    privateDomain: "internal.staging.cloud.example.com",
    publicZoneId: "Z0STAGINGPUBLIC00001",
    publicDomain: "staging.cloud.example.com",
    publicApps: ["grafana"],
  },
  // No pager: staging's alerts go to its Mattermost channel only.
  alerts: { webhookSecretName: "staging/cnc/mattermost-alerts-webhook" },
  monitoring: {
    retention: { raw: "15d", fiveMinutes: "30d", oneHour: "90d" },
    prometheusRetention: "2d",
    prometheusStorageGiB: 50,
    alertmanagerStorageGiB: 5,
  },
  auth: {
    enabled: true,
    oidc: {
      issuer: "https://idp.example.com",
      authorizationEndpoint: "https://idp.example.com/oauth2/authorize",
      tokenEndpoint: "https://idp.example.com/oauth2/token",
      userInfoEndpoint: "https://idp.example.com/oauth2/userinfo",
      clientSecretName: "staging/cnc/oidc-client",
    },
  },
  // Two data nodes without dedicated masters: cheaper, and a data-node replacement may pause log ingestion.
  logging: { instanceType: "t3.medium.search", instanceCount: 2, volumeGiB: 50, logRetentionDays: 14, dedicatedMasters: { enabled: false }, snapshots: { retentionDays: 14 } },
  accessLogs: { enabled: true, retentionDays: 90 },
  secrets: { grafanaAdmin: "staging/cnc/grafana-admin" },
  provisioner: {
    imageTag: "v0.90.0",
    supervisorReplicas: 1,
    postgresVersion: "17",
    dbInstanceClass: "db.t4g.medium",
    backupRetentionDays: 7,
    // Single-AZ: a zone outage stops the provisioner until RDS recovers the instance; staging accepts that.
    multiAz: false,
    utilitiesGitUrl: "https://gitlab.example.com",
    utilitiesGitPath: "/gitops/gitops.git",
    sshPublicKeySecretName: "staging/cnc/provisioner-ssh-public-key",
    apiAuth: { audience: "api://staging-provisioner", jwksUrl: "https://idp.example.com/.well-known/jwks.json", clientSecretName: "staging/cnc/provisioner-api-client" },
  },
  deployRunner: {
    repositoryUrl: "https://github.com/example/cnc-platform",
    connectionArn: "arn:aws:codeconnections:us-east-1:222222222222:connection/00000000-0000-0000-0000-000000000000",
    computeType: "BUILD_GENERAL1_SMALL",
    logRetentionDays: 90,
  },
  workloads: [
    {
      name: "alpha",
      cidr: "10.120.0.0/16",
      // Spot: Mattermost pods are stateless (data in RDS, S3 and EFS) and the group spans several types.
      nodeGroups: [{ name: "general", instanceTypes: ["m6i.xlarge", "m6a.xlarge", "m5.xlarge"], minSize: 2, maxSize: 6, desiredSize: 2, capacityType: "SPOT" }],
      redis: true,
      redisNodeType: "cache.t4g.small",
      efs: true,
      database: { engineVersion: "17", instanceClass: "db.t4g.medium", backupRetentionDays: 7, multiAz: false },
    },
  ],
};

export default environment;
