import { DataAwsSecurityGroup } from "@cdktf/provider-aws/lib/data-aws-security-group";
import { DataAwsSnsTopic } from "@cdktf/provider-aws/lib/data-aws-sns-topic";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { TerraformOutput, type ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import {
  LOAD_BALANCER_TAG,
  NAMESPACES,
  accessLogBucketName,
  alertsTopicName,
  bucketName,
  clusterAdminRoleArns,
  cncClusterName,
  deployRunnerName,
  loadBalancerId,
  planRunnerName,
  planRunnerRoleArn,
  provisionerRoleName,
  secretsKeyAlias,
  workloadClusterName,
} from "../config/names";
import { PROVISIONER_NAMESPACE, Provisioner } from "../constructs/provisioner/provisioner";
import type { CncApp, Environment } from "../config/schema";
import { STORE_DISCOVERY_NAME, StoreDiscoveryCronJob } from "../constructs/discovery/store-discovery";
import { Headlamp } from "../constructs/cluster-tools/headlamp";
import { MetricsServer } from "../constructs/cluster-tools/metrics-server";
import { DNS_REGISTRATION_K8S_GROUP, PROBES_KEY } from "../constructs/dns-registration/function";
import { lookupPrivateZone, lookupPublicZone } from "../constructs/dns/zones";
import { ClusterAutoscaler } from "../constructs/eks/cluster-autoscaler";
import { ClusterConnection } from "../constructs/eks/cluster-connection";
import { Gp3StorageClass } from "../constructs/eks/storage-class";
import { PlatformBackupPlan } from "../constructs/data/backup-plan";
import { HelmAddon } from "../constructs/helm/addon";
import { AppIngress, OIDC_SECRET, OIDC_SECRET_KEYS } from "../constructs/ingress/app-ingress";
import { LoadBalancerController, READINESS_GATE_LABELS } from "../constructs/ingress/load-balancer-controller";
import { DashboardsProxy, dashboardsRoleName } from "../constructs/logging/dashboards-proxy";
import { FluentBit, fluentBitRoleName } from "../constructs/logging/fluent-bit";
import { LogDomain } from "../constructs/logging/log-domain";
import { OPENSEARCH_SNAPSHOTS_NAME, OpenSearchSnapshotCronJob, SNAPSHOT_ALERTS_HOOK_SECRET, SNAPSHOT_REPOSITORY, snapshotJobRoleName } from "../constructs/logging/snapshot-cronjob";
import { LogSnapshotRepository } from "../constructs/logging/snapshot-repository";
import { GRAFANA_ADMIN_SECRET, Grafana } from "../constructs/monitoring/grafana";
import { globalRuleGroups, renderRuleFile } from "../constructs/monitoring/alerting";
import { MetricsStore } from "../constructs/monitoring/metrics-store";
import { UptimeProbes } from "../constructs/monitoring/uptime";
import { ALERTMANAGER_PAGER_SECRET, ALERTMANAGER_WEBHOOK_SECRET, OBJSTORE_KEY, OBJSTORE_SECRET, PrometheusStack } from "../constructs/monitoring/prometheus-stack";
import { ExternalSecretsOperator, NamespaceSecrets, type SyncedSecret } from "../constructs/secrets/external-secrets";
import { STORE_ENDPOINTS_CONFIGMAP, STORE_ENDPOINTS_KEY, THANOS_QUERY_DEPLOYMENT, THANOS_QUERY_SERVICE, Thanos } from "../constructs/monitoring/thanos";
import { PlatformKey } from "../constructs/security/kms-key";
import { PlatformStack } from "./platform-stack";

/** Image tag of every Thanos component (the chart's appVersion). */
export const THANOS_IMAGE_TAG = "v0.42.4";

/**
 * `<env>-post-install` (C&C layer 2): the C&C cluster's applications, installed by the Helm and
 * Kubernetes providers onto the cluster of layer 1 (found by name): monitoring (Prometheus
 * operator, Alertmanager, Thanos, Grafana), logging (OpenSearch + fluent-bit), ingress with TLS
 * and login, the cluster dashboard, metrics-server and the store-discovery CronJob.
 * Secret values never pass through Terraform: the External Secrets Operator copies them from
 * Secrets Manager into the Kubernetes Secrets the apps read (syncedSecrets below).
 */
export type SecretNamespace = "monitoring" | "logging" | "dashboard";

/**
 * The Kubernetes Secrets of the C&C apps, per namespace, and the Secrets Manager values each is
 * made of (the External Secrets Operator keeps them equal, every secrets.refreshInterval):
 * Alertmanager's webhook URL and pager key, Grafana's admin, the same webhook URL for the log
 * snapshot CronJob (logging, where snapshots are on), and the OIDC client the load balancer reads
 * in the namespace of every Ingress with login.
 */
export function syncedSecrets(env: Environment): Record<SecretNamespace, SyncedSecret[]> {
  const oidc: SyncedSecret[] =
    env.auth.enabled && env.auth.oidc?.clientSecretName
      ? [{ name: OIDC_SECRET, data: Object.fromEntries(Object.entries(OIDC_SECRET_KEYS).map(([key, property]) => [key, { secretName: env.auth.oidc!.clientSecretName!, property }])) }]
      : [];
  return {
    monitoring: [
      { name: ALERTMANAGER_WEBHOOK_SECRET.name, data: { [ALERTMANAGER_WEBHOOK_SECRET.key]: { secretName: env.alerts.webhookSecretName } } },
      ...(env.alerts.pager ? [{ name: ALERTMANAGER_PAGER_SECRET.name, data: { [ALERTMANAGER_PAGER_SECRET.key]: { secretName: env.alerts.pager.secretName } } }] : []),
      { name: GRAFANA_ADMIN_SECRET, data: { user: { secretName: env.secrets.grafanaAdmin, property: "user" }, password: { secretName: env.secrets.grafanaAdmin, property: "password" } } },
      ...oidc,
    ],
    logging: [
      ...(env.logging.snapshots.enabled ? [{ name: SNAPSHOT_ALERTS_HOOK_SECRET.name, data: { [SNAPSHOT_ALERTS_HOOK_SECRET.key]: { secretName: env.alerts.webhookSecretName } } }] : []),
      ...oidc,
    ],
    dashboard: oidc,
  };
}

export class PostInstallStack extends PlatformStack {
  readonly addons: HelmAddon[];
  readonly connection: ClusterConnection;
  readonly ingress: AppIngress;

  constructor(scope: Construct, id: string, env: Environment) {
    super(scope, id, { env });
    const clusterName = cncClusterName(env);
    const throwaway = env.target === "emulator";
    // Encrypts this stack's log groups (the OpenSearch domain's own logs).
    const logsKey = new PlatformKey(this, "operations-key", {
      alias: `${id}-operations`,
      description: `Logs of ${id}`,
      cloudWatchLogs: { region: env.region, accountId: env.accountId },
      deletionWindowDays: throwaway ? 7 : 30,
    });
    const accessLogBucket = env.accessLogs.enabled ? accessLogBucketName(env) : undefined;
    // The environment's alert topic (cluster stack): CloudWatch alarms of this layer publish there.
    const alertsTopic = new DataAwsSnsTopic(this, "alerts-topic", { name: alertsTopicName(env) });
    const conn = (this.connection = new ClusterConnection(this, "cnc", {
      clusterName,
      region: env.region,
      adminRoleArns: clusterAdminRoleArns(env),
      existingNetwork: env.network.existing ? { vpcId: env.network.existing.vpcId, privateSubnetIds: env.network.existing.privateSubnetIds } : undefined,
    }));
    const rolePrefix = clusterName;
    const host = (app: string) => `${app}.${env.dns.privateDomain}`;
    // A public app answers on its public name first (its URL), and on its private name as well.
    const hostsOf = (app: CncApp) => (env.dns.publicApps.includes(app) ? [`${app}.${env.dns.publicDomain}`, host(app)] : [host(app)]);

    const ns = Object.fromEntries(
      (["monitoring", "logging", "dashboard", "externalSecrets"] as const).map((key) => [
        key,
        new NamespaceV1(this, `ns-${key === "externalSecrets" ? NAMESPACES.externalSecrets : key}`, {
          metadata: {
            name: NAMESPACES[key],
            // node-exporter and fluent-bit need host access; the dashboard and the secrets operator run restricted.
            labels: {
              "pod-security.kubernetes.io/enforce": key === "dashboard" || key === "externalSecrets" ? "restricted" : "privileged",
              "platform/managed-by": "cdktf",
              ...(key === "externalSecrets" ? {} : READINESS_GATE_LABELS),
            },
          },
          dependsOn: conn.adminAccess,
        }),
      ]),
    ) as Record<"monitoring" | "logging" | "dashboard" | "externalSecrets", NamespaceV1>;

    // Every volume asks for this class; EKS itself ships only gp2.
    const storage = new Gp3StorageClass(this, "storage", { after: conn.adminAccess });

    // Secrets: the operator in its own namespace, then per consuming namespace a reader role
    // scoped to exactly its secrets, a SecretStore and the ExternalSecrets. The apps wait for them.
    const operator = new ExternalSecretsOperator(this, "external-secrets", {
      version: env.versions["external-secrets"],
      namespace: NAMESPACES.externalSecrets,
      after: [ns.externalSecrets],
    });
    const synced = {} as Record<SecretNamespace, ITerraformDependable[]>;
    for (const [key, secrets] of Object.entries(syncedSecrets(env)) as [SecretNamespace, SyncedSecret[]][]) {
      synced[key] = [];
      if (secrets.length === 0) continue;
      const sync = new NamespaceSecrets(this, `secrets-${key}`, {
        operator,
        namespace: NAMESPACES[key],
        roleName: `${rolePrefix}-secrets-${NAMESPACES[key]}`,
        oidc: conn.oidc,
        region: env.region,
        accountId: env.accountId,
        secretsKeyAlias: secretsKeyAlias(env),
        refreshInterval: env.secrets.refreshInterval,
        secrets,
        after: [ns[key]],
      });
      synced[key].push(sync.release);
    }

    const privateZone = lookupPrivateZone(this, "private-zone", env);
    const publicZone = lookupPublicZone(this, "public-zone", env);
    if (!publicZone) {
      throw new Error(`${env.name}: the apps' TLS certificates are validated by DNS in a public zone; set dns.publicDomain (and dns.publicZoneId) in the environment.`);
    }

    // Object storage for every Prometheus of the environment (this cluster's and the workloads').
    const metrics = new MetricsStore(this, "metrics", {
      bucketName: bucketName(env, "metrics"),
      region: env.region,
      forceDestroy: throwaway,
      keyDeletionWindowDays: throwaway ? 7 : 30,
      accessLogBucket,
    });
    const objstore = new SecretV1(this, "objstore", {
      metadata: { name: OBJSTORE_SECRET, namespace: NAMESPACES.monitoring },
      data: { [OBJSTORE_KEY]: metrics.objstoreConfig },
      dependsOn: [ns.monitoring],
    });

    // Ingress, TLS and login first: every UI below is published through it.
    const lbc = new LoadBalancerController(this, "load-balancer-controller", {
      version: env.versions["aws-load-balancer-controller"],
      clusterName,
      region: env.region,
      vpcId: conn.vpcId,
      oidc: conn.oidc,
      rolePrefix,
    });
    this.ingress = new AppIngress(this, "ingress", {
      environment: env.name,
      clusterName,
      privateDomain: env.dns.privateDomain,
      publicDomain: env.dns.publicDomain,
      validationZone: publicZone,
      oidc: env.auth.enabled
        ? {
            issuer: env.auth.oidc!.issuer!,
            authorizationEndpoint: env.auth.oidc!.authorizationEndpoint!,
            tokenEndpoint: env.auth.oidc!.tokenEndpoint!,
            userInfoEndpoint: env.auth.oidc!.userInfoEndpoint!,
          }
        : undefined,
      after: [ns.monitoring, ns.logging, ns.dashboard],
    });
    // The OIDC Secret of each namespace with an Ingress (written by the operator) and the load
    // balancer controller's permission to read it, before any app of that namespace.
    const oidcReady = (key: SecretNamespace): ITerraformDependable[] => [...[this.ingress.oidcReader(NAMESPACES[key])].filter((r): r is NonNullable<typeof r> => !!r), ...synced[key]];
    const oidcSecrets = [...oidcReady("monitoring"), ...oidcReady("dashboard"), ...oidcReady("logging")];
    const group = (app: CncApp): "public" | "internal" => (env.dns.publicApps.includes(app) ? "public" : "internal");
    // Target groups check a path that answers 200 (their "/" redirects, which ALB counts as unhealthy).
    const healthCheck = (path: string) => ({ "alb.ingress.kubernetes.io/healthcheck-path": path });
    const ingressValues = (app: CncApp, paths = false) => ({
      enabled: true,
      ingressClassName: "alb",
      annotations: this.ingress.annotations(app, group(app), healthCheck("/-/ready")),
      hosts: hostsOf(app),
      ...(paths ? { paths: ["/"], pathType: "Prefix" } : {}),
    });

    if (env.autoscaling.enabled) {
      new ClusterAutoscaler(this, "autoscaler", {
        clusterName,
        kubernetesVersion: env.cluster.kubernetesVersion,
        region: env.region,
        accountId: env.accountId,
        oidc: conn.oidc,
        roleName: `${rolePrefix}-cluster-autoscaler`,
        maxNodesTotal: env.cluster.nodeGroups.reduce((n, g) => n + g.maxSize, 0),
        after: conn.adminAccess,
      });
    }
    const uptime = new UptimeProbes(this, "uptime", { namespace: NAMESPACES.monitoring, after: [ns.monitoring] });
    const prometheus = new PrometheusStack(this, "prometheus", {
      version: env.versions["kube-prometheus-stack"],
      namespace: NAMESPACES.monitoring,
      clusterLabel: clusterName,
      environment: env.name,
      oidc: conn.oidc,
      rolePrefix,
      sidecarStatements: metrics.statements("write"),
      objstoreSecret: objstore,
      storageGiB: env.monitoring.prometheusStorageGiB,
      retention: env.monitoring.prometheusRetention,
      alertmanager: {
        storageGiB: env.monitoring.alertmanagerStorageGiB,
        pager: env.alerts.pager ? { service: env.alerts.pager.service } : undefined,
      },
      federation: { writerGroup: DNS_REGISTRATION_K8S_GROUP, probes: { key: PROBES_KEY, blackboxAddress: uptime.address } },
      userValues: {
        prometheus: { ingress: ingressValues("prometheus", true) },
        alertmanager: { ingress: ingressValues("alertmanager", true) },
      },
      after: [ns.monitoring, ...oidcSecrets, lbc.addon.release, storage.storageClass],
    });

    operator.serviceMonitor([prometheus.addon.release]);

    const thanos = new Thanos(this, "thanos", {
      version: env.versions.thanos,
      imageTag: THANOS_IMAGE_TAG,
      namespace: NAMESPACES.monitoring,
      oidc: conn.oidc,
      rolePrefix,
      metricsStore: metrics,
      retention: env.monitoring.retention,
      rules: renderRuleFile(
        globalRuleGroups({
          cncCluster: clusterName,
          storeDiscoveryCronJob: STORE_DISCOVERY_NAME,
          provisionerNamespace: PROVISIONER_NAMESPACE,
          opensearchSnapshots: env.logging.snapshots.enabled ? { cronJob: OPENSEARCH_SNAPSHOTS_NAME, schedule: env.logging.snapshots.schedule } : undefined,
        }),
        env.alerts.runbookBaseUrl ?? `${env.deployRunner.repositoryUrl}/blob/main/docs/runbooks.md`,
      ),
      dependsOn: [prometheus.addon],
      userValues: { query: { ingress: { enabled: true, ingressClassName: "alb", annotations: this.ingress.annotations("thanos", group("thanos"), healthCheck("/-/ready")), hosts: hostsOf("thanos"), path: "/" } } },
      after: [ns.monitoring, objstore, storage.storageClass],
    });
    // Thanos gRPC for other queriers, on an internal NLB (no browser, so no OIDC: never public).
    new ServiceV1(this, "thanos-grpc", {
      metadata: {
        name: "thanos-query-grpc",
        namespace: NAMESPACES.monitoring,
        annotations: {
          "service.beta.kubernetes.io/aws-load-balancer-type": "external",
          "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
          "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
          // Its own lookup tag only (config/names.ts): route53 finds exactly this load balancer.
          "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags": `${LOAD_BALANCER_TAG}=${loadBalancerId(env, clusterName, "nlb-thanos-grpc")}`,
        },
      },
      spec: {
        type: "LoadBalancer",
        loadBalancerClass: "service.k8s.aws/nlb",
        selector: { "app.kubernetes.io/instance": "thanos", "app.kubernetes.io/component": "query" },
        port: [{ name: "grpc", port: 10901, targetPort: "grpc" }],
      },
      dependsOn: [thanos.addon.release, lbc.addon.release],
    });

    new Grafana(this, "grafana", {
      version: env.versions.grafana,
      namespace: NAMESPACES.monitoring,
      thanosQueryUrl: `http://${THANOS_QUERY_SERVICE}.${NAMESPACES.monitoring}.svc:10902`,
      hostnames: hostsOf("grafana"),
      ingress: this.ingress,
      group: group("grafana"),
      region: env.region,
      oidc: conn.oidc,
      roleName: `${rolePrefix}-grafana`,
      dependsOn: [thanos.addon, lbc.addon],
      after: [ns.monitoring, ...oidcSecrets, storage.storageClass],
    });

    // Logging: the OpenSearch domain in this VPC, and this cluster's shipper.
    const domainName = `${env.name}-logs`;
    const logs = new LogDomain(this, "logs", {
      domainName,
      engineVersion: env.logging.engineVersion,
      instanceType: env.logging.instanceType,
      instanceCount: env.logging.instanceCount,
      volumeGiB: env.logging.volumeGiB,
      vpcId: conn.vpcId,
      subnetIds: conn.privateSubnetIds,
      zoneCount: env.network.azs.length,
      // The nodes (fluent-bit, the signing proxy) and the deploy runner (the opensearch provider maps roles at apply).
      allowedSecurityGroupIds: [
        conn.nodeSecurityGroupId,
        ...(env.deployRunner.enabled
          ? [deployRunnerName(env), planRunnerName(env)].map((n) => new DataAwsSecurityGroup(this, `${n}-sg`, { vpcId: conn.vpcId, filter: [{ name: "group-name", values: [n] }] }).id)
          : []),
      ],
      allowedCidrs: [...env.cluster.adminCidrs, ...env.workloads.map((w) => w.cidr)],
      // Whoever applies this stack (the opensearch provider assumes the master role), and the plan runner (reads mappings).
      adminPrincipalArns: [...clusterAdminRoleArns(env), ...(env.deployRunner.enabled ? [planRunnerRoleArn(env)] : [])],
      accountId: env.accountId,
      region: env.region,
      logRetentionDays: env.logging.logRetentionDays,
      logsKmsKeyArn: logsKey.arn,
      hotDays: env.logging.hotDays,
      indexRetentionDays: env.logging.indexRetentionDays,
      alarmTopicArn: alertsTopic.arn,
      dedicatedMasterInstanceType: env.logging.dedicatedMasters.enabled ? env.logging.dedicatedMasters.instanceType : undefined,
      writerRoleArns: [clusterName, ...env.workloads.map((w) => workloadClusterName(env, w.name))].map(
        (c) => `arn:aws:iam::${env.accountId}:role/${fluentBitRoleName(c)}`,
      ),
      readerRoleArns: [`arn:aws:iam::${env.accountId}:role/${dashboardsRoleName(clusterName)}`],
      snapshotRoleArns: env.logging.snapshots.enabled ? [`arn:aws:iam::${env.accountId}:role/${snapshotJobRoleName(rolePrefix)}`] : undefined,
      keyDeletionWindowDays: throwaway ? 7 : 30,
    });
    new FluentBit(this, "fluent-bit", {
      version: env.versions["fluent-bit"],
      namespace: NAMESPACES.logging,
      clusterName,
      region: env.region,
      accountId: env.accountId,
      oidc: conn.oidc,
      opensearchHost: logs.endpoint,
      domainName,
      after: [ns.logging, ...logs.lifecycle],
    });

    new DashboardsProxy(this, "opensearch-dashboards", {
      namespace: NAMESPACES.logging,
      clusterName,
      region: env.region,
      accountId: env.accountId,
      domainName,
      opensearchHost: logs.endpoint,
      hostnames: hostsOf("kibana"),
      ingress: this.ingress,
      group: group("kibana"),
      oidc: conn.oidc,
      after: [ns.logging, ...oidcSecrets, lbc.addon.release],
    });

    new Headlamp(this, "headlamp", { version: env.versions.headlamp, namespace: NAMESPACES.dashboard, hostnames: hostsOf("dashboard"), ingress: this.ingress, group: group("dashboard"), after: [ns.dashboard, ...oidcSecrets, lbc.addon.release] });
    new MetricsServer(this, "metrics-server", { version: env.versions["metrics-server"] });

    new StoreDiscoveryCronJob(this, "store-discovery", {
      namespace: NAMESPACES.monitoring,
      environment: env.name,
      region: env.region,
      zoneId: privateZone.zoneId,
      oidc: conn.oidc,
      rolePrefix,
      queryDeployment: THANOS_QUERY_DEPLOYMENT,
      configMapName: STORE_ENDPOINTS_CONFIGMAP,
      configMapKey: STORE_ENDPOINTS_KEY,
      webhookSecret: ALERTMANAGER_WEBHOOK_SECRET,
      schedule: env.monitoring.storeDiscoverySchedule,
      after: [ns.monitoring, thanos.endpoints, prometheus.addon.release],
    });

    // Manual snapshots of the log domain: the bucket and the role OpenSearch writes with, and the daily CronJob.
    if (env.logging.snapshots.enabled) {
      const snapshotRepository = new LogSnapshotRepository(this, "log-snapshots", {
        domainName,
        bucketName: bucketName(env, "log-snapshots"),
        region: env.region,
        accountId: env.accountId,
        accessLogBucket,
        forceDestroy: throwaway,
        keyDeletionWindowDays: throwaway ? 7 : 30,
      });
      new OpenSearchSnapshotCronJob(this, "opensearch-snapshots", {
        namespace: NAMESPACES.logging,
        environment: env.name,
        region: env.region,
        accountId: env.accountId,
        oidc: conn.oidc,
        rolePrefix,
        domainName,
        opensearchHost: logs.endpoint,
        repository: SNAPSHOT_REPOSITORY,
        bucketName: snapshotRepository.bucket.name,
        serviceRoleArn: snapshotRepository.serviceRoleArn,
        retentionDays: env.logging.snapshots.retentionDays,
        schedule: env.logging.snapshots.schedule,
        webhookSecret: SNAPSHOT_ALERTS_HOOK_SECRET,
        // After the logging namespace's ExternalSecrets, which include the webhook's.
        after: [ns.logging, ...synced.logging],
      });
    }

    // Only monitoring pods, the load balancers (VPC addresses, to the UI ports) and the control
    // plane (webhooks) may open connections into the monitoring namespace.
    new NetworkPolicyV1(this, "monitoring-ingress", {
      metadata: { name: "only-intended-callers", namespace: NAMESPACES.monitoring },
      spec: {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": NAMESPACES.monitoring } } }] },
          {
            from: [{ ipBlock: { cidr: env.network.cidr } }],
            ports: [9090, 9093, 10902, 10901, 3000, 10250].map((port) => ({ port: String(port), protocol: "TCP" })),
          },
        ],
      },
      dependsOn: [ns.monitoring],
    });

    const provisioner = new Provisioner(this, "provisioner", {
      environment: env.name,
      accountId: env.accountId,
      region: env.region,
      roleName: provisionerRoleName(env),
      imageTag: env.provisioner.imageTag,
      supervisorReplicas: env.provisioner.supervisorReplicas,
      postgresVersion: env.provisioner.postgresVersion,
      dbInstanceClass: env.provisioner.dbInstanceClass,
      backupRetentionDays: env.provisioner.backupRetentionDays,
      production: !throwaway,
      multiAz: !throwaway && env.provisioner.multiAz,
      databaseRestores: env.provisioner.restores,
      stateStoreBucketName: bucketName(env, "kops-state"),
      utilitiesGitUrl: env.provisioner.utilitiesGitUrl,
      utilitiesGitPath: env.provisioner.utilitiesGitPath,
      sshPublicKeySecretName: env.provisioner.sshPublicKeySecretName,
      rdsDatabases: env.provisioner.rdsDatabases,
      s3Filestores: env.provisioner.s3Filestores,
      apiAuth: { issuer: env.provisioner.apiAuth.issuer ?? env.auth.oidc!.issuer!, audience: env.provisioner.apiAuth.audience, jwksUrl: env.provisioner.apiAuth.jwksUrl },
      // The VPN and the C&C VPC (where the deploy runner, which registers workload clusters, runs).
      apiClientCidrs: [...new Set([...env.cluster.adminCidrs, env.network.cidr])],
      privateDomain: env.dns.privateDomain,
      zoneIds: [privateZone.zoneId, ...(publicZone ? [publicZone.zoneId] : [])],
      allowListCidrs: env.provisioner.allowListCidrs ?? [env.network.cidr],
      vpnCidrs: env.cluster.adminCidrs,
      vpcId: conn.vpcId,
      privateSubnetIds: conn.privateSubnetIds,
      nodeSecurityGroupId: conn.nodeSecurityGroupId,
      oidc: conn.oidc,
      ingress: this.ingress,
      after: [prometheus.addon.release, lbc.addon.release],
      keyDeletionWindowDays: throwaway ? 7 : 30,
      accessLogBucket,
      secretsKeyAlias: secretsKeyAlias(env),
      // The emulator does not keep the RDS monitoring interval; real accounts get OS metrics every minute.
      databaseMonitoringIntervalSeconds: throwaway ? 0 : 60,
      alarmTopicArn: alertsTopic.arn,
    });
    // The provisioner's database (installations, clusters, groups) beyond RDS's automated backups.
    if (env.backups.enabled) {
      new PlatformBackupPlan(this, "backups", {
        name: `${env.name}-provisioner`,
        kmsKeyArn: provisioner.database.keyArn,
        schedule: env.backups.schedule,
        retentionDays: env.backups.retentionDays,
        resourceArns: [provisioner.database.instance.arn],
      });
    }

    this.addons = HelmAddon.registryOf(this);
    new TerraformOutput(this, "metrics_bucket", { value: metrics.bucket.name });
    new TerraformOutput(this, "opensearch_endpoint", { value: logs.endpoint });
    new TerraformOutput(this, "helm_releases", { value: this.addons.map((a) => `${a.releaseName}=${a.app}@${a.version}`) });
  }
}
