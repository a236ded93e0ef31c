import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { HelmAddon } from "../helm/addon";
import type { AppIngress, IngressGroup } from "../ingress/app-ingress";
import { type ClusterOidc, IrsaRole } from "../eks/irsa-role";
import { CLOUDWATCH_DATASOURCE, dashboards } from "./dashboards";


/**
 * The Kubernetes Secret with the admin's `user` and `password` (chart value admin.existingSecret),
 * written by the External Secrets Operator from the environment's `secrets.grafanaAdmin`. Grafana
 * reads it when its pod starts, and uses it only when it creates its database: a rotated password
 * reaches the Secret within the refresh interval, but not the admin account (README "Secrets").
 */
export const GRAFANA_ADMIN_SECRET = "grafana-admin";

/** The Role Grafana's dashboard sidecar runs with: ConfigMaps of its own namespace only. */
export const GRAFANA_SIDECAR_ROLE = "grafana-dashboards-reader";

export interface GrafanaProps {
  readonly version: string;
  readonly namespace: string;
  /** In-cluster URL of the central Thanos query (the only datasource). */
  readonly thanosQueryUrl: string;
  /** Names it answers on; the first is its root URL (the public name when it is public). */
  readonly hostnames: string[];
  readonly ingress: AppIngress;
  /** `public` only when the environment lists grafana in dns.publicApps. Default internal. */
  readonly group?: IngressGroup;
  readonly storageClass?: string;
  /** The CloudWatch datasource (RDS and quota dashboards) reads this region through an IRSA role. */
  readonly region: string;
  readonly oidc: ClusterOidc;
  /** IAM role name of Grafana's service account, e.g. `prod-cnc-grafana`. */
  readonly roleName: string;
  readonly userValues?: Record<string, unknown>;
  readonly dependsOn: HelmAddon[];
  readonly after?: ITerraformDependable[];
}

const DASHBOARD_LABEL = "grafana_dashboard";
const GRAFANA_SERVICE_ACCOUNT = "grafana";

/** Grafana over the central Thanos query, dashboards as code, admin from Secrets Manager (through the External Secrets Operator), behind the authenticated internal ingress. */
export class Grafana extends Construct {
  readonly addon: HelmAddon;

  constructor(scope: Construct, id: string, props: GrafanaProps) {
    super(scope, id);
    // Read-only CloudWatch access for the AWS dashboards (what Grafana's CloudWatch datasource
    // documents, plus Service Quotas for SERVICE_QUOTA() in metric math).
    const role = new IrsaRole(this, "role", {
      roleName: props.roleName,
      oidc: props.oidc,
      namespace: props.namespace,
      serviceAccount: GRAFANA_SERVICE_ACCOUNT,
      statements: [
        {
          Sid: "ReadMetrics",
          Effect: "Allow",
          Action: ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmsForMetric", "cloudwatch:DescribeAlarmHistory", "cloudwatch:GetInsightRuleReport"],
          Resource: "*",
        },
        { Sid: "ResourceNames", Effect: "Allow", Action: ["ec2:DescribeTags", "ec2:DescribeInstances", "ec2:DescribeRegions", "tag:GetResources"], Resource: "*" },
        { Sid: "Quotas", Effect: "Allow", Action: ["servicequotas:GetServiceQuota", "servicequotas:ListServiceQuotas"], Resource: "*" },
      ],
    });
    const configMaps = Object.entries(dashboards({ region: props.region })).map(
      ([name, json]) =>
        new ConfigMapV1(this, `dashboard-${name}`, {
          metadata: { name: `dashboard-${name}`, namespace: props.namespace, labels: { [DASHBOARD_LABEL]: "1" } },
          data: { [`${name}.json`]: JSON.stringify(json) },
          dependsOn: props.after,
        }),
    );
    // The chart's own Role (rbac.namespaced) always adds Secrets; this one lets the dashboard
    // sidecar read ConfigMaps of its namespace, and nothing else.
    const sidecarRole = new RoleV1(this, "sidecar-role", {
      metadata: { name: GRAFANA_SIDECAR_ROLE, namespace: props.namespace },
      rule: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "watch", "list"] }],
      dependsOn: props.after,
    });
    this.addon = new HelmAddon(this, "addon", {
      app: "grafana",
      version: props.version,
      namespace: props.namespace,
      values: {
        replicas: 1, // sqlite on a persistent volume: one writer
        serviceAccount: { create: true, name: GRAFANA_SERVICE_ACCOUNT, annotations: { "eks.amazonaws.com/role-arn": role.arn } },
        admin: { existingSecret: GRAFANA_ADMIN_SECRET, userKey: "user", passwordKey: "password" },
        datasources: {
          "datasources.yaml": {
            apiVersion: 1,
            datasources: [
              { name: "Thanos", uid: "thanos", type: "prometheus", access: "proxy", url: props.thanosQueryUrl, isDefault: true, jsonData: { prometheusType: "Thanos", timeInterval: "30s" } },
              // Credentials from the pod's IRSA token (the AWS SDK default chain), never keys.
              { name: "CloudWatch", uid: CLOUDWATCH_DATASOURCE.uid, type: "cloudwatch", access: "proxy", jsonData: { authType: "default", defaultRegion: props.region } },
            ],
          },
        },
        // The chart's default ClusterRole lets this internet-facing pod read every Secret of the
        // cluster: a Role in its own namespace, and dashboards from ConfigMaps only.
        rbac: { namespaced: true, useExistingRole: GRAFANA_SIDECAR_ROLE },
        sidecar: {
          resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "128Mi" } },
          dashboards: { enabled: true, label: DASHBOARD_LABEL, labelValue: "1", searchNamespace: [props.namespace], resource: "configmap" },
        },
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
      after: [...(props.after ?? []), sidecarRole, ...configMaps],
    });
  }
}
