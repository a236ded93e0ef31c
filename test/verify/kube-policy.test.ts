/**
 * The Kubernetes policy rules (scripts/verify/kube-policy.ts): each rule reports its failing
 * fixture, and passes the same fixture once fixed.
 */
import { KUBE_RULES, checkKubePolicy, type ObjectRef } from "../../scripts/verify/kube-policy";
import type { KubeObject } from "../../scripts/verify/render";

const ref = (object: Partial<KubeObject> & { kind: string }, stack = "t-workload-a-apps", minor = "1.33"): ObjectRef => ({
  stack,
  environment: "t",
  minor,
  source: "fixture",
  object: { apiVersion: "v1", metadata: { name: "x" }, ...object } as KubeObject,
});
const ns = (name: string, labels: Record<string, string> = {}) => ref({ kind: "Namespace", metadata: { name, labels } });
const restrictedContainer = (over: Record<string, unknown> = {}) => ({
  name: "app",
  image: "app:1",
  resources: { requests: { cpu: "10m", memory: "16Mi" } },
  securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" }, capabilities: { drop: ["ALL"] } },
  readinessProbe: { httpGet: { path: "/ready", port: 8080 } },
  ...over,
});
const deployment = (container = restrictedContainer(), pod: Record<string, unknown> = {}, spec: Record<string, unknown> = {}, name = "app") =>
  ref({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: "apps" }, spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [container], ...pod } }, ...spec } });
const ingress = (annotations: Record<string, string>, service = "app") =>
  ref({
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: "web", namespace: "apps", annotations },
    spec: { ingressClassName: "alb", rules: [{ http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: service, port: { number: 80 } } } }] } }] },
  });
const service = ref({ kind: "Service", metadata: { name: "app", namespace: "apps" }, spec: { selector: { app: "app" }, ports: [{ port: 80 }] } });
const lbcReader = [
  ref({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "oidc", namespace: "apps" }, rules: [{ apiGroups: [""], resources: ["secrets"], resourceNames: ["oidc"], verbs: ["get"] }] }),
  ref({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "oidc", namespace: "apps" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "oidc" },
    subjects: [{ kind: "ServiceAccount", name: "aws-load-balancer-controller", namespace: "kube-system" }],
  }),
];
const appsNs = ns("apps", { "pod-security.kubernetes.io/enforce": "restricted", "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled" });
const clusterRole = (name: string, rules: unknown[], labels: Record<string, string> = {}) => ref({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name, labels }, rules });
const clusterBinding = (role: string, sa = "app") =>
  ref({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: `${role}-binding` },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
    subjects: [{ kind: "ServiceAccount", name: sa, namespace: "apps" }],
  });

