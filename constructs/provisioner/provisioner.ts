import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { IngressV1 } from "@cdktf/provider-kubernetes/lib/ingress-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { IMAGES } from "../../config/versions";
import { PostgresDatabase } from "../data/postgres";
import { ClusterOidc, IrsaRole, type PolicyStatement } from "../eks/irsa-role";
import { ManifestsRelease } from "../helm/manifests-release";
import type { AppIngress } from "../ingress/app-ingress";
import { PlatformKey } from "../security/kms-key";
import { SecureBucket } from "../storage/secure-bucket";

export const PROVISIONER_NAMESPACE = "provisioner";
export const PROVISIONER_SERVICE_ACCOUNT = "provisioner";
const API_PORT = 8075;
/** The binary in the pinned image; not on its PATH (reference/mattermost-cloud-v0.90.0.md). */
const CLOUD_BINARY = "/mattermost-cloud/cloud";
/**
 * Wraps every provisioner container: reads the RDS-managed master secret with the pod's IRSA role
 * and exports the DSN as CP_DATABASE (the server's --database), then runs the given command. The
 * image's AWS CLI brings python3, which URL-encodes the credentials.
 */
export const START_WITH_DATABASE = [
  'secret=$(aws secretsmanager get-secret-value --secret-id "$DB_SECRET_ARN" --query SecretString --output text)',
  'CP_DATABASE=$(printf %s "$secret" | python3 -c \'import json,os,sys,urllib.parse as u; s=json.load(sys.stdin); q=lambda v: u.quote(v, safe=""); print("postgres://%s:%s@%s/cloud?sslmode=require&connect_timeout=10" % (q(s["username"]), q(s["password"]), os.environ["DB_ENDPOINT"]))\')',
  "export CP_DATABASE",
  'exec "$@"',
].join("\n");
const METRICS_PORT = 8076;

export interface ProvisionerProps {
  readonly environment: string;
  readonly accountId: string;
  readonly region: string;
  /** IAM role name (config/names.ts provisionerRoleName): workload clusters trust it by this name. */
  readonly roleName: string;
  readonly imageTag: string;
  readonly supervisorReplicas: number;
  readonly postgresVersion: string;
  readonly dbInstanceClass: string;
  readonly backupRetentionDays: number;
  readonly production: boolean;
  readonly stateStoreBucketName: string;
  readonly utilitiesGitUrl: string;
  readonly privateDomain: string;
  /** Hosted zones the provisioner writes installation records in. */
  readonly zoneIds: string[];
  /** `--allow-list-cidr-range` (installations' private ingress) and `--vpn-list-cidr`. */
  readonly allowListCidrs: string[];
  readonly vpnCidrs: string[];
  readonly vpcId: string;
  readonly privateSubnetIds: string[];
  readonly nodeSecurityGroupId: string;
  readonly oidc: ClusterOidc;
  readonly ingress: AppIngress;
  readonly after?: ITerraformDependable[];
  readonly keyDeletionWindowDays?: number;
}

/**
 * The provisioner's AWS rights: what it needs to create workload clusters and installations,
 * limited to this account and region (and, for S3, Route53 and IAM, to this environment's
 * resources) wherever the action accepts a resource ARN. Actions that accept none (Describe*,
 * List*, Create* of new resources without tags) are the only ones on "*".
 */
