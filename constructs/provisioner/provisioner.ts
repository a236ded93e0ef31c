import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { IngressV1 } from "@cdktf/provider-kubernetes/lib/ingress-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { PROVISIONER_ACTIONS, provisionerFeatures } from "../../config/provisioner/iam-actions";
import { IMAGES, imageRef } from "../../config/versions";
import CLOUD_FLAGS from "../../config/provisioner/cloud-flags-v0.90.0.json";
import { PostgresDatabase } from "../data/postgres";
import { ClusterOidc, IrsaRole, type PolicyStatement } from "../eks/irsa-role";
import { ManifestsRelease } from "../helm/manifests-release";
import type { AppIngress } from "../ingress/app-ingress";
import { PlatformKey, decryptSecretsStatement } from "../security/kms-key";
import { SecureBucket } from "../storage/secure-bucket";
import { READINESS_GATE_LABELS } from "../ingress/load-balancer-controller";

export const PROVISIONER_NAMESPACE = "provisioner";
export const PROVISIONER_SERVICE_ACCOUNT = "provisioner";
const API_PORT = 8075;
/** Per-installation buckets: `cloud-` and a 26-character installation id, nothing else. */
const INSTALLATION_BUCKET = `arn:aws:s3:::cloud-${"?".repeat(26)}`;
/** HOME of the containers (an emptyDir): the image sets none, and the server needs $HOME/.ssh. */
const HOME = "/home/cloud";
/**
 * Readiness: GET /api/clusters. With JWT verification on, the auth middleware answers 401 before
 * any handler (so this proves the HTTP server and router, not the database); without it, 200
 * lists a cluster through the database. Anything else, or no answer, fails. busybox wget prints
 * the status line with -S.
 */
const API_CHECK = `wget -S -q -O /dev/null "http://127.0.0.1:${API_PORT}/api/clusters?page=0&per_page=1" 2>&1 | grep -Eq "HTTP/1\\.[01] (200|401)"`;
export const API_PROBE = ["/bin/sh", "-c", API_CHECK];
/** Where START_WITH_DATABASE records the version of the database secret the DSN came from. */
const DB_VERSION_FILE = "/tmp/db-secret-version";
/**
 * Liveness: the API answers, and the database password is still the one the process started
 * with. RDS rotates the managed password (every 7 days by default); the server builds its DSN
 * once, so after a rotation its new connections would fail. The probe restarts it instead, and
 * the restart reads the new password (no deploy). A failed lookup (throttling) does not count.
 */
export const LIVENESS_PROBE = [
  "/bin/sh",
  "-c",
  `${API_CHECK} && { v=$(aws secretsmanager get-secret-value --secret-id "$DB_SECRET_ARN" --query VersionId --output text 2>/dev/null) || exit 0; [ "$v" = "$(cat ${DB_VERSION_FILE})" ]; }`,
];
/** The binary in the pinned image; not on its PATH (reference/mattermost-cloud-v0.90.0.md). */
const CLOUD_BINARY = "/mattermost-cloud/cloud";
/**
 * Wraps every provisioner container, with the pod's IRSA role: puts the SSH public key from Secrets
 * Manager in $HOME/.ssh (the server's start-up check and kops need one), reads the RDS-managed
 * master secret and exports the DSN as CP_DATABASE (the server's --database), then runs the given
 * command. The image's AWS CLI brings python3, which URL-encodes the credentials.
 */
