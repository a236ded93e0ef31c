import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import type { ITerraformDependable } from "cdktf";
import { decryptSecretsStatement } from "../security/kms-key";
import { Construct } from "constructs";
import { IMAGES, imageRef } from "../../config/versions";
import { type ClusterOidc, IrsaRole } from "../eks/irsa-role";

/** The Kubernetes Secret key the Mattermost operator reads an external database's DSN from. */
export const DSN_KEY = "DB_CONNECTION_STRING";

export interface DatabaseSecretSyncProps {
  /** The installation's namespace; the Secret is made there. */
  readonly namespace: string;
  /** Name of the Kubernetes Secret the `Mattermost` resource names (`<installation>-database`). */
  readonly secretName: string;
  /** Secrets Manager secret holding the installation's own DSN (bootstrap creates it; an operator fills it). */
  readonly sourceSecretName: string;
  readonly region: string;
  readonly accountId: string;
  /** Alias of the environment's secrets key (config/names.ts secretsKeyAlias), which encrypts the source. */
  readonly secretsKeyAlias: string;
  readonly oidc: ClusterOidc;
  /** IAM role name (64 characters at most). */
  readonly roleName: string;
  /** Re-read schedule, so a changed DSN reaches the cluster without a deploy; default every 15 minutes. */
  readonly schedule?: string;
  /** The namespace (and anything else) to wait for. */
  readonly after: ITerraformDependable[];
}

/**
 * Copies an installation's DSN from Secrets Manager into the Kubernetes Secret the Mattermost
 * operator reads (its `database.external.secret` accepts nothing else), at run time, in the
 * cluster: the value never passes through Terraform, so it is in no state file. A Job does it once
 * (the installation waits for it) and a CronJob repeats it, so a changed DSN needs no deploy.
 *
 * It runs the pinned provisioner image (it ships the AWS CLI and kubectl) with an IRSA role that
 * may read that one secret and a Role that may write that one Kubernetes Secret; server-side apply
 * keeps the value out of a last-applied annotation. An empty or unreadable source fails the run
 * and leaves the existing Secret as it was.
 */
export class DatabaseSecretSync extends Construct {
  readonly job: JobV1;
  readonly cronJob: CronJobV1;

  constructor(scope: Construct, id: string, props: DatabaseSecretSyncProps) {
    super(scope, id);
    const name = "db-secret-sync";
    const role = new IrsaRole(this, "role", {
      roleName: props.roleName,
      oidc: props.oidc,
      namespace: props.namespace,
      serviceAccount: name,
      statements: [
        { Sid: "OwnDsn", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: `arn:aws:secretsmanager:${props.region}:${props.accountId}:secret:${props.sourceSecretName}-*` },
        decryptSecretsStatement({ region: props.region, accountId: props.accountId, keyAlias: props.secretsKeyAlias }),
      ],
    });
    const sa = new ServiceAccountV1(this, "sa", {
      metadata: { name, namespace: props.namespace, annotations: { "eks.amazonaws.com/role-arn": role.arn } },
      dependsOn: props.after,
    });
    const k8sRole = new RoleV1(this, "k8s-role", {
      metadata: { name, namespace: props.namespace },
      rule: [
        { apiGroups: [""], resources: ["secrets"], resourceNames: [props.secretName], verbs: ["get", "patch", "update"] },
        // Kubernetes cannot limit create (or a server-side apply that creates) by name.
        { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      ],
      dependsOn: props.after,
    });
    const binding = new RoleBindingV1(this, "binding", {
      metadata: { name, namespace: props.namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: k8sRole.metadata.name },
      subject: [{ kind: "ServiceAccount", name, namespace: props.namespace }],
      dependsOn: props.after,
    });
    const script = [
      'dsn=$(aws secretsmanager get-secret-value --secret-id "$SOURCE_SECRET" --query SecretString --output text)',
      '[ -n "$dsn" ] && [ "$dsn" != "None" ] || { echo "Secrets Manager secret $SOURCE_SECRET is empty: fill it with the installation DSN (aws secretsmanager put-secret-value); the Kubernetes Secret is left as it was." >&2; exit 1; }',
      'printf %s "$dsn" > /tmp/dsn',
      `kubectl create secret generic "$TARGET_SECRET" --from-file=${DSN_KEY}=/tmp/dsn --dry-run=client -o yaml | kubectl apply --server-side --field-manager=${name} --force-conflicts -f -`,
      "rm -f /tmp/dsn",
    ].join("\n");
    const podSpec = {
      serviceAccountName: sa.metadata.name,
      restartPolicy: "Never",
      securityContext: { runAsNonRoot: true, runAsUser: "10001", runAsGroup: "10001", seccompProfile: { type: "RuntimeDefault" } },
      container: [
        {
          name,
          image: imageRef(IMAGES.provisioner.repository, IMAGES.provisioner.tags[IMAGES.provisioner.tags.length - 1]),
          imagePullPolicy: "Always",
          command: ["/bin/sh", "-ec", script],
          env: [
            { name: "SOURCE_SECRET", value: props.sourceSecretName },
            { name: "TARGET_SECRET", value: props.secretName },
            { name: "AWS_REGION", value: props.region },
            { name: "HOME", value: "/tmp" },
          ],
          resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
          securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
          volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
        },
      ],
      volume: [{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } }],
    };
    const labels = { "app.kubernetes.io/name": name };
    this.job = new JobV1(this, "job", {
      metadata: { name: `${name}-initial`, namespace: props.namespace, labels },
      spec: { backoffLimit: 3, activeDeadlineSeconds: 300, template: { metadata: { labels }, spec: podSpec } },
      waitForCompletion: true,
      timeouts: { create: "6m", update: "6m" },
      dependsOn: [sa, binding],
    });
    this.cronJob = new CronJobV1(this, "cronjob", {
      metadata: { name, namespace: props.namespace, labels },
      spec: {
        schedule: props.schedule ?? "*/15 * * * *",
        concurrencyPolicy: "Forbid",
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 3,
        jobTemplate: { metadata: {}, spec: { backoffLimit: 1, activeDeadlineSeconds: 300, ttlSecondsAfterFinished: "86400", template: { metadata: { labels }, spec: podSpec } } },
      },
      dependsOn: [sa, binding],
    });
  }
}
