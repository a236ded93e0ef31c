/**
 * local: the embedded default. Every stack targets a local AWS API emulator (moto on 127.0.0.1,
 * started by `make all`), keeps its state in .state/local/, and needs no AWS account.
 * Sizes are the smallest that still exercise every code path: two AZs, a single NAT gateway, one
 * workload cluster (prod shows several; the rehearsal's time budget pays per cluster).
 */
import type { EnvironmentInput } from "../../config/schema";

const environment: EnvironmentInput = {
  accountId: "123456789012",
  region: "us-east-1",
  target: "emulator",
  tags: { Environment: "local", ManagedBy: "cdktf" },
  network: {
    cidr: "10.0.0.0/16",
    azs: ["us-east-1a", "us-east-1b"],
    natGateways: "single",
    flowLogRetentionDays: 7,
  },
  cluster: {
    kubernetesVersion: "1.34",
    adminCidrs: ["192.168.100.0/24"],
    // Roles only (EKS access entries refuse STS session ARNs); the deploy runner's role is added by the stacks.
    deployRoleArns: ["arn:aws:iam::123456789012:role/local-deploy"],
    adminPrincipalArns: ["arn:aws:iam::123456789012:role/local-admin"],
    logRetentionDays: 7,
    nodeGroups: [{ name: "general", instanceTypes: ["t3.large"], minSize: 1, maxSize: 2, desiredSize: 1, diskSizeGiB: 30 }],
    // Pinned: the emulator has no EKS AMI parameters in SSM (real environments follow "latest").
    nodeAmiRelease: "1.34.2-20251120",
  },
  dns: {
    privateDomain: "internal.local.example.com",
    publicDomain: "local.example.com",
    publicApps: [],
  },
  alerts: { webhookSecretName: "local/cnc/mattermost-alerts-webhook" },
  monitoring: {
    retention: { raw: "15d", fiveMinutes: "30d", oneHour: "90d" },
    prometheusStorageGiB: 10,
    alertmanagerStorageGiB: 1,
  },
  auth: {
    enabled: true,
    oidc: {
      issuer: "https://idp.local.example.com",
      authorizationEndpoint: "https://idp.local.example.com/authorize",
      tokenEndpoint: "https://idp.local.example.com/token",
      userInfoEndpoint: "https://idp.local.example.com/userinfo",
      clientSecretName: "local/cnc/oidc-client",
    },
  },
  // Dedicated masters and access logs stay on: they cost nothing in the emulator and the rehearsal exercises them.
  // (A small real test environment could set dedicatedMasters.enabled: false to save three nodes; the policy step then asks for a reasoned exception.)
  logging: { instanceType: "t3.small.search", instanceCount: 2, volumeGiB: 10, logRetentionDays: 7, dedicatedMasters: { enabled: true, instanceType: "t3.small.search" } },
  accessLogs: { enabled: true, retentionDays: 7 },
  secrets: { grafanaAdmin: "local/cnc/grafana-admin" },
  provisioner: {
    imageTag: "v0.90.0",
    supervisorReplicas: 1,
    postgresVersion: "17",
    dbInstanceClass: "db.t4g.micro",
    backupRetentionDays: 1,
    utilitiesGitUrl: "https://gitlab.local.example.com",
    utilitiesGitPath: "/gitops/gitops.git",
    sshPublicKeySecretName: "local/cnc/provisioner-ssh-public-key",
    // The API verifies JWTs of the environment's IdP; make register-workloads authenticates with this client.
    apiAuth: { audience: "api://local-provisioner", jwksUrl: "https://idp.local.example.com/.well-known/jwks.json", clientSecretName: "local/cnc/provisioner-api-client" },
  },
  // The emulator holds the runner's project and role; the GitHub connection is a placeholder.
  deployRunner: {
    repositoryUrl: "https://github.com/example/cnc-platform",
    connectionArn: "arn:aws:codeconnections:us-east-1:123456789012:connection/00000000-0000-0000-0000-000000000000",
    computeType: "BUILD_GENERAL1_SMALL",
    logRetentionDays: 7,
  },
  workloads: [
    { name: "alpha", cidr: "10.1.0.0/16", nodeGroups: [{ name: "general", instanceTypes: ["t3.large"], minSize: 1, maxSize: 2, desiredSize: 1 }] },
  ],
};

export default environment;