/** Per rule: [failing fixture, the same fixed]. */
const CASES: Record<string, [ObjectRef[], ObjectRef[]]> = {
  K8S_POD_SECURITY: [
    [appsNs, deployment(restrictedContainer({ securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" }, capabilities: { drop: ["ALL"] } } }))],
    [appsNs, deployment()],
  ],
  K8S_STORAGE_CLASS: [
    [ref({ kind: "PersistentVolumeClaim", metadata: { name: "data", namespace: "apps" }, spec: { storageClassName: "fast", accessModes: ["ReadWriteMany"] } })],
    [ref({ apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name: "fast" } }), ref({ kind: "PersistentVolumeClaim", metadata: { name: "data", namespace: "apps" }, spec: { storageClassName: "fast" } })],
  ],
  K8S_RWO_RECREATE: [
    [deployment(restrictedContainer(), { volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }] })],
    [deployment(restrictedContainer(), { volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }] }, { strategy: { type: "Recreate" } })],
  ],
  K8S_REQUESTS: [
    [deployment(restrictedContainer({ resources: { limits: { memory: "64Mi" } } }))],
    [deployment()],
  ],
  K8S_READINESS_GATE: [
    [ns("apps"), ref({ apiVersion: "elbv2.k8s.aws/v1beta1", kind: "TargetGroupBinding", metadata: { name: "tgb", namespace: "apps" }, spec: {} })],
    [appsNs, ref({ apiVersion: "elbv2.k8s.aws/v1beta1", kind: "TargetGroupBinding", metadata: { name: "tgb", namespace: "apps" }, spec: {} })],
  ],
  K8S_SECRETS_CLUSTER_READ: [
    [clusterRole("sidecar", [{ apiGroups: [""], resources: ["configmaps", "secrets"], verbs: ["get", "watch", "list"] }], { "app.kubernetes.io/name": "grafana" }), clusterBinding("sidecar")],
    [clusterRole("ksm", [{ apiGroups: [""], resources: ["secrets"], verbs: ["list", "watch"] }], { "app.kubernetes.io/name": "kube-state-metrics" }), clusterBinding("ksm")],
  ],
  K8S_CLUSTER_ADMIN: [[clusterBinding("cluster-admin")], [clusterBinding("view")]],
  K8S_ALB_HEALTH_CHECK: [
    [appsNs, service, deployment(), ingress({ "alb.ingress.kubernetes.io/healthcheck-path": "/healthz" })],
    [appsNs, service, deployment(), ingress({ "alb.ingress.kubernetes.io/healthcheck-path": "/ready" })],
  ],
  K8S_OIDC_SECRET_READ: [
    [appsNs, service, deployment(), ingress({ "alb.ingress.kubernetes.io/healthcheck-path": "/ready", "alb.ingress.kubernetes.io/auth-idp-oidc": JSON.stringify({ secretName: "other" }) })],
    [appsNs, service, deployment(), ...lbcReader, ingress({ "alb.ingress.kubernetes.io/healthcheck-path": "/ready", "alb.ingress.kubernetes.io/auth-idp-oidc": JSON.stringify({ secretName: "oidc" }) })],
  ],
  K8S_REMOVED_API: [
    [ref({ apiVersion: "flowcontrol.apiserver.k8s.io/v1beta3", kind: "FlowSchema" }, "t-workload-a-apps", "1.31")],
    [ref({ apiVersion: "flowcontrol.apiserver.k8s.io/v1", kind: "FlowSchema" }, "t-workload-a-apps", "1.31")],
  ],
};

describe("Kubernetes policy rules", () => {
  it("has a failing fixture for every rule", () => {
    expect(Object.keys(CASES).sort()).toEqual(KUBE_RULES.map((r) => r.id).sort());
  });

  it.each(Object.entries(CASES))("%s reports its failing fixture and passes it fixed", (rule, [bad, good]) => {
    const found = checkKubePolicy(bad);
    expect(found.map((f) => f.rule)).toContain(rule);
    expect(found.every((f) => f.stack && f.source && f.object && f.message)).toBe(true);
    expect(checkKubePolicy(good).filter((f) => f.rule === rule)).toEqual([]);
  });

  it("Pod Security: a baseline namespace refuses host access, a privileged one allows it", () => {
    const host = deployment(restrictedContainer(), { hostNetwork: true, volumes: [{ name: "h", hostPath: { path: "/var/log" } }] });
    expect(checkKubePolicy([ns("apps", { "pod-security.kubernetes.io/enforce": "baseline" }), host]).map((f) => f.rule)).toContain("K8S_POD_SECURITY");
    expect(checkKubePolicy([ns("apps", { "pod-security.kubernetes.io/enforce": "privileged" }), host]).filter((f) => f.rule === "K8S_POD_SECURITY")).toEqual([]);
  });

  it("upgrade readiness looks one minor ahead", () => {
    const v1beta3 = ref({ apiVersion: "flowcontrol.apiserver.k8s.io/v1beta3", kind: "FlowSchema" }, "t-workload-a-apps", "1.30");
    expect(checkKubePolicy([v1beta3])).toEqual([]);
    expect(checkKubePolicy([{ ...v1beta3, minor: "1.31" }]).map((f) => f.rule)).toEqual(["K8S_REMOVED_API"]);
  });

  it("a namespace LimitRange with default requests keeps a chart container without requests from BestEffort", () => {
    const bare = deployment(restrictedContainer({ resources: undefined }));
    expect(checkKubePolicy([bare]).map((f) => f.rule)).toContain("K8S_REQUESTS");
    const limits = ref({ kind: "LimitRange", metadata: { name: "defaults", namespace: "apps" }, spec: { limits: [{ type: "Container", defaultRequest: { cpu: "10m", memory: "32Mi" } }] } });
    expect(checkKubePolicy([bare, limits]).filter((f) => f.rule === "K8S_REQUESTS")).toEqual([]);
  });
});