export function provisionerStatements(p: { accountId: string; region: string; environment: string; stateStoreArn: string; zoneIds: string[] }): PolicyStatement[] {
  const r = p.region;
  const a = p.accountId;
  return [
    {
      Sid: "DescribeAndList",
      Effect: "Allow",
      Action: [
        "ec2:Describe*", "rds:Describe*", "elasticloadbalancing:Describe*", "autoscaling:Describe*", "acm:ListCertificates",
        "route53:ListHostedZones", "route53:ListHostedZonesByName", "route53:GetChange", "kms:ListAliases", "kms:CreateKey",
        "secretsmanager:ListSecrets", "iam:ListAccountAliases", "iam:ListRoles", "iam:ListInstanceProfiles", "iam:ListPolicies",
        "dynamodb:ListTables", "tag:GetResources", "sts:GetCallerIdentity",
      ],
      Resource: "*",
    },
    { Sid: "OwnZones", Effect: "Allow", Action: ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:GetHostedZone", "route53:ListTagsForResource"], Resource: p.zoneIds.map((z) => `arn:aws:route53:::hostedzone/${z}`) },
    {
      Sid: "ClusterNetworkAndCompute",
      Effect: "Allow",
      Action: [
        "ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", "ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
        "ec2:CreateTags", "ec2:DeleteTags", "ec2:RunInstances", "ec2:TerminateInstances", "ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion",
        "ec2:DeleteLaunchTemplate", "ec2:CreateVolume", "ec2:DeleteVolume", "ec2:AttachVolume", "ec2:DetachVolume", "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface", "ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:AssociateRouteTable",
        "ec2:DisassociateRouteTable", "ec2:CreateInternetGateway", "ec2:DeleteInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway",
        "ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:CreateNatGateway", "ec2:DeleteNatGateway", "ec2:ImportKeyPair", "ec2:DeleteKeyPair",
      ],
      Resource: `arn:aws:ec2:${r}:${a}:*`,
    },
    { Sid: "PublicImages", Effect: "Allow", Action: ["ec2:RunInstances"], Resource: `arn:aws:ec2:${r}::image/*` },
    {
      Sid: "InstallationDatabases",
      Effect: "Allow",
      Action: [
        "rds:CreateDBCluster", "rds:DeleteDBCluster", "rds:ModifyDBCluster", "rds:CreateDBInstance", "rds:DeleteDBInstance", "rds:ModifyDBInstance",
        "rds:CreateDBSubnetGroup", "rds:DeleteDBSubnetGroup", "rds:CreateDBClusterParameterGroup", "rds:DeleteDBClusterParameterGroup",
        "rds:CreateDBClusterSnapshot", "rds:DeleteDBClusterSnapshot", "rds:RestoreDBClusterFromSnapshot", "rds:AddTagsToResource", "rds:ListTagsForResource",
      ],
      Resource: `arn:aws:rds:${r}:${a}:*`,
    },
    { Sid: "StateStore", Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: p.stateStoreArn },
    { Sid: "StateStoreObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: `${p.stateStoreArn}/*` },
    {
      Sid: "InstallationFilestores",
      Effect: "Allow",
      Action: ["s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging", "s3:PutBucketPolicy", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock", "s3:PutBucketVersioning", "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
      Resource: [`arn:aws:s3:::cloud-${p.environment}-*`, `arn:aws:s3:::cloud-${p.environment}-*/*`],
    },
    {
      Sid: "InstallationSecrets",
      Effect: "Allow",
      Action: ["secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:TagResource"],
      Resource: `arn:aws:secretsmanager:${r}:${a}:secret:*`,
    },
    {
      Sid: "Keys",
      Effect: "Allow",
      Action: ["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateAlias", "kms:DeleteAlias", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:CreateGrant"],
      Resource: [`arn:aws:kms:${r}:${a}:key/*`, `arn:aws:kms:${r}:${a}:alias/*`],
    },
    { Sid: "Certificates", Effect: "Allow", Action: ["acm:DescribeCertificate", "acm:GetCertificate", "acm:ListTagsForCertificate"], Resource: `arn:aws:acm:${r}:${a}:certificate/*` },
    {
      Sid: "ClusterRoles",
      Effect: "Allow",
      Action: [
        "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy",
        "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile",
        "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:CreatePolicy", "iam:DeletePolicy", "iam:GetPolicy",
      ],
      Resource: [`arn:aws:iam::${a}:role/*`, `arn:aws:iam::${a}:instance-profile/*`, `arn:aws:iam::${a}:policy/*`],
    },
    { Sid: "PassClusterRoles", Effect: "Allow", Action: ["iam:PassRole"], Resource: `arn:aws:iam::${a}:role/*`, Condition: { StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "eks.amazonaws.com"] } } },
    {
      Sid: "AutoScaling",
      Effect: "Allow",
      Action: ["autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup", "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags", "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
      Resource: `arn:aws:autoscaling:${r}:${a}:autoScalingGroup:*`,
    },
    {
      Sid: "LoadBalancers",
      Effect: "Allow",
      Action: [
        "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteTargetGroup",
        "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
        "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets",
      ],
      Resource: `arn:aws:elasticloadbalancing:${r}:${a}:*`,
    },
    { Sid: "LockTables", Effect: "Allow", Action: ["dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], Resource: `arn:aws:dynamodb:${r}:${a}:table/*` },
  ];
}

/**
 * The Mattermost provisioner (`cloud` server) in the C&C: its PostgreSQL, its kops/terraform state
 * bucket, an IRSA role (no IAM users, no keys), the server Deployment (schema migration in an
 * init container first) and the installation supervisor Deployment, TCP probes on the API port,
 * a Service with a ServiceMonitor, an internal-only ingress, non-root with a read-only root
 * filesystem.
 *
 * The database password never passes through Terraform: RDS creates and rotates it in Secrets
 * Manager, and each container reads it when it starts, with its IRSA role (the image ships the
 * AWS CLI), to build `CP_DATABASE` in its own environment. Nothing is in Terraform state or a
 * Kubernetes Secret, and after a rotation a pod restart (not a deploy) picks up the new password.
 */
export class Provisioner extends Construct {
  readonly role: IrsaRole;
  readonly database: PostgresDatabase;
  readonly stateStore: SecureBucket;
  readonly server: DeploymentV1;
  readonly supervisor: DeploymentV1;

  constructor(scope: Construct, id: string, props: ProvisionerProps) {
    super(scope, id);
    if (props.imageTag === "latest" || !(IMAGES.provisioner.tags as readonly string[]).includes(props.imageTag)) {
      throw new Error(`Provisioner: image tag "${props.imageTag}" is not pinned (use one of ${IMAGES.provisioner.tags.join(", ")})`);
    }
    if (props.supervisorReplicas < 1) throw new Error(`Provisioner: supervisorReplicas must be at least 1, got ${props.supervisorReplicas}`);
    const name = `${props.environment}-provisioner`;

    this.database = new PostgresDatabase(this, "db", {
      identifier: name,
      databaseName: "cloud",
      engineVersion: props.postgresVersion,
      instanceClass: props.dbInstanceClass,
      vpcId: props.vpcId,
      subnetIds: props.privateSubnetIds,
      clientSecurityGroupIds: [props.nodeSecurityGroupId],
      adminCidrs: props.vpnCidrs,
      backupRetentionDays: props.backupRetentionDays,
      production: props.production,
      keyDeletionWindowDays: props.keyDeletionWindowDays,
    });
    const stateKey = new PlatformKey(this, "state-key", { alias: `${name}-state`, description: `Provisioner state store ${props.stateStoreBucketName}`, deletionWindowDays: props.keyDeletionWindowDays });
    this.stateStore = new SecureBucket(this, "state-store", { bucketName: props.stateStoreBucketName, kmsKeyArn: stateKey.arn, forceDestroy: !props.production });

    this.role = new IrsaRole(this, "role", {
      roleName: props.roleName,
      oidc: props.oidc,
      namespace: PROVISIONER_NAMESPACE,
      serviceAccount: PROVISIONER_SERVICE_ACCOUNT,
      statements: [
        ...provisionerStatements({ accountId: props.accountId, region: props.region, environment: props.environment, stateStoreArn: this.stateStore.arn, zoneIds: props.zoneIds }),
        { Sid: "StateKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: stateKey.arn },
        // Its own database credentials, read by the containers at start (START_WITH_DATABASE).
        { Sid: "DatabaseCredentials", Effect: "Allow", Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Resource: this.database.masterSecretArn },
        { Sid: "DatabaseCredentialsKey", Effect: "Allow", Action: ["kms:Decrypt"], Resource: this.database.keyArn },
      ],
    });

    const ns = new NamespaceV1(this, "ns", { metadata: { name: PROVISIONER_NAMESPACE, labels: { "pod-security.kubernetes.io/enforce": "restricted" } }, dependsOn: props.after });
    const sa = new ServiceAccountV1(this, "sa", {
      metadata: { name: PROVISIONER_SERVICE_ACCOUNT, namespace: PROVISIONER_NAMESPACE, annotations: { "eks.amazonaws.com/role-arn": this.role.arn } },
      dependsOn: [ns],
    });
    const image = `${IMAGES.provisioner.repository}:${props.imageTag}`;
    const flags = [
      `--listen=:${API_PORT}`,
      `--metrics-port=${METRICS_PORT}`,
      `--state-store=${props.stateStoreBucketName}`,
      `--utilities-git-url=${props.utilitiesGitUrl}`,
      `--private-dns=${props.privateDomain}`,
      `--allow-list-cidr-range=${props.allowListCidrs.join(",")}`,
      ...(props.vpnCidrs.length ? [`--vpn-list-cidr=${props.vpnCidrs.join(",")}`] : []),
      "--machine-readable-logs",
    ];
    const securityContext = { runAsNonRoot: true, runAsUser: "65532", runAsGroup: "65532", allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } };
    const writable = [
      { name: "tmp", mountPath: "/tmp" },
      { name: "home", mountPath: "/home/cloud" },
      { name: "work", mountPath: "/mattermost-cloud/clusters" },
    ];
    const databaseEnv = [
      { name: "DB_SECRET_ARN", value: this.database.masterSecretArn },
      { name: "DB_ENDPOINT", value: this.database.instance.endpoint },
      { name: "AWS_REGION", value: props.region },
    ];
    const container = (role: "server" | "supervisor", extra: string[]) => ({
      name: role,
      image,
      command: ["/bin/sh", "-ec", START_WITH_DATABASE, "start-with-database"],
      args: [CLOUD_BINARY, "server", ...flags, ...extra],
      env: [{ name: "HOME", value: "/home/cloud" }, ...databaseEnv],
      port: [
        { name: "api", containerPort: API_PORT },
        { name: "metrics", containerPort: METRICS_PORT },
      ],
      // The API has no health endpoint: a TCP check on its port is the honest probe.
      readinessProbe: { tcpSocket: [{ port: String(API_PORT) }], periodSeconds: 10, failureThreshold: 3 },
      livenessProbe: { tcpSocket: [{ port: String(API_PORT) }], initialDelaySeconds: 30, periodSeconds: 20, failureThreshold: 6 },
      resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } },
      securityContext,
      volumeMount: writable.map((w) => ({ name: w.name, mountPath: w.mountPath })),
    });
    const podSpec = (role: "server" | "supervisor", extra: string[], init: boolean) => ({
      serviceAccountName: sa.metadata.name,
      securityContext: { runAsNonRoot: true, fsGroup: "65532", seccompProfile: { type: "RuntimeDefault" } },
      initContainer: init
        ? [
            {
              name: "schema-migrate",
              image,
              command: ["/bin/sh", "-ec", START_WITH_DATABASE, "start-with-database"],
              args: [CLOUD_BINARY, "schema", "migrate"],
              env: [{ name: "HOME", value: "/tmp" }, ...databaseEnv],
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
              securityContext,
              volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ]
        : undefined,
      container: [container(role, extra)],
      volume: writable.map((w) => ({ name: w.name, emptyDir: { sizeLimit: "1Gi" } })),
    });
    const deployment = (role: "server" | "supervisor", replicas: number, extra: string[], init: boolean) =>
      new DeploymentV1(this, role, {
        metadata: { name: `provisioner-${role}`, namespace: PROVISIONER_NAMESPACE, labels: { "app.kubernetes.io/name": "provisioner", "app.kubernetes.io/component": role } },
        spec: {
          replicas: String(replicas),
          selector: { matchLabels: { "app.kubernetes.io/name": "provisioner", "app.kubernetes.io/component": role } },
          strategy: { type: role === "server" ? "Recreate" : "RollingUpdate" },
          template: { metadata: { labels: { "app.kubernetes.io/name": "provisioner", "app.kubernetes.io/component": role } }, spec: podSpec(role, extra, init) },
        },
        dependsOn: [sa],
      });
    // One server runs the cluster supervisor and migrates the schema first; the others only supervise installations.
    this.server = deployment("server", 1, [], true);
    this.supervisor = deployment("supervisor", props.supervisorReplicas, ["--cluster-supervisor=false"], false);
    if (props.supervisorReplicas > 1) {
      new PodDisruptionBudgetV1(this, "supervisor-pdb", {
        metadata: { name: "provisioner-supervisor", namespace: PROVISIONER_NAMESPACE },
        spec: { minAvailable: "1", selector: { matchLabels: { "app.kubernetes.io/component": "supervisor" } } },
        dependsOn: [ns],
      });
    }

    const service = new ServiceV1(this, "service", {
      metadata: { name: "provisioner", namespace: PROVISIONER_NAMESPACE, labels: { "app.kubernetes.io/name": "provisioner" } },
      spec: {
        selector: { "app.kubernetes.io/name": "provisioner", "app.kubernetes.io/component": "server" },
        port: [
          { name: "api", port: API_PORT, targetPort: "api" },
          { name: "metrics", port: METRICS_PORT, targetPort: "metrics" },
        ],
      },
      dependsOn: [ns],
    });
    // Through Helm, after the Prometheus operator's release: its CRD does not exist at plan time.
    new ManifestsRelease(this, "service-monitor", {
      releaseName: "provisioner-monitoring",
      namespace: PROVISIONER_NAMESPACE,
      manifests: [
        {
          apiVersion: "monitoring.coreos.com/v1",
          kind: "ServiceMonitor",
          metadata: { name: "provisioner", namespace: PROVISIONER_NAMESPACE },
          spec: { selector: { matchLabels: { "app.kubernetes.io/name": "provisioner" } }, endpoints: [{ port: "metrics", interval: "30s" }] },
        },
      ],
      dependsOn: [ns, service, ...(props.after ?? [])],
    });
    // Internal only, and no browser login: API clients (the cloud CLI) reach it over the VPN.
    new IngressV1(this, "ingress", {
      metadata: {
        name: "provisioner",
        namespace: PROVISIONER_NAMESPACE,
        annotations: props.ingress.annotations("provisioner", "internal", { "alb.ingress.kubernetes.io/healthcheck-port": String(API_PORT) }, false),
      },
      spec: {
        ingressClassName: "alb",
        rule: [{ host: `provisioner.${props.privateDomain}`, http: { path: [{ path: "/", pathType: "Prefix", backend: { service: { name: service.metadata.name, port: { number: API_PORT } } } }] } }],
      },
      dependsOn: [ns],
    });
  }
}
