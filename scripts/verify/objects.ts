/**
 * The Kubernetes objects a stack's `kubernetes_*` resources make, in the API's own shape, so that
 * the schema and policy checks read them like rendered objects. The hashicorp/kubernetes provider
 * writes fields in snake_case, blocks as lists (`container`, `rule`), numbers as strings; the
 * conversion is guided by the API models: `container` becomes `containers`, a one-element block
 * an object, `"1"` a number where the API wants one. A field the API does not have is kept (and
 * then reported by the schema check). `kubernetes_manifest` objects are taken as written.
 */
import { builtinModel, model, type Model } from "./schema";
import { withPlaceholders, type KubeObject, type KubeStack } from "./render";

/** Provider resource type -> the object it makes. */
export const TERRAFORM_KINDS: Record<string, { apiVersion: string; kind: string }> = {
  kubernetes_namespace_v1: { apiVersion: "v1", kind: "Namespace" },
  kubernetes_config_map_v1: { apiVersion: "v1", kind: "ConfigMap" },
  kubernetes_secret_v1: { apiVersion: "v1", kind: "Secret" },
  kubernetes_service_account_v1: { apiVersion: "v1", kind: "ServiceAccount" },
  kubernetes_service_v1: { apiVersion: "v1", kind: "Service" },
  kubernetes_persistent_volume_claim_v1: { apiVersion: "v1", kind: "PersistentVolumeClaim" },
  kubernetes_limit_range_v1: { apiVersion: "v1", kind: "LimitRange" },
  kubernetes_resource_quota_v1: { apiVersion: "v1", kind: "ResourceQuota" },
  kubernetes_pod_v1: { apiVersion: "v1", kind: "Pod" },
  kubernetes_deployment_v1: { apiVersion: "apps/v1", kind: "Deployment" },
  kubernetes_daemon_set_v1: { apiVersion: "apps/v1", kind: "DaemonSet" },
  kubernetes_daemonset: { apiVersion: "apps/v1", kind: "DaemonSet" },
  kubernetes_stateful_set_v1: { apiVersion: "apps/v1", kind: "StatefulSet" },
  kubernetes_cron_job_v1: { apiVersion: "batch/v1", kind: "CronJob" },
  kubernetes_job_v1: { apiVersion: "batch/v1", kind: "Job" },
  kubernetes_ingress_v1: { apiVersion: "networking.k8s.io/v1", kind: "Ingress" },
  kubernetes_ingress_class_v1: { apiVersion: "networking.k8s.io/v1", kind: "IngressClass" },
  kubernetes_network_policy_v1: { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" },
  kubernetes_pod_disruption_budget_v1: { apiVersion: "policy/v1", kind: "PodDisruptionBudget" },
  kubernetes_role_v1: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role" },
  kubernetes_role_binding_v1: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding" },
  kubernetes_cluster_role_v1: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole" },
  kubernetes_cluster_role_binding_v1: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding" },
  kubernetes_storage_class_v1: { apiVersion: "storage.k8s.io/v1", kind: "StorageClass" },
  kubernetes_horizontal_pod_autoscaler_v2: { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler" },
  kubernetes_priority_class_v1: { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass" },
};

/** Terraform meta-arguments and provider-only settings: not part of the object. */
const PROVIDER_ONLY = new Set([
  "//", "depends_on", "lifecycle", "provider", "count", "for_each", "timeouts", "connection", "provisioner",
  "wait_for_rollout", "wait_for_load_balancer", "wait_for_default_service_account", "wait_for_completion", "wait_for_service_account_token",
]);
/** Provider field names that differ from the API's beyond snake_case and plurals. */
const RENAMES: Record<string, string> = { storageProvisioner: "provisioner" };

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function fieldFor(m: Model, key: string): string {
  const c = RENAMES[camel(key)] ?? camel(key);
  for (const cand of [c, `${c}s`, c.replace(/y$/, "ies"), `${c}es`]) if (m.has(cand)) return cand;
  return c;
}

function convert(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return value;
  const arr = type.match(/^Array<(.+)>$/);
  if (arr) return (Array.isArray(value) ? value : [value]).map((v) => convert(v, arr[1]));
  if (Array.isArray(value) && value.length === 1 && !type.startsWith("{")) value = value[0];
  if (type === "number" && typeof value === "string") {
    const n = Number(value.includes("${") ? "1" : value);
    return Number.isNaN(n) ? value : n;
  }
  if (type === "boolean" && (value === "true" || value === "false")) return value === "true";
  if (type === "IntOrString" && typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  const map = type.match(/^\{ \[key: string\]: (.+); \}$/);
  if (map && value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v, map[1])]));
  const m = model(type);
  if (m && value && typeof value === "object" && !Array.isArray(value)) return convertModel(value as Record<string, unknown>, m);
  return value;
}

function convertModel(body: Record<string, unknown>, m: Model): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (PROVIDER_ONLY.has(k)) continue;
    const f = fieldFor(m, k);
    const field = m.get(f);
    out[f] = field ? convert(v, field.type) : v;
  }
  return out;
}

/**
 * Resolves `${kubernetes_x.y.metadata[0].name}` (and `.namespace`) to the value written in the
 * same stack, so that bindings, Ingress backends and service accounts name the real objects.
 */
export function resolveNames(text: string, json: KubeStack["json"]): string {
  return text.replace(/\$\{(kubernetes_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\.metadata\[0\]\.(name|namespace)\}/g, (whole, type: string, name: string, attr: string) => {
    const meta = json.resource?.[type]?.[name]?.metadata;
    const value = Array.isArray(meta) ? meta[0]?.[attr] : meta?.[attr];
    return typeof value === "string" && !value.includes("${") ? value : whole;
  });
}

export interface TerraformObject {
  /** `kubernetes_deployment_v1.autoscaler_deployment_ABC` */
  address: string;
  object: KubeObject;
}

/** The objects of a stack's `kubernetes_*` resources and `kubernetes_manifest`s. */
export function terraformObjects(stack: Pick<KubeStack, "json">): TerraformObject[] {
  const out: TerraformObject[] = [];
  for (const [type, byName] of Object.entries(stack.json.resource ?? {})) {
    for (const [name, body] of Object.entries(byName)) {
      const address = `${type}.${name}`;
      if (type === "kubernetes_manifest") {
        out.push({ address, object: JSON.parse(withPlaceholders(JSON.stringify(body.manifest))) as KubeObject });
        continue;
      }
      const k = TERRAFORM_KINDS[type];
      if (!k) continue;
      const m = model(builtinModel(k.apiVersion, k.kind)!)!;
      const converted = convertModel(JSON.parse(withPlaceholders(resolveNames(JSON.stringify(body), stack.json))) as Record<string, unknown>, m);
      out.push({ address, object: { apiVersion: k.apiVersion, kind: k.kind, ...converted } as KubeObject });
    }
  }
  return out;
}
