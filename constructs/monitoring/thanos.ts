import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { durationHours } from "../../config/schema";
import { ClusterOidc, IrsaRole } from "../eks/irsa-role";
import { HelmAddon } from "../helm/addon";
import type { MetricsStore } from "./metrics-store";
import { ALERTMANAGER_DISCOVERY, OBJSTORE_KEY, OBJSTORE_SECRET, SIDECAR_DISCOVERY } from "./prometheus-stack";

export const THANOS_RELEASE = "thanos";
export const THANOS_QUERY_DEPLOYMENT = `${THANOS_RELEASE}-query`;
export const THANOS_QUERY_SERVICE = `${THANOS_RELEASE}-query`;
/** The endpoint file the store-discovery CronJob keeps current. */
export const STORE_ENDPOINTS_CONFIGMAP = "thanos-store-endpoints";
export const STORE_ENDPOINTS_KEY = "servicediscovery.yml";
const SD_DIR = "/etc/thanos/sd";

export interface ThanosRetention {
  raw: string;
  fiveMinutes: string;
  oneHour: string;
}

export interface ThanosProps {
  readonly version: string;
  readonly imageTag: string;
  readonly namespace: string;
  readonly oidc: ClusterOidc;
  readonly rolePrefix: string;
  readonly metricsStore: MetricsStore;
  readonly retention: ThanosRetention;
  /** Global alerting rules evaluated by the ruler over every cluster (a Prometheus rule file: alerting.ts renderRuleFile). */
  readonly rules: string;
  readonly storageClass?: string;
  readonly userValues?: Record<string, unknown>;
  /** The Prometheus stack (its CRDs and sidecar Service) must be installed first. */
  readonly dependsOn: HelmAddon[];
  readonly after?: ITerraformDependable[];
}

const TEN_DAYS_HOURS = 240;

/** The compactor's retention flags; each resolution must outlive the 10-day downsampling horizon. */
export function compactorRetentionArgs(r: ThanosRetention): string[] {
  for (const [name, value] of Object.entries(r)) {
    if (!(durationHours(value) > TEN_DAYS_HOURS)) {
      throw new Error(`Thanos retention ${name}=${value} must be longer than 10 days: 1h downsampling happens after 10 days, and raw/5m data must still be there then`);
    }
  }
  return [`--retention.resolution-raw=${r.raw}`, `--retention.resolution-5m=${r.fiveMinutes}`, `--retention.resolution-1h=${r.oneHour}`];
}

/**
 * The central Thanos: query (endpoints from a file the store-discovery CronJob rewrites; the file
 * is a ConfigMap volume without subPath, which the query watches, so new clusters appear without
 * restarts), store gateway over the bucket, a single compactor (downsampling 5m after 40 h and
 * 1h after 10 d, Thanos' defaults; retention per resolution from the environment), and a ruler
 * sending to Alertmanager. Every component has requests and limits; the ones with more than one
 * replica have a PodDisruptionBudget.
 */
export class Thanos extends Construct {
  readonly addon: HelmAddon;
  readonly endpoints: ConfigMapV1;

