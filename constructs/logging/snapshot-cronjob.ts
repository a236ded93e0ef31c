import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { AssetType, Fn, TerraformAsset, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../config/paths";
import { CRONJOB_NODE_IMAGE } from "../../config/versions";
import { MissingBundleError } from "../bundle";
import { ClusterOidc, IrsaRole } from "../eks/irsa-role";

export const OPENSEARCH_SNAPSHOTS_BUNDLE = join(REPO_ROOT, "dist", "cronjobs", "opensearch-snapshots", "main.js.gz");
export const OPENSEARCH_SNAPSHOTS_NAME = "opensearch-snapshots";
/** Name of the manual snapshot repository inside the domain (AWS keeps its automated ones in `cs-automated*`). */
export const SNAPSHOT_REPOSITORY = "log-snapshots";
/** IAM role name of the snapshot CronJob (the log domain maps it to `manage_snapshots`). */
export const snapshotJobRoleName = (rolePrefix: string) => `${rolePrefix}-opensearch-snapshots`;
/**
 * The Kubernetes Secret (in the CronJob's namespace) holding the alerts webhook URL. The caller
 * has the External Secrets Operator write it from Secrets Manager (stacks/post-install-stack.ts
 * syncedSecrets), so the URL never passes through Terraform.
 */
export const SNAPSHOT_ALERTS_HOOK_SECRET = { name: `${OPENSEARCH_SNAPSHOTS_NAME}-alerts-hook`, key: "url" } as const;

/** Where the alerts webhook Secret is mounted (CKV_K8S_35: secrets as files). */
const HOOK_DIR = "/etc/opensearch-snapshots";
const HOOK_FILE = "alerts-hook";

export interface OpenSearchSnapshotCronJobProps {
  readonly namespace: string;
  readonly environment: string;
  readonly region: string;
  readonly accountId: string;
  readonly oidc: ClusterOidc;
  readonly rolePrefix: string;
  /** The log domain: its name scopes the role's HTTP permissions, its endpoint (host, no scheme) is what the job calls. */
  readonly domainName: string;
  readonly opensearchHost: string;
  /** The manual snapshot repository: its name in OpenSearch, its bucket, and the role OpenSearch assumes (passed at registration). */
  readonly repository: string;
  readonly bucketName: string;
  readonly serviceRoleArn: string;
  /** Days the job keeps its own snapshots. */
  readonly retentionDays: number;
  /** Five-field cron schedule (UTC); default daily at 02:30. */
  readonly schedule?: string;
  /** Index patterns the snapshots hold; default the fluent-bit indices. */
  readonly indices?: string;
  /**
   * The Secret of this namespace (and its key) holding the Mattermost incoming webhook URL for
   * failures, mounted as a file; written by the External Secrets Operator, not by this construct.
   * Default SNAPSHOT_ALERTS_HOOK_SECRET.
   */
  readonly webhookSecret?: { name: string; key: string };
  /** How long one run waits for its snapshot to finish (seconds); the Job's deadline is this plus a margin. Default 2700. */
  readonly waitSeconds?: number;
  readonly bundlePath?: string;
  /** The namespace and the release that applies the webhook's ExternalSecret. */
  readonly after?: ITerraformDependable[];
}

/**
 * The OpenSearch snapshot CronJob: once a day it makes sure the manual snapshot repository is
 * registered as declared, takes a snapshot named by the date, waits for it, and deletes its own
 * snapshots older than the retention (cronjobs/opensearch-snapshots). Like store discovery, it
 * runs the esbuild bundle on the pinned stock Node.js image (the gzipped bundle travels in a
 * ConfigMap), one run at a time, restricted Pod Security, with an IRSA role that may call only
 * the domain's `_snapshot` API and pass only the snapshot service role. It never calls the
 * Kubernetes API, so no service-account token is mounted.
 */
export class OpenSearchSnapshotCronJob extends Construct {
  readonly cronJob: CronJobV1;
  readonly role: IrsaRole;

  constructor(scope: Construct, id: string, props: OpenSearchSnapshotCronJobProps) {
    super(scope, id);
    const bundle = props.bundlePath ?? OPENSEARCH_SNAPSHOTS_BUNDLE;
    if (!existsSync(bundle)) {
      throw new MissingBundleError("opensearch-snapshots CronJob", bundle);
    }
    if (!(props.retentionDays >= 1)) throw new Error(`OpenSearchSnapshotCronJob: retentionDays must be at least 1, got ${props.retentionDays}`);
    const waitSeconds = props.waitSeconds ?? 2700;
    const ns = props.namespace;
    const domainArn = `arn:aws:es:${props.region}:${props.accountId}:domain/${props.domainName}`;
    this.role = new IrsaRole(this, "role", {
      roleName: snapshotJobRoleName(props.rolePrefix),
      oidc: props.oidc,
      namespace: ns,
      serviceAccount: OPENSEARCH_SNAPSHOTS_NAME,
      statements: [
        {
          Sid: "SnapshotApi",
          Effect: "Allow",
          Action: ["es:ESHttpGet", "es:ESHttpPut", "es:ESHttpPost", "es:ESHttpDelete"],
          Resource: [`${domainArn}/_snapshot`, `${domainArn}/_snapshot/*`],
        },
        {
          Sid: "PassTheSnapshotRole",
          Effect: "Allow",
          Action: "iam:PassRole",
          Resource: props.serviceRoleArn,
          Condition: { StringEquals: { "iam:PassedToService": "es.amazonaws.com" } },
        },
      ],
    });
    const sa = new ServiceAccountV1(this, "sa", {
      metadata: { name: OPENSEARCH_SNAPSHOTS_NAME, namespace: ns, annotations: { "eks.amazonaws.com/role-arn": this.role.arn } },
      automountServiceAccountToken: false,
      dependsOn: props.after,
    });
    const hook = props.webhookSecret ?? SNAPSHOT_ALERTS_HOOK_SECRET;

    const asset = new TerraformAsset(this, "bundle", { path: bundle, type: AssetType.FILE });
    const code = new ConfigMapV1(this, "code", {
      metadata: { name: `${OPENSEARCH_SNAPSHOTS_NAME}-code`, namespace: ns, annotations: { "platform/bundle-sha256": asset.assetHash } },
      binaryData: { "main.js.gz": Fn.filebase64(asset.path) },
      dependsOn: props.after,
    });

    const env: Record<string, string> = {
      OPENSEARCH_ENDPOINT: `https://${props.opensearchHost}`,
      AWS_REGION: props.region,
      SNAPSHOT_REPOSITORY: props.repository,
      SNAPSHOT_BUCKET: props.bucketName,
      SNAPSHOT_ROLE_ARN: props.serviceRoleArn,
      SNAPSHOT_RETENTION_DAYS: String(props.retentionDays),
      SNAPSHOT_INDICES: props.indices ?? "logs-*",
      SNAPSHOT_WAIT_SECONDS: String(waitSeconds),
      ENVIRONMENT_NAME: props.environment,
      MATTERMOST_ALERTS_HOOK_FILE: `${HOOK_DIR}/${HOOK_FILE}`,
    };
    const unpackAndRun =
      "const fs=require('fs'),z=require('zlib');fs.writeFileSync('/work/main.js',z.gunzipSync(fs.readFileSync('/code/main.js.gz')));require('/work/main.js')";
    const labels = { "app.kubernetes.io/name": OPENSEARCH_SNAPSHOTS_NAME };

    this.cronJob = new CronJobV1(this, "cronjob", {
      metadata: { name: OPENSEARCH_SNAPSHOTS_NAME, namespace: ns, labels },
      spec: {
        schedule: props.schedule ?? "30 2 * * *",
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: 3600,
        successfulJobsHistoryLimit: 2,
        failedJobsHistoryLimit: 5,
        jobTemplate: {
          metadata: {},
          spec: {
            // A failed run alerts; retrying at once would mostly hit the same cause (and the next day's run comes anyway).
            backoffLimit: 0,
            activeDeadlineSeconds: waitSeconds + 900,
            ttlSecondsAfterFinished: "172800",
            template: {
              metadata: { labels },
              spec: {
                serviceAccountName: sa.metadata.name,
                // IRSA's web-identity token is projected by EKS's pod identity webhook; no Kubernetes API token is needed.
                automountServiceAccountToken: false,
                restartPolicy: "Never",
                // fsGroup: the mounted webhook Secret's files belong to this group (mode 0440), so the job can read them.
                securityContext: { runAsNonRoot: true, runAsUser: "10001", runAsGroup: "10001", fsGroup: "10001", seccompProfile: { type: "RuntimeDefault" } },
                container: [
                  {
                    name: OPENSEARCH_SNAPSHOTS_NAME,
                    image: CRONJOB_NODE_IMAGE,
                    imagePullPolicy: "Always",
                    command: ["node", "-e", unpackAndRun],
                    // The webhook URL is a secret: read from a mounted file, never an environment variable.
                    env: Object.entries(env).map(([name, value]) => ({ name, value })),
                    resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "250m", memory: "192Mi" } },
                    securityContext: {
                      runAsNonRoot: true,
                      readOnlyRootFilesystem: true,
                      allowPrivilegeEscalation: false,
                      privileged: false,
                      capabilities: { drop: ["ALL"] },
                      seccompProfile: { type: "RuntimeDefault" },
                    },
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
                  { name: "alerts-hook", secret: { secretName: hook.name, items: [{ key: hook.key, path: HOOK_FILE }], defaultMode: "0440" } },
                ],
              },
            },
          },
        },
      },
    });
  }
}
