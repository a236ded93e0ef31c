import { KPS_CRD_JOB_BUSYBOX_TAG } from "../../config/versions";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ClusterOidc, IrsaRole, type PolicyStatement } from "../eks/irsa-role";
import { HelmAddon } from "../helm/addon";
import { REPLACED_DEFAULT_ALERTS, alertmanagerConfig } from "./alerting";
import { probeScrapeConfig } from "./uptime";

/** Short release names keep every derived object name readable (the chart truncates at 26). */
export const KPS_RELEASE = "kps";
export const PROMETHEUS_SERVICE_ACCOUNT = "prometheus";
/** Headless Service of the Thanos sidecars (gRPC 10901), created by the chart. */
export const SIDECAR_DISCOVERY = (namespace: string) => `dnssrv+_grpc._tcp.${KPS_RELEASE}-thanos-discovery.${namespace}.svc.cluster.local`;
export const ALERTMANAGER_DISCOVERY = (namespace: string) => `dnssrv+_http-web._tcp.alertmanager-operated.${namespace}.svc.cluster.local`;
export const OBJSTORE_SECRET = "thanos-objstore";
/**
 * Kubernetes labels kube-state-metrics exports as `label_*` on `kube_<resource>_labels`: exactly the
 * ones the rules and dashboards read (a test derives them from the expressions and compares).
 * Without an allowlist kube-state-metrics exports none.
 */
export const KSM_METRIC_LABELS: Record<string, string[]> = {
  pods: ["app"],
  // The declared group (one managed node group per zone carries it), not the per-zone EKS name.
  nodes: ["platform/node-group"],
};
export const OBJSTORE_KEY = "objstore.yml";
export const FEDERATION_CONFIGMAP = "prometheus-federation-targets";
export const FEDERATION_KEY = "federation-targets.json";
/**
 * Kubernetes Secrets Alertmanager mounts (alertmanagerSpec.secrets) and reads its receivers'
 * `url_file` / key file from: the Mattermost webhook URL (key `url`) and the pager key (key
 * `key`). The External Secrets Operator writes them from Secrets Manager; the values never
 * appear in Helm values or Terraform state.
 */
export const ALERTMANAGER_WEBHOOK_SECRET = { name: "alertmanager-mattermost-webhook", key: "url" } as const;
export const ALERTMANAGER_PAGER_SECRET = { name: "alertmanager-pager-key", key: "key" } as const;
const WEBHOOK_SECRET = ALERTMANAGER_WEBHOOK_SECRET.name;
const PAGER_SECRET = ALERTMANAGER_PAGER_SECRET.name;

export interface PrometheusStackProps {
  readonly version: string;
  readonly namespace: string;
  /** External labels that make this Prometheus unique among all clusters. */
  readonly clusterLabel: string;
  readonly environment: string;
  readonly oidc: ClusterOidc;
  /** IAM role name prefix, e.g. `prod-cnc`. */
  readonly rolePrefix: string;
  /** What the Thanos sidecar may do in the metrics bucket (MetricsStore.statements("write"), or the same over a looked-up bucket). */
  readonly sidecarStatements: PolicyStatement[];
  /** Kubernetes Secret (in `namespace`) holding the objstore config; created by the caller. */
  readonly objstoreSecret: SecretV1;
  readonly storageGiB: number;
  readonly retention: string;
  readonly replicas?: number;
  /**
   * Alertmanager (the C&C only): the Mattermost webhook URL is read from a file of the mounted
   * Secret ALERTMANAGER_WEBHOOK_SECRET, which the caller has the External Secrets Operator write
   * (and waits for, in `after`); it never appears in values.
   */
  readonly alertmanager?: {
    storageGiB: number;
    /** Critical alerts also go to this pager; its key is read like the webhook URL (Secret ALERTMANAGER_PAGER_SECRET). */
    pager?: { service: "pagerduty" | "opsgenie" };
  };
  /**
   * Federation of the workload clusters' Prometheus (the C&C only): the DNS-registration Lambda
   * keeps ConfigMap `prometheus-federation-targets` current; the Kubernetes group of its IAM
   * role may get, update and create that one ConfigMap and nothing else.
   */
  readonly federation?: {
    writerGroup: string;
    /** Installation uptime probes: the Lambda's second document (this key of the same ConfigMap), probed through this blackbox exporter. */
    probes?: { key: string; blackboxAddress: string };
  };
  readonly storageClass?: string;
  readonly userValues?: Record<string, unknown>;
  readonly after?: ITerraformDependable[];
}

