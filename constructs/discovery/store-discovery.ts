import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { AssetType, Fn, TerraformAsset, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { MissingBundleError } from "../bundle";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../config/paths";
import { CRONJOB_NODE_IMAGE } from "../../config/versions";
import { ClusterOidc, IrsaRole } from "../eks/irsa-role";

/** Where the alerts webhook Secret is mounted (CKV_K8S_35: secrets as files). */
const HOOK_DIR = "/etc/store-discovery";
const HOOK_FILE = "alerts-hook";

export const STORE_DISCOVERY_BUNDLE = join(REPO_ROOT, "dist", "cronjobs", "store-discovery", "main.js.gz");
export const STORE_DISCOVERY_NAME = "thanos-store-discovery";

export interface StoreDiscoveryProps {
  readonly namespace: string;
  readonly environment: string;
  readonly region: string;
  readonly zoneId: string;
  readonly oidc: ClusterOidc;
  readonly rolePrefix: string;
  /** The Thanos query Deployment and its endpoint ConfigMap/key (what the query mounts). */
  readonly queryDeployment: string;
  readonly configMapName: string;
  readonly configMapKey: string;
  /** Kubernetes Secret (same namespace) and key holding the Mattermost webhook URL. */
  readonly webhookSecret: { name: string; key: string };
  /** Cron schedule; default every 5 minutes. */
  readonly schedule?: string;
  /** Rolling-restart the query after a change (it re-reads the file anyway). Default false. */
  readonly rotate?: boolean;
  readonly bundlePath?: string;
  readonly after?: ITerraformDependable[];
}

/**
 * The store-discovery CronJob: every few minutes it lists the private zone and rewrites the
 * Thanos query's endpoint file. It runs the esbuild bundle on a stock, pinned Node.js image
 * (the gzipped bundle travels in a ConfigMap: no image to build), one run at a time, non-root,
 * read-only root filesystem, with an IRSA role that may only list that one zone and a Role that
 * may only touch its ConfigMap (and the query Deployment when rotation is on).
 */
export class StoreDiscoveryCronJob extends Construct {
  readonly cronJob: CronJobV1;
  readonly role: IrsaRole;

  constructor(scope: Construct, id: string, props: StoreDiscoveryProps) {
    super(scope, id);
    const bundle = props.bundlePath ?? STORE_DISCOVERY_BUNDLE;
    if (!existsSync(bundle)) {
      throw new MissingBundleError("store-discovery CronJob", bundle);
    }
    const ns = props.namespace;
    this.role = new IrsaRole(this, "role", {
      roleName: `${props.rolePrefix}-store-discovery`,
      oidc: props.oidc,
      namespace: ns,
      serviceAccount: STORE_DISCOVERY_NAME,
      statements: [{ Sid: "ListTheZone", Effect: "Allow", Action: "route53:ListResourceRecordSets", Resource: `arn:aws:route53:::hostedzone/${props.zoneId}` }],
    });
    const sa = new ServiceAccountV1(this, "sa", {
      metadata: { name: STORE_DISCOVERY_NAME, namespace: ns, annotations: { "eks.amazonaws.com/role-arn": this.role.arn } },
      dependsOn: props.after,
    });
    const rules = [
      { apiGroups: [""], resources: ["configmaps"], resourceNames: [props.configMapName], verbs: ["get", "update"] },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
      ...(props.rotate ? [{ apiGroups: ["apps"], resources: ["deployments"], resourceNames: [props.queryDeployment], verbs: ["get", "update"] }] : []),
    ];
    const role = new RoleV1(this, "k8s-role", { metadata: { name: STORE_DISCOVERY_NAME, namespace: ns }, rule: rules, dependsOn: props.after });
    new RoleBindingV1(this, "k8s-binding", {
      metadata: { name: STORE_DISCOVERY_NAME, namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
      subject: [{ kind: "ServiceAccount", name: STORE_DISCOVERY_NAME, namespace: ns }],
    });

    const asset = new TerraformAsset(this, "bundle", { path: bundle, type: AssetType.FILE });
    const code = new ConfigMapV1(this, "code", {
      metadata: { name: `${STORE_DISCOVERY_NAME}-code`, namespace: ns, annotations: { "platform/bundle-sha256": asset.assetHash } },
      binaryData: { "main.js.gz": Fn.filebase64(asset.path) },
      dependsOn: props.after,
    });

    const env: Record<string, string> = {
      PRIVATE_HOSTED_ZONE_ID: props.zoneId,
      THANOS_NAMESPACE: ns,
      THANOS_DEPLOYMENT_NAME: props.queryDeployment,
      THANOS_CONFIGMAP_NAME: props.configMapName,
      THANOS_CONFIGMAP_KEY: props.configMapKey,
      ROTATE_QUERY_PODS: String(props.rotate ?? false),
      ENVIRONMENT_NAME: props.environment,
      AWS_REGION: props.region,
    };
    const unpackAndRun =
      "const fs=require('fs'),z=require('zlib');fs.writeFileSync('/work/main.js',z.gunzipSync(fs.readFileSync('/code/main.js.gz')));require('/work/main.js')";

    this.cronJob = new CronJobV1(this, "cronjob", {
      metadata: { name: STORE_DISCOVERY_NAME, namespace: ns, labels: { "app.kubernetes.io/name": STORE_DISCOVERY_NAME } },
      spec: {
        schedule: props.schedule ?? "*/5 * * * *",
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: 120,
        successfulJobsHistoryLimit: 2,
        failedJobsHistoryLimit: 5,
        jobTemplate: {
          metadata: {},
          spec: {
            backoffLimit: 0,
            activeDeadlineSeconds: 240,
            ttlSecondsAfterFinished: "86400",
            template: {
              metadata: { labels: { "app.kubernetes.io/name": STORE_DISCOVERY_NAME } },
              spec: {
                serviceAccountName: sa.metadata.name,
                restartPolicy: "Never",
                // fsGroup: the mounted webhook Secret's files belong to this group (mode 0440), so the job can read them.
                securityContext: { runAsNonRoot: true, runAsUser: "10001", runAsGroup: "10001", fsGroup: "10001", seccompProfile: { type: "RuntimeDefault" } },
                container: [
                  {
                    name: "store-discovery",
                    image: CRONJOB_NODE_IMAGE,
                    imagePullPolicy: "Always",
                    command: ["node", "-e", unpackAndRun],
                    // The webhook URL is a secret: read from a mounted file, never an environment variable.
                    env: [...Object.entries(env), ["MATTERMOST_ALERTS_HOOK_FILE", `${HOOK_DIR}/${HOOK_FILE}`]].map(([name, value]) => ({ name, value })),
                    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                    securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                    volumeMount: [
                      { name: "code", mountPath: "/code", readOnly: true },
                      { name: "work", mountPath: "/work" },
                      { name: "alerts-hook", mountPath: HOOK_DIR, readOnly: true },
                    ],
                  },
                ],
                volume: [
                  { name: "code", configMap: { name: code.metadata.name } },
                  { name: "work", emptyDir: { sizeLimit: "64Mi" } },
                  { name: "alerts-hook", secret: { secretName: props.webhookSecret.name, items: [{ key: props.webhookSecret.key, path: HOOK_FILE }], defaultMode: "0440" } },
                ],
              },
            },
          },
        },
      },
    });
  }
}