export const START_WITH_DATABASE = [
  'mkdir -p "$HOME/.ssh"',
  'aws secretsmanager get-secret-value --secret-id "$SSH_PUBLIC_KEY_SECRET" --query SecretString --output text > "$HOME/.ssh/id_rsa.pub"',
  'secret=$(aws secretsmanager get-secret-value --secret-id "$DB_SECRET_ARN" --output json)',
  // The DSN, and the secret version it was built from (the liveness probe compares it).
  `CP_DATABASE=$(printf %s "$secret" | python3 -c 'import json,os,sys,urllib.parse as u; r=json.load(sys.stdin); s=json.loads(r["SecretString"]); open("${DB_VERSION_FILE}", "w").write(r["VersionId"]); q=lambda v: u.quote(v, safe=""); print("postgres://%s:%s@%s/cloud?sslmode=require&connect_timeout=10" % (q(s["username"]), q(s["password"]), os.environ["DB_ENDPOINT"]))')`,
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
  /** A standby of its database in a second zone (Multi-AZ). Default: `production`. */
  readonly multiAz?: boolean;
  /** Point-in-time restores of its database, oldest first (PostgresDatabase `restores`; `make restore-db`). */
  readonly databaseRestores?: readonly { identifier: string; source: string; time: string }[];
  readonly stateStoreBucketName: string;
  readonly utilitiesGitUrl: string;
  /** `--utilities-git-path` (required at start). */
  readonly utilitiesGitPath: string;
  /** Secrets Manager secret with the SSH public key (read at start into $HOME/.ssh). */
  readonly sshPublicKeySecretName: string;
  /** Add the RDS/KMS rights of the database backends. */
  readonly rdsDatabases: boolean;
  /** Add the rights to create each S3 filestore's IAM user, policy and key. */
  readonly s3Filestores: boolean;
  /** JWT verification of the API (`--issuer`, `--audience`, `--jwks-url`). */
  readonly apiAuth: { issuer: string; audience: string; jwksUrl: string };
  /** Networks allowed through the internal ingress to the API (VPN, the deploy runner's VPC). */
  readonly apiClientCidrs: string[];
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
  /** Bucket that receives the state store's S3 server access logs; undefined = none. */
  readonly accessLogBucket?: string;
  /** Alias of the environment's secrets key (the SSH key secret is encrypted with it). */
  readonly secretsKeyAlias: string;
  /** RDS enhanced monitoring interval of its database (PostgresDatabase monitoringIntervalSeconds); default 60. */
  readonly databaseMonitoringIntervalSeconds?: number;
  /** SNS topic for its database's alarms. */
  readonly alarmTopicArn?: string;
}

/**
 * The `cloud server` command line: every flag must exist in the pinned version's flag set
 * (config/provisioner/cloud-flags-<version>.json, read from the tag; cobra exits on an unknown
 * flag) and every flag the server refuses to start without must be set. `--database` is the
 * exception: it comes from CP_DATABASE at start (START_WITH_DATABASE). Undefined values are left out.
 */
export function serverFlags(values: Record<string, string | undefined>, flagSet: { version: string; server: Record<string, string>; requiredAtStart: Record<string, string> } = CLOUD_FLAGS): string[] {
  const unknown = Object.keys(values).filter((f) => !(f in flagSet.server));
  if (unknown.length) {
    throw new Error(`Provisioner: ${unknown.map((f) => `--${f}`).join(", ")} is not a flag of cloud server ${flagSet.version} (the server would exit at start); see config/provisioner/cloud-flags-${flagSet.version}.json.`);
  }
  const missing = Object.keys(flagSet.requiredAtStart).filter((f) => f !== "database" && !values[f]);
  if (missing.length) {
    throw new Error(`Provisioner: cloud server ${flagSet.version} refuses to start without ${missing.map((f) => `--${f} (${flagSet.requiredAtStart[f]})`).join(", ")}.`);
  }
  for (const [flag, value] of Object.entries(values)) {
    if (value !== undefined && flagSet.server[flag] === "bool" && !["true", "false"].includes(value)) throw new Error(`Provisioner: --${flag} takes true or false, got "${value}"`);
  }
  return Object.entries(values)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([flag, value]) => `--${flag}=${value}`);
}

/**
 * The provisioner's AWS rights, built from the action lists kept as data
 * (config/provisioner/iam-actions.ts, read from the v0.90.0 source) for the features the
 * environment turns on. Each action is scoped to this account and region, and to this
 * environment's zones and the installations' resources, wherever the action accepts a resource
 * ARN; only lookups that accept none (Describe*, List*, CreateKey, tag:GetResources) are on "*".
 */