/**
 * kube-prometheus-stack: the Prometheus operator, Prometheus with a Thanos sidecar uploading
 * blocks to the metrics bucket through IRSA (objstore config without keys), external labels
 * `cluster` and `environment`, persistent volumes sized from the environment, and (on the C&C)
 * Alertmanager routing to Mattermost plus the federation job fed by the DNS-registration Lambda.
 */
export class PrometheusStack extends Construct {
  readonly addon: HelmAddon;
  readonly role: IrsaRole;

  constructor(scope: Construct, id: string, props: PrometheusStackProps) {
    super(scope, id);
    const ns = props.namespace;
    const storageClass = props.storageClass ?? "gp3";
    const after: ITerraformDependable[] = [...(props.after ?? []), props.objstoreSecret];

    this.role = new IrsaRole(this, "sidecar-role", {
      roleName: `${props.rolePrefix}-thanos-sidecar`,
      oidc: props.oidc,
      namespace: ns,
      serviceAccount: PROMETHEUS_SERVICE_ACCOUNT,
      statements: props.sidecarStatements,
    });

    const prometheusSpec: Record<string, unknown> = {
      replicas: props.replicas ?? 2,
      externalLabels: { cluster: props.clusterLabel, environment: props.environment },
      retention: props.retention,
      resources: { requests: { cpu: "500m", memory: "2Gi" }, limits: { memory: "4Gi" } },
      storageSpec: {
        volumeClaimTemplate: { spec: { storageClassName: storageClass, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: `${props.storageGiB}Gi` } } } },
      },
      thanos: {
        objectStorageConfig: { existingSecret: { name: OBJSTORE_SECRET, key: OBJSTORE_KEY } },
        resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
      },
      // Pick up ServiceMonitors, PodMonitors and rules of every release (the provisioner's too).
      serviceMonitorSelectorNilUsesHelmValues: false,
      podMonitorSelectorNilUsesHelmValues: false,
      ruleSelectorNilUsesHelmValues: false,
    };

    if (props.federation) {
      const targets = new ConfigMapV1(this, "federation-targets", {
        metadata: { name: FEDERATION_CONFIGMAP, namespace: ns, labels: { "app.kubernetes.io/managed-by": "dns-registration-lambda" } },
        data: { [FEDERATION_KEY]: "[]\n", ...(props.federation.probes ? { [props.federation.probes.key]: "[]\n" } : {}) },
        // Created empty so Prometheus can mount it; from then on the Lambda owns its content.
        lifecycle: { ignoreChanges: ["data", "metadata[0].labels", "metadata[0].annotations"] },
        dependsOn: props.after,
      });
      after.push(targets);
      const role = new RoleV1(this, "federation-writer-role", {
        metadata: { name: "dns-registration", namespace: ns },
        rule: [
          { apiGroups: [""], resources: ["configmaps"], resourceNames: [FEDERATION_CONFIGMAP], verbs: ["get", "update"] },
          // Kubernetes cannot limit `create` by name; it is kept so the Lambda can recreate a deleted map.
          { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
        ],
        dependsOn: props.after,
      });
      new RoleBindingV1(this, "federation-writer-binding", {
        metadata: { name: "dns-registration", namespace: ns },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subject: [{ kind: "Group", name: props.federation.writerGroup, apiGroup: "rbac.authorization.k8s.io" }],
        dependsOn: props.after,
      });
      prometheusSpec.configMaps = [FEDERATION_CONFIGMAP];
      prometheusSpec.additionalScrapeConfigs = [
        {
          job_name: "federate-workload-clusters",
          honor_labels: true,
          metrics_path: "/federate",
          scrape_interval: "1m",
          params: { "match[]": ['{__name__=~"up|kube_.*|mattermost_.*|node_.*"}'] },
          // The copies are renamed (federate:<name>, their cluster kept as federated_cluster): through
          // Thanos they would otherwise carry the C&C's cluster label (its sidecar's external label
          // wins), doubling every workload series in dashboards and global rules under the C&C's name.
          metric_relabel_configs: [
            { source_labels: ["cluster"], target_label: "federated_cluster" },
            { regex: "cluster", action: "labeldrop" },
            { source_labels: ["__name__"], regex: "(.+)", target_label: "__name__", replacement: "federate:$1" },
          ],
          // Re-read on change: new clusters are scraped with no restart.
          file_sd_configs: [{ files: [`/etc/prometheus/configmaps/${FEDERATION_CONFIGMAP}/${FEDERATION_KEY}`], refresh_interval: "1m" }],
        },
        ...(props.federation.probes ? [probeScrapeConfig(`/etc/prometheus/configmaps/${FEDERATION_CONFIGMAP}/${props.federation.probes.key}`, props.federation.probes.blackboxAddress)] : []),
      ];
    }

    const values: Record<string, unknown> = {
      fullnameOverride: KPS_RELEASE,
      grafana: { enabled: false },
      // Helm installs crds/ once and never upgrades them: the chart's own CRD job applies the
      // CRDs of this same chart version server-side (kubectl apply --server-side
      // --force-conflicts) in a pre-install/pre-upgrade hook, so a chart bump brings its CRDs
      // before the operator that needs them. It never deletes a CRD. kubectl's image follows the
      // cluster's version; busybox (which unpacks the CRDs) is pinned.
      crds: {
        upgradeJob: {
          enabled: true,
          forceConflicts: true,
          image: { busybox: { tag: KPS_CRD_JOB_BUSYBOX_TAG } },
          resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
        },
      },
      // Requests for every chart-made container: none of them may run BestEffort (the policy step
      // over the rendered release checks it).
      prometheusOperator: {
        resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
        prometheusConfigReloader: { resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "64Mi" } } },
      },
      "kube-state-metrics": {
        resources: { requests: { cpu: "20m", memory: "128Mi" }, limits: { memory: "512Mi" } },
        metricLabelsAllowlist: Object.entries(KSM_METRIC_LABELS).map(([resource, labels]) => `${resource}=[${labels.join(",")}]`),
      },
      "prometheus-node-exporter": { resources: { requests: { cpu: "20m", memory: "32Mi" }, limits: { memory: "128Mi" } } },
      prometheus: {
        serviceAccount: { create: true, name: PROMETHEUS_SERVICE_ACCOUNT, annotations: { "eks.amazonaws.com/role-arn": this.role.arn } },
        thanosService: { enabled: true },
        podDisruptionBudget: { enabled: true, minAvailable: 1 },
        prometheusSpec,
      },
      alertmanager: { enabled: false },
      // EKS runs the control plane (and kube-proxy's metrics port is not exposed): these targets
      // cannot be scraped, so their monitors and rules would alert "target down" forever.
      kubeControllerManager: { enabled: false },
      kubeScheduler: { enabled: false },
      kubeEtcd: { enabled: false },
      kubeProxy: { enabled: false },
      defaultRules: {
        rules: { etcd: false, kubeControllerManager: false, kubeProxy: false, kubeSchedulerAlerting: false, kubeSchedulerRecording: false },
        // The global rules (alerting.ts) evaluate these over every cluster; here they would fire twice.
        disabled: Object.fromEntries(REPLACED_DEFAULT_ALERTS.map((a) => [a, true])),
      },
    };

    if (props.alertmanager) {
      const pager = props.alertmanager.pager;
      values.alertmanager = {
        enabled: true,
        podDisruptionBudget: { enabled: true, minAvailable: 1 },
        alertmanagerSpec: {
          replicas: 2,
          secrets: [WEBHOOK_SECRET, ...(pager ? [PAGER_SECRET] : [])],
          resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "256Mi" } },
          storage: {
            volumeClaimTemplate: { spec: { storageClassName: storageClass, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: `${props.alertmanager.storageGiB}Gi` } } } },
          },
        },
        config: alertmanagerConfig({
          webhookFile: `/etc/alertmanager/secrets/${WEBHOOK_SECRET}/${ALERTMANAGER_WEBHOOK_SECRET.key}`,
          pager: pager ? { service: pager.service, keyFile: `/etc/alertmanager/secrets/${PAGER_SECRET}/${ALERTMANAGER_PAGER_SECRET.key}` } : undefined,
        }),
      };
    }

    this.addon = new HelmAddon(this, "addon", {
      app: "kube-prometheus-stack",
      version: props.version,
      namespace: ns,
      releaseName: KPS_RELEASE,
      values,
      userValues: props.userValues,
      after,
      timeoutSeconds: 900,
    });
  }
}
