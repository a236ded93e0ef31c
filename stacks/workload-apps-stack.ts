import { LimitRangeV1 } from "@cdktf/provider-kubernetes/lib/limit-range-v1";
import { DataAwsKmsAlias } from "@cdktf/provider-aws/lib/data-aws-kms-alias";
import { DataAwsLbTargetGroup } from "@cdktf/provider-aws/lib/data-aws-lb-target-group";
import { DataAwsOpensearchDomain } from "@cdktf/provider-aws/lib/data-aws-opensearch-domain";
import { DataAwsS3Bucket } from "@cdktf/provider-aws/lib/data-aws-s3-bucket";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { LOAD_BALANCER_TAG, NAMESPACES, bucketName, clusterAdminRoleArns, installationDatabaseSecretName, loadBalancerId, secretsKeyAlias, workloadClusterName } from "../config/names";
import type { Environment, WorkloadConfig } from "../config/schema";
import { ClusterConnection } from "../constructs/eks/cluster-connection";
import { IrsaRole } from "../constructs/eks/irsa-role";
import { ClusterAutoscaler } from "../constructs/eks/cluster-autoscaler";
import { Gp3StorageClass } from "../constructs/eks/storage-class";
import { HelmAddon } from "../constructs/helm/addon";
import { ManifestsRelease } from "../constructs/helm/manifests-release";
import { ALB_SSL_POLICY } from "../constructs/ingress/app-ingress";
import { LoadBalancerController, READINESS_GATE_LABELS } from "../constructs/ingress/load-balancer-controller";
import { FluentBit } from "../constructs/logging/fluent-bit";
import { KPS_RELEASE, OBJSTORE_KEY, OBJSTORE_SECRET, PrometheusStack, SIDECAR_DISCOVERY } from "../constructs/monitoring/prometheus-stack";
import { THANOS_RELEASE } from "../constructs/monitoring/thanos";
import { PROMETHEUS_PORT, THANOS_GRPC_PORT, monitoringTargetGroupName } from "../constructs/workload/monitoring-endpoints";
import { DatabaseSecretSync } from "../constructs/workload/database-secret-sync";
import { PlatformStack } from "./platform-stack";
import { THANOS_IMAGE_TAG } from "./post-install-stack";

const OPERATOR_NAMESPACE = "mattermost-operator";

/**
 * `<env>-workload-<name>-apps`: the Kubernetes phase of one workload cluster, applied after its
 * AWS phase (`<env>-workload-<name>`) and found by name, like C&C layer 2 after layer 1. The
 * providers authenticate with `aws eks get-token`, and the cluster is never created here.
 *
 * It installs the monitoring agent (Prometheus with the Thanos sidecar into the environment's
 * bucket, a Thanos query behind the AWS phase's NLB), fluent-bit to the C&C's OpenSearch, the AWS
 * Load Balancer Controller, the Mattermost operator and the declared installations. Custom
 * resources (TargetGroupBindings, `Mattermost`) go through Helm releases that wait for the charts
 * installing their CRDs.
 */
export class WorkloadAppsStack extends PlatformStack {
  readonly workload: WorkloadConfig;