export function provisionerStatements(p: {
  accountId: string;
  region: string;
  environment: string;
  stateStoreArn: string;
  zoneIds: string[];
  rdsDatabases: boolean;
  s3Filestores: boolean;
}): PolicyStatement[] {
  const r = p.region;
  const a = p.accountId;
  const on = new Set(provisionerFeatures({ rdsDatabases: p.rdsDatabases, s3Filestores: p.s3Filestores }));
  const A = PROVISIONER_ACTIONS;
  const pick = (list: readonly string[], test: (action: string) => boolean) => list.filter(test);
  // Lookups that accept no resource ARN (or must see everything); the rest are scoped below.
  const scopedLookups = new Set(["route53:ListTagsForResource", "acm:ListTagsForCertificate", "kms:DescribeKey"]);
  const anyResource = (action: string) => /:(Describe|List)|^kms:CreateKey$|^tag:GetResources$/.test(action) && !scopedLookups.has(action);
  const statements: PolicyStatement[] = [
    {
      Sid: "LookupsWithoutResourceArns",
      Effect: "Allow",
      Action: [
        ...A.startup.filter(anyResource),
        ...A.ec2Read,
        ...pick(A.lookups, anyResource),
        ...pick(A.rdsCore, anyResource),
        ...(on.has("rds") ? pick(A.rds, anyResource) : []),
        ...(on.has("kms") ? pick(A.kms, anyResource) : []),
      ],
      Resource: "*",
    },
    // The server reads the tags of every zone of the account at start to find its own.
    { Sid: "ZoneTagsOfAllZones", Effect: "Allow", Action: ["route53:ListTagsForResource"], Resource: "arn:aws:route53:::hostedzone/*" },
    { Sid: "InstallationRecords", Effect: "Allow", Action: [...A.route53Records], Resource: p.zoneIds.map((z) => `arn:aws:route53:::hostedzone/${z}`) },
    {
      Sid: "EksClusters",
      Effect: "Allow",
      Action: A.eks.filter((x) => x.startsWith("eks:")),
      Resource: [`arn:aws:eks:${r}:${a}:cluster/*`, `arn:aws:eks:${r}:${a}:nodegroup/*/*/*`, `arn:aws:eks:${r}:${a}:addon/*/*/*`],
    },
    { Sid: "PassClusterRoles", Effect: "Allow", Action: ["iam:PassRole"], Resource: `arn:aws:iam::${a}:role/*`, Condition: { StringEquals: { "iam:PassedToService": ["eks.amazonaws.com", "ec2.amazonaws.com"] } } },
    { Sid: "NodeLaunchTemplatesAndTags", Effect: "Allow", Action: [...A.ec2Write], Resource: `arn:aws:ec2:${r}:${a}:*` },
    // Secrets it names and manages itself (tools/aws/helpers.go: cloud-<id>-rds|-iam,
    // rds-multitenant-*, perseus-iam-*) ...
    {
      Sid: "InstallationSecrets",
      Effect: "Allow",
      Action: [...A.secrets],
      Resource: ["cloud-*", "rds-multitenant-*", "perseus-iam-*"].map((n) => `arn:aws:secretsmanager:${r}:${a}:secret:${n}`),
    },
    // ... and secrets it only reads: external databases' (callers must name them
    // <env>/external-databases/<name>; README, Provisioner) and the multitenant clusters' master
    // secrets, named after the cluster (rds-cluster-multitenant-*).
    {
      Sid: "SecretsItReads",
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: [`${p.environment}/external-databases/*`, ...(on.has("rds") ? ["rds-cluster-multitenant-*"] : [])].map((n) => `arn:aws:secretsmanager:${r}:${a}:secret:${n}`),
    },
    // ... and the kubeconfigs of the clusters registered with it (make register-workloads), read only.
    { Sid: "RegisteredClusterKubeconfigs", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: `arn:aws:secretsmanager:${r}:${a}:secret:${p.environment}/provisioner/clusters/*` },
    { Sid: "StateStore", Effect: "Allow", Action: ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketVersioning"], Resource: p.stateStoreArn },
    { Sid: "StateStoreObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"], Resource: `${p.stateStoreArn}/*` },
    // Installation filestores: cloud-<26-character installation id>, and the multitenant bucket
    // mattermost-cloud-<env>-provisioning-<vpc> (tools/aws/helpers.go).
    {
      Sid: "InstallationFilestores",
      Effect: "Allow",
      Action: [...A.s3],
      Resource: [INSTALLATION_BUCKET, `arn:aws:s3:::mattermost-cloud-${p.environment}-provisioning-*`].flatMap((b) => [b, `${b}/*`]),
    },
    // The platform's own buckets never, whatever a pattern above might match.
    {
      Sid: "NotThePlatformBuckets",
      Effect: "Deny",
      Action: ["s3:*"],
      Resource: [`cloud-${p.environment}-tfstate-*`, `cloud-${p.environment}-metrics-*`, `cloud-${p.environment}-*-files-*`].flatMap((b) => [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/*`]),
    },
    { Sid: "CertificateTags", Effect: "Allow", Action: ["acm:ListTagsForCertificate"], Resource: `arn:aws:acm:${r}:${a}:certificate/*` },
    { Sid: "LoadBalancerTags", Effect: "Allow", Action: ["elasticloadbalancing:AddTags"], Resource: [`arn:aws:elasticloadbalancing:${r}:${a}:loadbalancer/*`, `arn:aws:elasticloadbalancing:${r}:${a}:targetgroup/*`] },
  ];
  if (on.has("filestoreUsers")) {
    const users = A.filestoreUsers.filter((x) => x.includes("User") || x.includes("AccessKey"));
    statements.push(
      { Sid: "FilestoreUsers", Effect: "Allow", Action: users.filter((x) => !/UserPolic/.test(x)), Resource: `arn:aws:iam::${a}:user/cloud-*` },
      { Sid: "FilestorePolicies", Effect: "Allow", Action: A.filestoreUsers.filter((x) => !users.includes(x)), Resource: `arn:aws:iam::${a}:policy/cloud-*` },
      // Only policies of filestore users can be attached (the name is all IAM can check: see iam-actions.ts).
      {
        Sid: "FilestorePolicyAttachments",
        Effect: "Allow",
        Action: users.filter((x) => /UserPolic/.test(x)),
        Resource: `arn:aws:iam::${a}:user/cloud-*`,
        Condition: { ArnLikeIfExists: { "iam:PolicyARN": `arn:aws:iam::${a}:policy/cloud-*` } },
      },
    );
  }
  statements.push({ Sid: "DatabaseTags", Effect: "Allow", Action: A.rdsCore.filter((x) => !anyResource(x)), Resource: `arn:aws:rds:${r}:${a}:*` });
  if (on.has("rds")) {
    statements.push({ Sid: "InstallationDatabases", Effect: "Allow", Action: A.rds.filter((x) => x.startsWith("rds:") && !anyResource(x)), Resource: `arn:aws:rds:${r}:${a}:*` });
    // Only the installation databases' security groups (tagged by the provisioner).
    statements.push({
      Sid: "DatabaseMigrationRules",
      Effect: "Allow",
      Action: A.rds.filter((x) => x.startsWith("ec2:")),
      Resource: `arn:aws:ec2:${r}:${a}:security-group/*`,
      Condition: { Null: { "ec2:ResourceTag/MattermostCloudInstallationDatabase": "false" } },
    });
  }
  if (on.has("kms")) {
    statements.push({ Sid: "InstallationDatabaseKeys", Effect: "Allow", Action: A.kms.filter((x) => !anyResource(x) && x !== "kms:CreateGrant"), Resource: `arn:aws:kms:${r}:${a}:key/*` });
    // Grants only for AWS services using the key on its behalf (RDS).
    statements.push({ Sid: "InstallationDatabaseKeyGrants", Effect: "Allow", Action: ["kms:CreateGrant"], Resource: `arn:aws:kms:${r}:${a}:key/*`, Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } } });
  }
  return statements;
}

/**
 * The Mattermost provisioner (`cloud` server) in the C&C: its PostgreSQL, its kops/terraform state
 * bucket, an IRSA role (no IAM user or key of its own), the server Deployment (schema migration in an
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
      multiAz: props.multiAz,
      restores: props.databaseRestores,
      keyDeletionWindowDays: props.keyDeletionWindowDays,
      monitoringIntervalSeconds: props.databaseMonitoringIntervalSeconds,
      alarmTopicArn: props.alarmTopicArn,
    });
    const stateKey = new PlatformKey(this, "state-key", { alias: `${name}-state`, description: `Provisioner state store ${props.stateStoreBucketName}`, deletionWindowDays: props.keyDeletionWindowDays });
    this.stateStore = new SecureBucket(this, "state-store", { bucketName: props.stateStoreBucketName, kmsKeyArn: stateKey.arn, forceDestroy: !props.production, accessLogBucket: props.accessLogBucket });

    this.role = new IrsaRole(this, "role", {
      roleName: props.roleName,
      oidc: props.oidc,
      namespace: PROVISIONER_NAMESPACE,
      serviceAccount: PROVISIONER_SERVICE_ACCOUNT,
      statements: [
        ...provisionerStatements({ accountId: props.accountId, region: props.region, environment: props.environment, stateStoreArn: this.stateStore.arn, zoneIds: props.zoneIds, rdsDatabases: props.rdsDatabases, s3Filestores: props.s3Filestores }),
        { Sid: "StateKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: stateKey.arn },
        // Its own database credentials, read by the containers at start (START_WITH_DATABASE).
        { Sid: "DatabaseCredentials", Effect: "Allow", Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Resource: this.database.masterSecretArn },
        { Sid: "DatabaseCredentialsKey", Effect: "Allow", Action: ["kms:Decrypt"], Resource: this.database.keyArn },
        { Sid: "SshPublicKey", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: `arn:aws:secretsmanager:${props.region}:${props.accountId}:secret:${props.sshPublicKeySecretName}-*` },
        decryptSecretsStatement({ region: props.region, accountId: props.accountId, keyAlias: props.secretsKeyAlias }),
      ],
    });

    const ns = new NamespaceV1(this, "ns", { metadata: { name: PROVISIONER_NAMESPACE, labels: { "pod-security.kubernetes.io/enforce": "restricted", ...READINESS_GATE_LABELS } }, dependsOn: props.after });
    const sa = new ServiceAccountV1(this, "sa", {
      metadata: { name: PROVISIONER_SERVICE_ACCOUNT, namespace: PROVISIONER_NAMESPACE, annotations: { "eks.amazonaws.com/role-arn": this.role.arn } },
      dependsOn: [ns],
    });
    const image = imageRef(IMAGES.provisioner.repository, props.imageTag);
    // One ALB listener rule holds 5 condition values: host, path and at most 3 source networks.
    if (props.apiClientCidrs.length < 1 || props.apiClientCidrs.length > 3) {
      throw new Error(`Provisioner: the API admits ${props.apiClientCidrs.length} networks (${props.apiClientCidrs.join(", ")}), but an ALB rule takes 1 to 3 source CIDRs next to its host and path; summarize cluster.adminCidrs into fewer blocks.`);
    }
    if (props.allowListCidrs.length === 0) throw new Error("Provisioner: allowListCidrs is empty; the server refuses to start without one");
    const flags = serverFlags({
      listen: `:${API_PORT}`,
      "metrics-port": String(METRICS_PORT),
      "state-store": props.stateStoreBucketName,
      "utilities-git-url": props.utilitiesGitUrl,
      "utilities-git-path": props.utilitiesGitPath,
      "installation-enable-route53": "true",
      "allow-list-cidr-range": props.allowListCidrs.join(","),
      "vpn-list-cidr": props.vpnCidrs.length ? props.vpnCidrs.join(",") : undefined,
      issuer: props.apiAuth.issuer,
      audience: props.apiAuth.audience,
      "jwks-url": props.apiAuth.jwksUrl,
      "machine-readable-logs": "true",
    });
    // The image's own user (10001, owner of /mattermost-cloud); writable paths are emptyDirs.
    const securityContext = { runAsNonRoot: true, runAsUser: "10001", runAsGroup: "10001", allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } };
    const writable = [
      { name: "tmp", mountPath: "/tmp" },
      { name: "home", mountPath: HOME },
      { name: "work", mountPath: "/mattermost-cloud/clusters" },
    ];
    const databaseEnv = [
      { name: "SSH_PUBLIC_KEY_SECRET", value: props.sshPublicKeySecretName },
      { name: "DB_SECRET_ARN", value: this.database.masterSecretArn },
      { name: "DB_ENDPOINT", value: this.database.instance.endpoint },
      { name: "AWS_REGION", value: props.region },
    ];
    const container = (role: "server" | "supervisor", extra: string[]) => ({
      name: role,
      image,
      imagePullPolicy: "Always",
      command: ["/bin/sh", "-ec", START_WITH_DATABASE, "start-with-database"],
      args: [CLOUD_BINARY, "server", ...flags, ...extra],
      env: [{ name: "HOME", value: HOME }, { name: "TMPDIR", value: "/tmp" }, ...databaseEnv],
      port: [
        { name: "api", containerPort: API_PORT },
        { name: "metrics", containerPort: METRICS_PORT },
      ],
      // No health endpoint exists: a real route answers (200, or 401 before any handler when API auth is on).
      readinessProbe: { exec: { command: API_PROBE }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
      livenessProbe: { exec: { command: LIVENESS_PROBE }, initialDelaySeconds: 60, periodSeconds: 60, timeoutSeconds: 20, failureThreshold: 2 },
      resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } },
      securityContext,
      volumeMount: writable.map((w) => ({ name: w.name, mountPath: w.mountPath })),
    });
    const podSpec = (role: "server" | "supervisor", extra: string[], init: boolean) => ({
      serviceAccountName: sa.metadata.name,
      // It talks to other clusters through their kubeconfigs, never to its own API (IRSA's token
      // is a separate projected volume, so AWS access is unaffected).
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, fsGroup: "65532", seccompProfile: { type: "RuntimeDefault" } },
      initContainer: init
        ? [
            {
              name: "schema-migrate",
              image,
              imagePullPolicy: "Always",
              command: ["/bin/sh", "-ec", START_WITH_DATABASE, "start-with-database"],
              args: [CLOUD_BINARY, "schema", "migrate"],
              env: [{ name: "HOME", value: HOME }, { name: "TMPDIR", value: "/tmp" }, ...databaseEnv],
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } },
              securityContext,
              volumeMount: [{ name: "tmp", mountPath: "/tmp" }, { name: "home", mountPath: HOME }],
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
        annotations: props.ingress.annotations(
          "provisioner",
          "internal",
          {
            "alb.ingress.kubernetes.io/healthcheck-port": String(API_PORT),
            // A real route: 200 without API auth, 401 with it (both mean it serves).
            "alb.ingress.kubernetes.io/healthcheck-path": "/api/clusters",
            "alb.ingress.kubernetes.io/success-codes": "200,401",
            // Only the VPN and the deploy runner's VPC reach the API through the shared internal ALB.
            "alb.ingress.kubernetes.io/conditions.provisioner": JSON.stringify([{ field: "source-ip", sourceIpConfig: { values: props.apiClientCidrs } }]),
          },
          false,
        ),
      },
      spec: {
        ingressClassName: "alb",
        rule: [{ host: `provisioner.${props.privateDomain}`, http: { path: [{ path: "/", pathType: "Prefix", backend: { service: { name: service.metadata.name, port: { number: API_PORT } } } }] } }],
      },
      dependsOn: [ns],
    });
  }
}
