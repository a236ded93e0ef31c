/**
 * prod: the production C&C and its workload clusters.
 *
 * A realistic template with placeholder ids. To add an environment, copy this folder to
 * environments/<name>/, edit the values, and run `make synth ENVIRONMENT=<name>`.
 * Secrets are referenced by Secrets Manager name only; their values never appear here.
 */
import type { EnvironmentInput } from "../../config/schema";

const environment: EnvironmentInput = {
  accountId: "111111111111",
  region: "us-east-1",
  target: "aws",
  stateBucket: "cloud-prod-tfstate-111111111111",
  tags: { Environment: "prod", Owner: "platform-team", ManagedBy: "cdktf" },
  network: {
    cidr: "10.10.0.0/16",
    azs: ["us-east-1a", "us-east-1b", "us-east-1c"],
    natGateways: "per-az",
    flowLogRetentionDays: 365,
  },
  cluster: {
    kubernetesVersion: "1.34",
    endpointPublicAccess: false,
    adminCidrs: ["10.200.0.0/16"],
    // Roles only: for an SSO permission set give arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/<AWSReservedSSO_...>.
    deployRoleArns: ["arn:aws:iam::111111111111:role/platform-deploy"],
    adminPrincipalArns: ["arn:aws:iam::111111111111:role/platform-admin"],
    logRetentionDays: 365,
    nodeGroups: [{ name: "general", instanceTypes: ["m6i.xlarge", "m6a.xlarge"], minSize: 3, maxSize: 9, desiredSize: 3, diskSizeGiB: 100 }],
  },
  dns: {
    privateZoneId: "Z0PRIVATEPLACEHOLDER1",
    privateDomain: "internal.cloud.example.com",
    publicZoneId: "Z0PUBLICPLACEHOLDER01",
    publicDomain: "cloud.example.com",
    publicApps: ["grafana"],
  },
  // Critical alerts page someone (PagerDuty routing key in this secret) as well as posting to Mattermost.
  alerts: { webhookSecretName: "prod/cnc/mattermost-alerts-webhook", pager: { service: "pagerduty", secretName: "prod/cnc/pagerduty-routing-key" } },
  monitoring: {
    retention: { raw: "30d", fiveMinutes: "90d", oneHour: "1y" },
    prometheusRetention: "2d",
    prometheusStorageGiB: 100,
    alertmanagerStorageGiB: 10,
  },
  auth: {
    enabled: true,
    oidc: {
      issuer: "https://idp.example.com",
      authorizationEndpoint: "https://idp.example.com/oauth2/authorize",
      tokenEndpoint: "https://idp.example.com/oauth2/token",
      userInfoEndpoint: "https://idp.example.com/oauth2/userinfo",
      clientSecretName: "prod/cnc/oidc-client",
    },
  },
  // Three dedicated masters keep the log domain's quorum while data nodes are replaced (the default; shown here).
  logging: { instanceType: "r6g.large.search", instanceCount: 3, volumeGiB: 200, logRetentionDays: 90, dedicatedMasters: { enabled: true, instanceType: "m6g.large.search" } },
  // S3 server access logs of every bucket, kept a year (the default; shown here).
  accessLogs: { enabled: true, retentionDays: 365 },
  secrets: { grafanaAdmin: "prod/cnc/grafana-admin" },
  provisioner: {
    imageTag: "v0.90.0",
    supervisorReplicas: 3,
    postgresVersion: "17",
    dbInstanceClass: "db.r6g.large",
    backupRetentionDays: 30,
    utilitiesGitUrl: "https://gitlab.example.com",
    utilitiesGitPath: "/gitops/gitops.git",
    sshPublicKeySecretName: "prod/cnc/provisioner-ssh-public-key",
    // The API verifies JWTs of the environment's IdP; make register-workloads authenticates with this client.
    apiAuth: { audience: "api://prod-provisioner", jwksUrl: "https://idp.example.com/.well-known/jwks.json", clientSecretName: "prod/cnc/provisioner-api-client" },
  },
  // Deploys after the cluster layer run on this runner (README "Where deploys run").
  deployRunner: {
    repositoryUrl: "https://github.com/example/cnc-platform",
    connectionArn: "arn:aws:codeconnections:us-east-1:111111111111:connection/00000000-0000-0000-0000-000000000000",
    computeType: "BUILD_GENERAL1_MEDIUM",
    logRetentionDays: 365,
  },
  workloads: [
    { name: "alpha", cidr: "10.20.0.0/16", nodeGroups: [{ name: "general", instanceTypes: ["m6i.2xlarge"], minSize: 3, maxSize: 12, desiredSize: 3 }], redis: true, efs: true },
    { name: "beta", cidr: "10.21.0.0/16", nodeGroups: [{ name: "general", instanceTypes: ["m6i.2xlarge"], minSize: 3, maxSize: 12, desiredSize: 3 }] },
  ],
};

export default environment;