  constructor(scope: Construct, id: string, props: ThanosProps) {
    super(scope, id);
    const ns = props.namespace;
    const storageClass = props.storageClass ?? "gp3";
    const irsa = (component: string, access: "read" | "write") =>
      new IrsaRole(this, `${component}-role`, {
        roleName: `${props.rolePrefix}-thanos-${component}`,
        oidc: props.oidc,
        namespace: ns,
        serviceAccount: `${THANOS_RELEASE}-${component}`,
        statements: props.metricsStore.statements(access),
      });
    const sa = (component: string, access: "read" | "write") => ({
      create: true,
      name: `${THANOS_RELEASE}-${component}`,
      annotations: { "eks.amazonaws.com/role-arn": irsa(component, access).arn },
    });
    const pdb = { enabled: true, minAvailable: 1 };
    const volume = (size: string) => ({ enabled: true, storageClass, size });

    this.endpoints = new ConfigMapV1(this, "store-endpoints", {
      metadata: { name: STORE_ENDPOINTS_CONFIGMAP, namespace: ns, labels: { "app.kubernetes.io/managed-by": "thanos-store-discovery" } },
      data: { [STORE_ENDPOINTS_KEY]: "[]\n" },
      // Created empty so the query can mount it; from then on the store-discovery CronJob owns it.
      lifecycle: { ignoreChanges: ["data", "metadata[0].labels", "metadata[0].annotations"] },
      dependsOn: props.after,
    });

    const values = {
      fullnameOverride: THANOS_RELEASE,
      image: { tag: props.imageTag },
      objstoreConfig: { create: false, name: OBJSTORE_SECRET, key: OBJSTORE_KEY },
      additionalReplicaLabels: ["prometheus_replica"],
      // The C&C's own Prometheus sidecars; workload clusters come from the endpoint file.
      additionalEndpoints: [SIDECAR_DISCOVERY(ns)],
      // Scraped by the Prometheus operator (it selects every release's monitors), so the Thanos
      // alerts have something to fire on.
      serviceMonitor: { enabled: true },
      query: {
        enabled: true,
        replicas: 2,
        enableDnsDiscovery: true,
        serviceAccount: { create: true, name: `${THANOS_RELEASE}-query` },
        // Deprecated in 0.42 but still served, and the only file source that 0.42 watches (fsnotify),
        // so a new cluster appears without a restart. The move, when a pinned Thanos drops the
        // flag: --endpoint.sd-config-file with the same file (it polls, every
        // --endpoint.sd-config-reload-interval; set that to 1m), and the CronJob writing the
        // endpoint-config format ({"endpoints": [{"address": ...}]}) instead of file-SD.
        extraArgs: [`--store.sd-files=${SD_DIR}/${STORE_ENDPOINTS_KEY}`, "--store.sd-interval=5m"],
        extraVolumes: [{ name: "store-endpoints", configMap: { name: STORE_ENDPOINTS_CONFIGMAP } }],
        extraVolumeMounts: [{ name: "store-endpoints", mountPath: SD_DIR, readOnly: true }],
        resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "2Gi" } },
        podDisruptionBudget: pdb,
      },
      storeGateway: {
        enabled: true,
        replicas: 2,
        serviceAccount: sa("store-gateway", "read"),
        resources: { requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "4Gi" } },
        persistence: volume("20Gi"),
        podDisruptionBudget: pdb,
      },
      compact: {
        enabled: true, // a StatefulSet with exactly one replica: compaction must be a singleton
        serviceAccount: sa("compact", "write"),
        extraArgs: compactorRetentionArgs(props.retention),
        // Replicas (two Prometheus, two rulers) sample at different moments: the "penalty" function
        // merges such series correctly; the default one is for identical samples only, and a
        // compaction cannot be undone.
        deduplication: { enabled: true, func: "penalty" },
        resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "4Gi" } },
        persistence: volume("100Gi"),
      },
      rule: {
        enabled: true,
        replicas: 2,
        serviceAccount: sa("rule", "write"),
        alertmanagersConfig: {
          create: true,
          value: `alertmanagers:\n  - api_version: v2\n    scheme: http\n    static_configs:\n      - ${ALERTMANAGER_DISCOVERY(ns)}\n`,
        },
        rules: { create: true, value: props.rules },
        configReloader: { resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } } },
        resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
        persistence: volume("10Gi"),
        podDisruptionBudget: pdb,
      },
    };

    this.addon = new HelmAddon(this, "addon", {
      app: "thanos",
      version: props.version,
      namespace: ns,
      releaseName: THANOS_RELEASE,
      values,
      userValues: props.userValues,
      dependsOn: props.dependsOn,
      after: [...(props.after ?? []), this.endpoints],
    });
  }
}
