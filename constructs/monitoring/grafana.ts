import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { HelmAddon } from "../helm/addon";
import type { AppIngress, IngressGroup } from "../ingress/app-ingress";
import { DASHBOARDS } from "./dashboards";

export interface GrafanaProps {
  readonly version: string;
  readonly namespace: string;
  /** In-cluster URL of the central Thanos query (the only datasource). */
  readonly thanosQueryUrl: string;
  /** Admin user and password, read from Secrets Manager at deploy time (never literals). */
  readonly adminUser: string;
  readonly adminPassword: string;
  /** Names it answers on; the first is its root URL (the public name when it is public). */
  readonly hostnames: string[];
  readonly ingress: AppIngress;
  /** `public` only when the environment lists grafana in dns.publicApps. Default internal. */
  readonly group?: IngressGroup;
  readonly storageClass?: string;
  readonly userValues?: Record<string, unknown>;
  readonly dependsOn: HelmAddon[];
  readonly after?: ITerraformDependable[];
}

const DASHBOARD_LABEL = "grafana_dashboard";

/** Grafana over the central Thanos query, dashboards as code, admin from Secrets Manager, behind the authenticated internal ingress. */
export class Grafana extends Construct {
  readonly addon: HelmAddon;

  constructor(scope: Construct, id: string, props: GrafanaProps) {
    super(scope, id);
    const admin = new SecretV1(this, "admin", {
      metadata: { name: "grafana-admin", namespace: props.namespace },
      data: { user: props.adminUser, password: props.adminPassword },
      dependsOn: props.after,
    });
    const dashboards = Object.entries(DASHBOARDS).map(
      ([name, json]) =>
        new ConfigMapV1(this, `dashboard-${name}`, {
          metadata: { name: `dashboard-${name}`, namespace: props.namespace, labels: { [DASHBOARD_LABEL]: "1" } },
          data: { [`${name}.json`]: JSON.stringify(json) },
          dependsOn: props.after,
        }),
    );
    this.addon = new HelmAddon(this, "addon", {
      app: "grafana",
      version: props.version,
      namespace: props.namespace,
      values: {
        replicas: 1, // sqlite on a persistent volume: one writer
        admin: { existingSecret: "grafana-admin", userKey: "user", passwordKey: "password" },
        datasources: {
          "datasources.yaml": {
            apiVersion: 1,
            datasources: [{ name: "Thanos", uid: "thanos", type: "prometheus", access: "proxy", url: props.thanosQueryUrl, isDefault: true, jsonData: { prometheusType: "Thanos", timeInterval: "30s" } }],
          },
        },
        sidecar: { dashboards: { enabled: true, label: DASHBOARD_LABEL, labelValue: "1", searchNamespace: [props.namespace] } },
        persistence: { enabled: true, storageClassName: props.storageClass ?? "gp3", size: "10Gi" },
        resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
        "grafana.ini": {
          server: { root_url: `https://${props.hostnames[0]}` },
          "auth.anonymous": { enabled: false },
          users: { allow_sign_up: false },
        },
        ingress: props.ingress.helmValues(props.hostnames, "grafana", props.group ?? "internal", { "alb.ingress.kubernetes.io/healthcheck-path": "/api/health" }),
        // One ReadWriteOnce volume: a rolling update would wait forever for the old pod's volume.
        deploymentStrategy: { type: "Recreate" },
      },
      userValues: props.userValues,
      dependsOn: props.dependsOn,
      after: [...(props.after ?? []), admin, ...dashboards],
    });
  }
}
