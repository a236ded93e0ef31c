import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import type { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { type ClusterOidc, IrsaRole, type PolicyStatement } from "../eks/irsa-role";
import { HelmAddon } from "../helm/addon";
import { type KubernetesObject, ManifestsRelease } from "../helm/manifests-release";
import { decryptSecretsStatement } from "../security/kms-key";

/** Release name, and so the chart's fullname: the controller's ServiceAccount is `external-secrets`. */
export const ESO_RELEASE = "external-secrets";
export const ESO_SERVICE_ACCOUNT = "external-secrets";
/** The SecretStore of every consuming namespace, and the ServiceAccount whose IRSA role it reads with. */
export const SECRET_STORE = "aws-secrets-manager";
export const SECRETS_READER_SERVICE_ACCOUNT = "external-secrets-reader";
/** ESO's API (external-secrets.io/v1: SecretStore, ExternalSecret). */
export const ESO_API_VERSION = "external-secrets.io/v1";

export interface ExternalSecretsOperatorProps {
  /** Pinned chart version (config/versions.ts HELM_CHARTS["external-secrets"]). */
  readonly version: string;
  /** Its own namespace (Pod Security restricted), created by the caller. */
  readonly namespace: string;
  readonly userValues?: Record<string, unknown>;
  /** The namespace (and whatever else must exist first). */
  readonly after?: ITerraformDependable[];
}

/**
 * The External Secrets Operator (chart external-secrets): the controller, its validating webhook
 * and the cert-controller that issues and rotates the webhook's certificate, in their own
 * namespace. Secure defaults:
 *
 * - CRDs are the chart's templates (`installCRDs`), so every chart upgrade upgrades them before
 *   the controller, and each carries helm.sh/resource-policy: keep: uninstalling the release
 *   never deletes a CRD and with it every ExternalSecret (config/versions.ts TEMPLATED_CRD_CHARTS).
 * - Only namespaced SecretStores and ExternalSecrets are reconciled: no ClusterSecretStore (one
 *   store readable from every namespace), no ClusterExternalSecret, no PushSecret (writing to
 *   Secrets Manager).
 * - The controller may not mint tokens for any ServiceAccount (`rbac.serviceAccountTokenCreate`
 *   off): each consuming namespace grants it `create` on `serviceaccounts/token` of its one
 *   reader ServiceAccount only (NamespaceSecrets).
 * - Every container has requests (and a memory limit); the chart's security contexts are
 *   restricted-compatible (non-root user 1000, no privilege escalation, all capabilities
 *   dropped, read-only root, RuntimeDefault seccomp).
 *
 * The controller's ClusterRole writes Secrets in every namespace: that is what it is for (the
 * policy step lists it among the controllers that must, scripts/verify/kube-policy.ts).
 */
export class ExternalSecretsOperator extends Construct {
  readonly addon: HelmAddon;
  readonly namespace: string;
  /** The controller's ServiceAccount (what each namespace lets mint its reader's token). */
  readonly serviceAccount: { namespace: string; name: string };

  constructor(scope: Construct, id: string, props: ExternalSecretsOperatorProps) {
    super(scope, id);
    this.namespace = props.namespace;
    this.serviceAccount = { namespace: props.namespace, name: ESO_SERVICE_ACCOUNT };
    const resources = (cpu: string, memory: string, limit: string) => ({ requests: { cpu, memory }, limits: { memory: limit } });
    this.addon = new HelmAddon(this, "addon", {
      app: "external-secrets",
      version: props.version,
      namespace: props.namespace,
      releaseName: ESO_RELEASE,
      values: {
        installCRDs: true,
        crds: { annotations: { "helm.sh/resource-policy": "keep" } },
        processClusterStore: false,
        processClusterExternalSecret: false,
        processClusterPushSecret: false,
        processPushSecret: false,
        serviceAccount: { name: ESO_SERVICE_ACCOUNT },
        rbac: { serviceAccountTokenCreate: false },
        resources: resources("20m", "64Mi", "256Mi"),
        // The controller's metrics (externalsecret_status_condition, sync errors) for Prometheus:
        // a Service here, the ServiceMonitor after the Prometheus operator (serviceMonitor()).
        metrics: { service: { enabled: true } },
        // The API server calls the webhook at the pod's port: the node security group admits the
        // control plane on 443 and 10250 only (constructs/eks/cluster.ts), so it stays on 10250.
        webhook: { port: 10250, resources: resources("10m", "32Mi", "128Mi") },
        certController: { resources: resources("10m", "64Mi", "256Mi") },
      },
      userValues: props.userValues,
      after: props.after,
    });
  }

  /**
   * The ServiceMonitor of the controller's metrics Service, applied through Helm once the
   * Prometheus operator's release (`after`) has installed its CRD: the operator itself is
   * installed before the Prometheus operator, whose Alertmanager reads the Secrets it writes.
   */
  serviceMonitor(after: ITerraformDependable[]): Release {
    return new ManifestsRelease(this, "service-monitor", {
      releaseName: "external-secrets-monitoring",
      namespace: this.namespace,
      manifests: [
        {
          apiVersion: "monitoring.coreos.com/v1",
          kind: "ServiceMonitor",
          metadata: { name: ESO_RELEASE, namespace: this.namespace },
          spec: {
            selector: { matchLabels: { "app.kubernetes.io/name": ESO_RELEASE, "app.kubernetes.io/instance": ESO_RELEASE } },
            endpoints: [{ port: "metrics", interval: "60s" }],
          },
        },
      ],
      dependsOn: [this.addon.release, ...after],
    }).release;
  }
}

/** Where one key of a Kubernetes Secret comes from: a Secrets Manager secret's whole string, or one property of its JSON. */
export interface RemoteValue {
  /** Secrets Manager name (not ARN). */
  readonly secretName: string;
  /** A top-level key of the secret's JSON; omitted: the whole secret string. */
  readonly property?: string;
}

/** One Kubernetes Secret the operator keeps equal to Secrets Manager values. */
export interface SyncedSecret {
  /** Name of the Kubernetes Secret (and of its ExternalSecret). */
  readonly name: string;
  /** Key of the Secret -> its source. */
  readonly data: Record<string, RemoteValue>;
}

export interface NamespaceSecretsProps {
  readonly operator: ExternalSecretsOperator;
  readonly namespace: string;
  /** IAM role name of the namespace's reader, e.g. `prod-cnc-secrets-monitoring` (64 characters at most). */
  readonly roleName: string;
  readonly oidc: ClusterOidc;
  readonly region: string;
  readonly accountId: string;
  /** Alias of the environment's secrets key (config/names.ts secretsKeyAlias). */
  readonly secretsKeyAlias: string;
  /** How often each ExternalSecret reads its source again ("1h"). */
  readonly refreshInterval: string;
  readonly secrets: SyncedSecret[];
  /** The namespace (and whatever else must exist first). */
  readonly after?: ITerraformDependable[];
}

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * The IAM resource of one secret by name. Secrets Manager appends `-` and six random characters
 * to the name; `-??????` matches exactly those (AWS's recommendation), where `-*` would also match
 * every secret whose name merely starts with `<name>-` (`prod/cnc/oidc-client-old`).
 */
export const secretArnPattern = (region: string, accountId: string, name: string) => `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-??????`;

/**
 * Kubernetes Secrets of one namespace, kept equal to their Secrets Manager values by the operator,
 * so no secret value passes through Terraform (plan, state or the plan runner):
 *
 * - an IRSA role that may read exactly the named secrets (GetSecretValue on
 *   `secret:<name>-??????`) and decrypt them with the environment's secrets key through Secrets
 *   Manager only, trusted by this namespace's reader ServiceAccount alone;
 * - that ServiceAccount (no pod mounts it), and a Role that lets the operator's controller
 *   request a token for it, and for nothing else in the namespace;
 * - a SecretStore (provider aws, SecretsManager, auth jwt with that ServiceAccount) and one
 *   ExternalSecret per Kubernetes Secret (refreshInterval from the environment), applied as a
 *   Helm release of the in-repo manifests chart after the operator's release, which installs
 *   their CRDs (constructs/helm/manifests-release.ts).
 */
export class NamespaceSecrets extends Construct {
  readonly role: IrsaRole;
  /** What consumers wait for: the release that applies the SecretStore and ExternalSecrets. */
  readonly release: Release;
  /** The Secrets Manager names this namespace reads, sorted. */
  readonly secretNames: string[];
  readonly manifests: KubernetesObject[];

  constructor(scope: Construct, id: string, props: NamespaceSecretsProps) {
    super(scope, id);
    const ns = props.namespace;
    if (!K8S_NAME.test(ns)) throw new Error(`NamespaceSecrets: namespace "${ns}" is not a Kubernetes name`);
    if (props.secrets.length === 0) throw new Error(`NamespaceSecrets ${ns}: no secrets to sync; leave the namespace out instead`);
    const seen = new Set<string>();
    for (const s of props.secrets) {
      if (!K8S_NAME.test(s.name) || s.name.length > 253) throw new Error(`NamespaceSecrets ${ns}: "${s.name}" is not a Kubernetes Secret name`);
      if (seen.has(s.name)) throw new Error(`NamespaceSecrets ${ns}: Secret "${s.name}" is declared twice`);
      seen.add(s.name);
      if (Object.keys(s.data).length === 0) throw new Error(`NamespaceSecrets ${ns}: Secret "${s.name}" has no keys`);
      for (const [key, from] of Object.entries(s.data)) {
        if (!SECRET_KEY.test(key)) throw new Error(`NamespaceSecrets ${ns}: "${key}" of Secret "${s.name}" is not a valid Secret key`);
        if (!from.secretName || from.secretName.includes("*") || from.secretName.startsWith("arn:")) {
          throw new Error(`NamespaceSecrets ${ns}: ${s.name}.${key} must name one Secrets Manager secret by name (no ARN, no wildcard), got "${from.secretName}"`);
        }
      }
    }
    this.secretNames = [...new Set(props.secrets.flatMap((s) => Object.values(s.data).map((d) => d.secretName)))].sort();

    const statements: PolicyStatement[] = [
      {
        Sid: "ReadNamedSecrets",
        Effect: "Allow",
        Action: "secretsmanager:GetSecretValue",
        Resource: this.secretNames.map((n) => secretArnPattern(props.region, props.accountId, n)),
      },
      decryptSecretsStatement({ region: props.region, accountId: props.accountId, keyAlias: props.secretsKeyAlias }),
    ];
    this.role = new IrsaRole(this, "role", {
      roleName: props.roleName,
      oidc: props.oidc,
      namespace: ns,
      serviceAccount: SECRETS_READER_SERVICE_ACCOUNT,
      statements,
    });
    const reader = new ServiceAccountV1(this, "reader", {
      metadata: { name: SECRETS_READER_SERVICE_ACCOUNT, namespace: ns, annotations: { "eks.amazonaws.com/role-arn": this.role.arn } },
      // The operator requests its tokens through the TokenRequest API; no pod runs as it.
      automountServiceAccountToken: false,
      dependsOn: props.after,
    });
    const tokenRole = new RoleV1(this, "token-role", {
      metadata: { name: "external-secrets-token", namespace: ns },
      rule: [{ apiGroups: [""], resources: ["serviceaccounts/token"], resourceNames: [SECRETS_READER_SERVICE_ACCOUNT], verbs: ["create"] }],
      dependsOn: props.after,
    });
    const tokenBinding = new RoleBindingV1(this, "token-binding", {
      metadata: { name: "external-secrets-token", namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: tokenRole.metadata.name },
      subject: [{ kind: "ServiceAccount", name: props.operator.serviceAccount.name, namespace: props.operator.serviceAccount.namespace }],
      dependsOn: props.after,
    });

    this.manifests = [
      {
        apiVersion: ESO_API_VERSION,
        kind: "SecretStore",
        metadata: { name: SECRET_STORE, namespace: ns },
        spec: {
          provider: {
            aws: {
              service: "SecretsManager",
              region: props.region,
              auth: { jwt: { serviceAccountRef: { name: SECRETS_READER_SERVICE_ACCOUNT } } },
            },
          },
        },
      },
      ...props.secrets.map(
        (s): KubernetesObject => ({
          apiVersion: ESO_API_VERSION,
          kind: "ExternalSecret",
          metadata: { name: s.name, namespace: ns },
          spec: {
            refreshInterval: props.refreshInterval,
            secretStoreRef: { kind: "SecretStore", name: SECRET_STORE },
            // The operator owns the Secret (deleted with the ExternalSecret); a secret deleted in
            // Secrets Manager leaves the last value in place.
            target: { name: s.name, creationPolicy: "Owner", deletionPolicy: "Retain" },
            data: Object.entries(s.data).map(([secretKey, from]) => ({
              secretKey,
              remoteRef: { key: from.secretName, ...(from.property ? { property: from.property } : {}) },
            })),
          },
        }),
      ),
    ];
    this.release = new ManifestsRelease(this, "objects", {
      releaseName: "external-secrets-objects",
      namespace: ns,
      manifests: this.manifests,
      // The operator's release installs the CRDs and the webhook that validates these objects.
      dependsOn: [props.operator.addon.release, reader, tokenBinding, this.role.role, ...(props.after ?? [])],
    }).release;
  }
}