  constructor(scope: Construct, id: string, env: Environment, workload: WorkloadConfig) {
    super(scope, id, { env, dataProtection: workload.dataProtection });
    this.workload = workload;
    const name = workloadClusterName(env, workload.name);

    const conn = new ClusterConnection(this, "cluster", { clusterName: name, region: env.region, adminRoleArns: clusterAdminRoleArns(env) });
    // What the C&C and the AWS phase made, found by name.
    const metricsBucket = new DataAwsS3Bucket(this, "metrics-bucket", { bucket: bucketName(env, "metrics") });
    const metricsKey = new DataAwsKmsAlias(this, "metrics-key", { name: `alias/${bucketName(env, "metrics")}` });
    const logs = new DataAwsOpensearchDomain(this, "logs", { domainName: `${env.name}-logs` });
    const filestoreBucket = new DataAwsS3Bucket(this, "filestore", { bucket: bucketName(env, `${workload.name}-files`) });
    const filestoreKey = new DataAwsKmsAlias(this, "filestore-key", { name: `alias/${name}-filestore` });

    const storage = new Gp3StorageClass(this, "storage", { after: conn.adminAccess });
    if (env.autoscaling.enabled) {
      new ClusterAutoscaler(this, "autoscaler", {
        clusterName: name,
        kubernetesVersion: workload.kubernetesVersion ?? env.cluster.kubernetesVersion,
        region: env.region,
        accountId: env.accountId,
        oidc: conn.oidc,
        roleName: `${name}-cluster-autoscaler`,
        maxNodesTotal: workload.nodeGroups.reduce((n, g) => n + g.maxSize, 0),
        after: conn.adminAccess,
      });
    }
    const ns = Object.fromEntries(
      (["monitoring", "logging", "mattermost"] as const).map((key) => [
        key,
        new NamespaceV1(this, `ns-${key}`, {
          metadata: { name: key === "mattermost" ? OPERATOR_NAMESPACE : NAMESPACES[key], labels: { "pod-security.kubernetes.io/enforce": key === "mattermost" ? "restricted" : "privileged", ...READINESS_GATE_LABELS } },
          dependsOn: conn.adminAccess,
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
      oidc: conn.oidc,
      rolePrefix: name,
      sidecarStatements: [
        { Sid: "ListBlocks", Effect: "Allow", Action: ["s3:ListBucket"], Resource: metricsBucket.arn },
        { Sid: "Blocks", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: `${metricsBucket.arn}/*` },
        { Sid: "BlockKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: metricsKey.targetKeyArn },
      ],
      objstoreSecret: objstore,
      storageGiB: env.monitoring.prometheusStorageGiB,
      retention: env.monitoring.prometheusRetention,
      after: [ns.monitoring, storage.storageClass],
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
      after: [ns.monitoring, objstore],
    });
    const lbc = new LoadBalancerController(this, "load-balancer-controller", {
      version: env.versions["aws-load-balancer-controller"],
      clusterName: name,
      region: env.region,
      vpcId: conn.vpcId,
      oidc: conn.oidc,
      rolePrefix: name,
      after: conn.adminAccess,
    });
    // The controller registers the pods behind the AWS phase's NLB (target groups found by name).
    const bindings = ([["thanos-grpc", "grpc", `${THANOS_RELEASE}-query`, THANOS_GRPC_PORT], ["prometheus", "prom", `${KPS_RELEASE}-prometheus`, PROMETHEUS_PORT]] as const).map(
      ([key, tg, service, port]) => ({
        apiVersion: "elbv2.k8s.aws/v1beta1",
        kind: "TargetGroupBinding",
        metadata: { name: key, namespace: NAMESPACES.monitoring },
        spec: { serviceRef: { name: service, port }, targetGroupARN: new DataAwsLbTargetGroup(this, `tg-${key}`, { name: monitoringTargetGroupName(name, tg) }).arn, targetType: "ip" },
      }),
    );
    new ManifestsRelease(this, "target-group-bindings", {
      releaseName: "monitoring-target-groups",
      namespace: NAMESPACES.monitoring,
      manifests: bindings,
      dependsOn: [ns.monitoring, lbc.addon.release, query.release, prometheus.addon.release],
    });

    new FluentBit(this, "fluent-bit", {
      version: env.versions["fluent-bit"],
      namespace: NAMESPACES.logging,
      clusterName: name,
      region: env.region,
      accountId: env.accountId,
      oidc: conn.oidc,
      opensearchHost: logs.endpoint,
      domainName: `${env.name}-logs`,
      after: [ns.logging],
    });

    // The chart has no resources field: the namespace's LimitRange gives the operator's container
    // its requests at admission, so it never runs BestEffort.
    const operatorLimits = new LimitRangeV1(this, "mattermost-operator-limits", {
      metadata: { name: "default-requests", namespace: OPERATOR_NAMESPACE },
      spec: { limit: [{ type: "Container", defaultRequest: { cpu: "50m", memory: "128Mi" }, default: { memory: "512Mi" } }] },
      dependsOn: [ns.mattermost],
    });
    const operator = new HelmAddon(this, "mattermost-operator", {
      app: "mattermost-operator",
      version: env.versions["mattermost-operator"],
      namespace: OPERATOR_NAMESPACE,
      values: {
        mattermostOperator: { replicas: 1 },
        // Its namespace enforces Pod Security "restricted"; the chart sets no security context of
        // its own (templates/mattermost-operator/deployment.yaml reads these two top-level keys).
        podSecurityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
      },
      dependsOn: [lbc.addon],
      after: [ns.mattermost, operatorLimits],
    });

    // Declared installations: a namespace, a ServiceAccount whose IRSA role reaches only its own
    // prefix of the filestore, its own database connection as a Secret, and the Mattermost resource.
    for (const inst of workload.installations) {
      const nsName = `mm-${inst.name}`;
      const instNs = new NamespaceV1(this, `ns-${inst.name}`, { metadata: { name: nsName, labels: { "pod-security.kubernetes.io/enforce": "baseline", ...READINESS_GATE_LABELS } }, dependsOn: conn.adminAccess });
      const role = new IrsaRole(this, `filestore-role-${inst.name}`, {
        roleName: `${name}-${inst.name}-files`.slice(0, 64),
        oidc: conn.oidc,
        namespace: nsName,
        serviceAccount: inst.name,
        statements: [
          { Sid: "List", Effect: "Allow", Action: ["s3:ListBucket"], Resource: filestoreBucket.arn, Condition: { StringLike: { "s3:prefix": [`${inst.name}/*`] } } },
          { Sid: "Files", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: `${filestoreBucket.arn}/${inst.name}/*` },
          { Sid: "Key", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: filestoreKey.targetKeyArn },
        ],
      });
      new ServiceAccountV1(this, `sa-${inst.name}`, { metadata: { name: inst.name, namespace: nsName, annotations: { "eks.amazonaws.com/role-arn": role.arn } }, dependsOn: [instNs] });
      // Each installation has its own database user (never the master credentials). Its DSN goes
      // from Secrets Manager into the Secret the operator reads at run time, in the cluster: it
      // never passes through Terraform state, and a changed DSN needs no deploy.
      const dbSecretName = `${inst.name}-database`;
      const dsnSync = new DatabaseSecretSync(this, `db-sync-${inst.name}`, {
        namespace: nsName,
        secretName: dbSecretName,
        sourceSecretName: installationDatabaseSecretName(env, workload.name, inst.name),
        region: env.region,
        accountId: env.accountId,
        secretsKeyAlias: secretsKeyAlias(env),
        oidc: conn.oidc,
        roleName: `${name}-${inst.name}-db-sync`.slice(0, 64),
        after: [instNs],
      });
      new ManifestsRelease(this, `installation-${inst.name}`, {
        releaseName: `installation-${inst.name}`,
        namespace: nsName,
        manifests: [
          {
            apiVersion: "installation.mattermost.com/v1beta1",
            kind: "Mattermost",
            metadata: { name: inst.name, namespace: nsName },
            spec: {
              size: inst.size,
              version: inst.version,
              ingress: { enabled: true, host: inst.dns, ingressClass: "alb", annotations: installationIngressAnnotations(env.name, name) },
              database: { external: { secret: dbSecretName } },
              fileStore: { external: { url: `s3.${env.region}.amazonaws.com`, bucket: filestoreBucket.bucket, useServiceAccount: true } },
            },
          },
        ],
        dependsOn: [instNs, dsnSync.job, operator.release],
      });
    }

    new TerraformOutput(this, "helm_releases", { value: HelmAddon.registryOf(this).map((a) => `${a.releaseName}=${a.app}@${a.version}`) });
  }
}

/**
 * The ALB in front of a workload cluster's installations: internet-facing, HTTPS with HTTP
 * redirected, pod targets, one load balancer per cluster (an ingress group), health-checked on
 * Mattermost's ping route. No certificate ARN: the controller finds the ACM certificate that
 * covers each installation's host.
 */
export function installationIngressAnnotations(environment: string, clusterName: string): Record<string, string> {
  return {
    "alb.ingress.kubernetes.io/group.name": `${clusterName}-installations`,
    "alb.ingress.kubernetes.io/scheme": "internet-facing",
    "alb.ingress.kubernetes.io/target-type": "ip",
    "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP":80},{"HTTPS":443}]',
    "alb.ingress.kubernetes.io/ssl-redirect": "443",
    "alb.ingress.kubernetes.io/ssl-policy": ALB_SSL_POLICY,
    "alb.ingress.kubernetes.io/healthcheck-path": "/api/v4/system/ping",
    "alb.ingress.kubernetes.io/load-balancer-attributes": "routing.http.drop_invalid_header_fields.enabled=true",
    "alb.ingress.kubernetes.io/tags": `${LOAD_BALANCER_TAG}=${loadBalancerId({ name: environment }, clusterName, "alb-installations")}`,
  };
}
