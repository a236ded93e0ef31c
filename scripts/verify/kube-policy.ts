/**
 * Policy over Kubernetes objects (rendered releases and `kubernetes_*` resources), per cluster.
 * Each rule has a fixture it must fail in test/verify/kube-policy.test.ts.
 */
import { removedAt, nextMinor } from "./schema";
import type { KubeObject } from "./render";

export interface ObjectRef {
  stack: string;
  environment: string;
  minor: string;
  /** `release kps (helm_release.x)` or a Terraform address. */
  source: string;
  object: KubeObject;
  /** Namespace of objects that do not name one (a release's namespace). */
  namespace?: string;
}

export interface KubeFinding {
  rule: string;
  stack: string;
  source: string;
  object: string;
  message: string;
}

export const KUBE_RULES = [
  { id: "K8S_POD_SECURITY", title: "every pod meets the Pod Security level its namespace enforces" },
  { id: "K8S_STORAGE_CLASS", title: "every claimed storage class exists" },
  { id: "K8S_RWO_RECREATE", title: "a Deployment with a ReadWriteOnce volume rolls with Recreate" },
  { id: "K8S_REQUESTS", title: "no long-running pod is BestEffort: every container requests CPU and memory" },
  { id: "K8S_READINESS_GATE", title: "namespaces with ip-target Ingresses or TargetGroupBindings inject pod readiness gates" },
  { id: "K8S_SECRETS_CLUSTER_READ", title: "no ClusterRole bound to a workload reads Secrets in every namespace, except the controllers that must" },
  { id: "K8S_CLUSTER_ADMIN", title: "no ServiceAccount is bound to cluster-admin" },
  { id: "K8S_ALB_HEALTH_CHECK", title: "ALB health checks hit a path the backend answers 200 on" },
  { id: "K8S_OIDC_SECRET_READ", title: "the load balancer controller may read every OIDC secret an Ingress names" },
  { id: "K8S_REMOVED_API", title: "no object uses an API removed in the cluster's minor or the next one" },
] as const;

/**
 * Controllers that must read Secrets in every namespace (by app label or name of the ClusterRole):
 * the Prometheus operator (scrape and Alertmanager secrets of any namespace), kube-state-metrics
 * (Secret metadata metrics), cert-manager, and the Mattermost operator (each installation's
 * database and filestore Secrets live in that installation's own namespace), and the External
 * Secrets Operator (it writes the Secret of each ExternalSecret in that ExternalSecret's namespace;
 * what it may read from AWS is limited per namespace by each SecretStore's IRSA role) with its
 * cert-controller (external-secrets 2.9.0 gives it get/list/watch on every Secret to watch the
 * webhook's certificate Secret; the alternative, cert-manager, is not part of this platform).
 */
export const CLUSTER_SECRET_READERS = [
  "kube-prometheus-stack-operator", "kube-prometheus-stack-prometheus-operator", "prometheus-operator",
  "kube-state-metrics", "cert-manager", "mattermost-operator", "external-secrets", "external-secrets-cert-controller",
];
/**
 * Health checks whose answer no pod here shows (the backend proxies to a managed service), each
 * with the reason it answers 200.
 */
export const ALB_HEALTH_CHECKS_ATTESTED: { namespace: string; service: string; path: string; reason: string }[] = [
  {
    namespace: "logging",
    service: "opensearch-dashboards",
    path: "/_dashboards/api/status",
    reason: "the SigV4 proxy forwards to the OpenSearch domain, whose Dashboards status API answers 200 once it is green (constructs/logging/dashboards-proxy.ts)",
  },
];
/** Storage classes EKS makes itself. */
const BUILTIN_STORAGE_CLASSES = ["gp2"];
const LONG_RUNNING = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"]);
/** Custom resources whose operator makes long-running pods from `spec.resources` (and `spec.containers`). */
const OPERATED_PODS = new Set(["Prometheus", "Alertmanager", "ThanosRuler"]);
/** Paths the operator-made pods answer 200 on when ready. */
const OPERATED_READY_PATHS = ["/-/ready", "/-/healthy"];

const BASELINE_CAPS = new Set(["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]);
const RESTRICTED_VOLUMES = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]);

/** The C&C or workload cluster a stack deploys to (its Kubernetes phase and AWS phase share it). */
export function clusterOf(stack: string): string {
  return stack.replace(/-apps$/, "").replace(/-post-install$/, "-cluster");
}

const nsOf = (r: ObjectRef) => r.object.metadata?.namespace ?? r.namespace ?? "default";
const label = (o: KubeObject) => `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name}`;

/** The pod spec of a workload object, if it has one. */
export function podSpecOf(o: KubeObject): any | undefined {
  if (o.kind === "Pod") return o.spec;
  if (o.kind === "CronJob") return o.spec?.jobTemplate?.spec?.template?.spec;
  if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(o.kind)) return o.spec?.template?.spec;
  return undefined;
}
function podLabelsOf(o: KubeObject): Record<string, string> | undefined {
  if (o.kind === "Pod") return o.metadata?.labels;
  return o.spec?.template?.metadata?.labels;
}

/** What keeps a pod spec from the given Pod Security level (empty: it meets it). */
export function pssViolations(pod: any, level: string): string[] {
  if (!pod || (level !== "baseline" && level !== "restricted")) return [];
  const out: string[] = [];
  const all = [...(pod.initContainers ?? []), ...(pod.containers ?? []), ...(pod.ephemeralContainers ?? [])];
  for (const k of ["hostNetwork", "hostPID", "hostIPC"]) if (pod[k]) out.push(`${k} is true`);
  for (const v of pod.volumes ?? []) {
    if (v.hostPath) out.push(`volume ${v.name} is a hostPath`);
    else if (level === "restricted") {
      const type = Object.keys(v).find((k) => k !== "name");
      if (type && !RESTRICTED_VOLUMES.has(type)) out.push(`volume ${v.name} is of type ${type}`);
    }
  }
  const podSc = pod.securityContext ?? {};
  if (podSc.seccompProfile?.type === "Unconfined") out.push("the pod's seccomp profile is Unconfined");
  for (const c of all) {
    const sc = c.securityContext ?? {};
    if (sc.privileged) out.push(`container ${c.name} is privileged`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`container ${c.name} uses hostPort ${p.hostPort}`);
    for (const cap of sc.capabilities?.add ?? []) {
      if (level === "restricted" ? cap !== "NET_BIND_SERVICE" : !BASELINE_CAPS.has(cap)) out.push(`container ${c.name} adds capability ${cap}`);
    }
    if (sc.seccompProfile?.type === "Unconfined") out.push(`container ${c.name} has seccomp Unconfined`);
    if (level === "restricted") {
      if (sc.allowPrivilegeEscalation !== false) out.push(`container ${c.name} does not set allowPrivilegeEscalation: false`);
      if (!(sc.runAsNonRoot ?? podSc.runAsNonRoot)) out.push(`container ${c.name} does not run as non-root (runAsNonRoot)`);
      if ((sc.runAsUser ?? podSc.runAsUser) === 0) out.push(`container ${c.name} runs as user 0`);
      const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
      if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`container ${c.name} has no RuntimeDefault seccomp profile`);
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) out.push(`container ${c.name} does not drop ALL capabilities`);
    }
  }
  return out;
}

const hasRequests = (r: any) => r?.requests?.cpu !== undefined && r?.requests?.memory !== undefined;

function readsAllSecrets(rules: any[] | undefined): boolean {
  return (rules ?? []).some(
    (r) =>
      (r.apiGroups ?? []).some((g: string) => g === "" || g === "*") &&
      (r.resources ?? []).some((x: string) => x === "secrets" || x === "*") &&
      (r.verbs ?? []).some((v: string) => ["get", "list", "watch", "*"].includes(v)) &&
      !(r.resourceNames ?? []).length,
  );
}
function canGetSecret(rules: any[] | undefined, name: string): boolean {
  return (rules ?? []).some(
    (r) =>
      (r.apiGroups ?? []).some((g: string) => g === "" || g === "*") &&
      (r.resources ?? []).some((x: string) => x === "secrets" || x === "*") &&
      (r.verbs ?? []).some((v: string) => v === "get" || v === "*") &&
      (!(r.resourceNames ?? []).length || r.resourceNames.includes(name)),
  );
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || !Object.keys(selector).length || !labels) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Runs every rule over the objects (of any number of clusters); returns the findings. */
export function checkKubePolicy(refs: ObjectRef[]): KubeFinding[] {
  const findings: KubeFinding[] = [];
  const add = (rule: string, r: ObjectRef, message: string) => findings.push({ rule, stack: r.stack, source: r.source, object: label(r.object), message });
  const byCluster = new Map<string, ObjectRef[]>();
  for (const r of refs) {
    const k = `${r.environment}/${clusterOf(r.stack)}`;
    byCluster.set(k, [...(byCluster.get(k) ?? []), r]);
  }
  for (const objs of byCluster.values()) {
    const namespaces = new Map(objs.filter((r) => r.object.kind === "Namespace").map((r) => [r.object.metadata.name, r.object]));
    const storageClasses = new Set([...BUILTIN_STORAGE_CLASSES, ...objs.filter((r) => r.object.kind === "StorageClass").map((r) => r.object.metadata.name)]);
    const kindOf = (k: string) => objs.filter((r) => r.object.kind === k);

    for (const r of objs) {
      const o = r.object;
      const ns = nsOf(r);
      // Upgrade readiness
      for (const m of [r.minor, nextMinor(r.minor)]) {
        const removed = removedAt(o.apiVersion, o.kind, m);
        if (removed) {
          add("K8S_REMOVED_API", r, `${o.apiVersion} ${o.kind} is removed in Kubernetes ${removed}; the cluster runs ${r.minor}: move to the served version`);
          break;
        }
      }
      const pod = podSpecOf(o);
      // Pod Security
      if (pod) {
        const level = namespaces.get(ns)?.metadata?.labels?.["pod-security.kubernetes.io/enforce"] ?? "privileged";
        const v = pssViolations(pod, level);
        if (v.length) add("K8S_POD_SECURITY", r, `namespace ${ns} enforces Pod Security "${level}", but ${v.join("; ")}`);
      }
      // BestEffort
      if (pod && LONG_RUNNING.has(o.kind)) {
        // A LimitRange of the namespace with defaultRequest gives requests to containers without them.
        const defaults = kindOf("LimitRange")
          .filter((l) => nsOf(l) === ns)
          .flatMap((l) => l.object.spec?.limits ?? [])
          .find((l: any) => l.type === "Container" && hasRequests({ requests: l.defaultRequest }));
        for (const c of pod.containers ?? []) if (!hasRequests(c.resources) && !defaults) add("K8S_REQUESTS", r, `container ${c.name} has no CPU and memory requests (the pod would be BestEffort or Burstable without a floor)`);
      }
      if (OPERATED_PODS.has(o.kind)) {
        if (!hasRequests(o.spec?.resources)) add("K8S_REQUESTS", r, `spec.resources has no CPU and memory requests`);
        if (o.spec?.thanos && !hasRequests(o.spec.thanos.resources)) add("K8S_REQUESTS", r, `the Thanos sidecar (spec.thanos.resources) has no CPU and memory requests`);
        for (const c of o.spec?.containers ?? []) if (c.resources !== undefined && !hasRequests(c.resources)) add("K8S_REQUESTS", r, `container ${c.name} has no CPU and memory requests`);
      }
      // Storage
      const claims: string[] = [];
      if (o.kind === "PersistentVolumeClaim" && o.spec?.storageClassName) claims.push(o.spec.storageClassName);
      for (const t of o.spec?.volumeClaimTemplates ?? []) if (t.spec?.storageClassName) claims.push(t.spec.storageClassName);
      const crStorage = o.spec?.storage?.volumeClaimTemplate?.spec?.storageClassName;
      if (crStorage) claims.push(crStorage);
      for (const c of claims) if (!storageClasses.has(c)) add("K8S_STORAGE_CLASS", r, `claims storage class "${c}", which this cluster does not have (${[...storageClasses].join(", ")})`);
      if (o.kind === "Deployment" && (o.spec?.strategy?.type ?? "RollingUpdate") !== "Recreate") {
        const pvcs = (pod?.volumes ?? []).filter((v: any) => v.persistentVolumeClaim).map((v: any) => v.persistentVolumeClaim.claimName);
        for (const name of pvcs) {
          const pvc = kindOf("PersistentVolumeClaim").find((p) => p.object.metadata.name === name && nsOf(p) === ns);
          const modes: string[] = pvc?.object.spec?.accessModes ?? ["ReadWriteOnce"];
          if (modes.includes("ReadWriteOnce") || modes.includes("ReadWriteOncePod")) add("K8S_RWO_RECREATE", r, `mounts the ReadWriteOnce claim ${name} but rolls with ${o.spec?.strategy?.type ?? "RollingUpdate"}: the new pod cannot attach it while the old one runs; set strategy Recreate`);
        }
      }
      // Readiness gates
      const ipIngress = o.kind === "Ingress" && o.metadata?.annotations?.["alb.ingress.kubernetes.io/target-type"] === "ip";
      if (ipIngress || o.kind === "TargetGroupBinding") {
        if (namespaces.get(ns)?.metadata?.labels?.["elbv2.k8s.aws/pod-readiness-gate-inject"] !== "enabled") {
          add("K8S_READINESS_GATE", r, `namespace ${ns} lacks the label elbv2.k8s.aws/pod-readiness-gate-inject=enabled: a rollout can drain every registered target before the new pods are healthy`);
        }
      }
      // RBAC
      if (o.kind === "ClusterRoleBinding" || o.kind === "RoleBinding") {
        const sas = (o.subjects ?? []).filter((s: any) => s.kind === "ServiceAccount");
        if (sas.length && o.roleRef?.kind === "ClusterRole" && o.roleRef?.name === "cluster-admin") add("K8S_CLUSTER_ADMIN", r, `binds ServiceAccount(s) ${sas.map((s: any) => `${s.namespace ?? ns}/${s.name}`).join(", ")} to cluster-admin`);
        if (sas.length && o.kind === "ClusterRoleBinding" && o.roleRef?.kind === "ClusterRole") {
          const role = kindOf("ClusterRole").find((c) => c.object.metadata.name === o.roleRef.name)?.object;
          const apps = [role?.metadata?.labels?.["app.kubernetes.io/name"], role?.metadata?.labels?.app, role?.metadata?.name];
          if (role && readsAllSecrets(role.rules) && !apps.some((a) => CLUSTER_SECRET_READERS.includes(a ?? ""))) {
            add("K8S_SECRETS_CLUSTER_READ", r, `gives ${sas.map((s: any) => `${s.namespace}/${s.name}`).join(", ")} read access to Secrets in every namespace through ClusterRole ${role.metadata.name}; use a Role in the namespaces it needs`);
          }
        }
      }
      // ALB health checks and OIDC secrets
      const isAlb = o.kind === "Ingress" && (o.spec?.ingressClassName === "alb" || o.metadata?.annotations?.["kubernetes.io/ingress.class"] === "alb");
      if (isAlb) {
        const ann = o.metadata?.annotations ?? {};
        const codes = String(ann["alb.ingress.kubernetes.io/success-codes"] ?? "200");
        if (!codes.split(",").some((c) => c.trim() === "200" || /^2\d\d-\d+$/.test(c.trim()))) add("K8S_ALB_HEALTH_CHECK", r, `success-codes ${codes} does not accept 200`);
        const path = ann["alb.ingress.kubernetes.io/healthcheck-path"] ?? "/";
        const services = new Set<string>();
        for (const rule of o.spec?.rules ?? []) for (const p of rule.http?.paths ?? []) if (p.backend?.service?.name) services.add(p.backend.service.name);
        if (o.spec?.defaultBackend?.service?.name) services.add(o.spec.defaultBackend.service.name);
        for (const name of services) {
          const svc = kindOf("Service").find((s) => s.object.metadata.name === name && nsOf(s) === ns)?.object;
          const selector = svc?.spec?.selector;
          const workloads = objs.filter((w) => nsOf(w) === ns && (podSpecOf(w.object) || OPERATED_PODS.has(w.object.kind)));
          const paths = new Set<string>();
          let found = false;
          for (const w of workloads) {
            const wl = w.object;
            if (OPERATED_PODS.has(wl.kind)) {
              if (selector && Object.values(selector).some((v) => v === wl.metadata.name)) {
                found = true;
                OPERATED_READY_PATHS.forEach((p) => paths.add(wl.spec?.routePrefix && wl.spec.routePrefix !== "/" ? `${wl.spec.routePrefix}${p}` : p));
              }
              continue;
            }
            if (!selects(selector, podLabelsOf(wl))) continue;
            found = true;
            for (const c of podSpecOf(wl)?.containers ?? []) {
              for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
                if (probe?.httpGet?.path) paths.add(probe.httpGet.path);
                // An exec probe that requests the path itself (`wget http://127.0.0.1:8075/api/clusters?...`).
                const cmd = (probe?.exec?.command ?? []).join(" ");
                if (cmd.includes(`${path}?`) || cmd.includes(`${path}"`) || cmd.includes(`${path} `)) paths.add(path);
              }
            }
          }
          const attested = ALB_HEALTH_CHECKS_ATTESTED.find((a) => a.namespace === ns && a.service === name && a.path === path);
          if (attested) continue;
          if (!found) add("K8S_ALB_HEALTH_CHECK", r, `backend Service ${ns}/${name} selects no pod among the objects of this cluster, so the health check path ${path} cannot be proven`);
          else if (!paths.has(path)) add("K8S_ALB_HEALTH_CHECK", r, `health check path ${path} is not a path the pods of ${ns}/${name} answer when ready (their probes use ${[...paths].join(", ") || "no HTTP path"})`);
        }
        const oidc = ann["alb.ingress.kubernetes.io/auth-idp-oidc"];
        if (oidc) {
          let secret: string | undefined;
          try {
            secret = JSON.parse(oidc).secretName;
          } catch {
            add("K8S_OIDC_SECRET_READ", r, "auth-idp-oidc is not JSON");
          }
          if (secret && !controllerCanRead(objs, ns, secret)) add("K8S_OIDC_SECRET_READ", r, `the load balancer controller cannot get Secret ${ns}/${secret} (no Role or ClusterRole bound to its ServiceAccount grants it)`);
        }
      }
    }
  }
  return findings;
}

function controllerCanRead(objs: ObjectRef[], ns: string, secret: string): boolean {
  const isController = (s: any) => s.kind === "ServiceAccount" && s.name === "aws-load-balancer-controller";
  const roleRules = (kind: string, name: string, inNs?: string) =>
    objs.find((r) => r.object.kind === kind && r.object.metadata.name === name && (kind === "ClusterRole" || nsOf(r) === inNs))?.object.rules;
  return objs.some((r) => {
    const b = r.object;
    if (!(b.subjects ?? []).some(isController)) return false;
    if (b.kind === "ClusterRoleBinding") return canGetSecret(roleRules("ClusterRole", b.roleRef?.name), secret);
    if (b.kind === "RoleBinding" && nsOf(r) === ns) return canGetSecret(roleRules(b.roleRef?.kind, b.roleRef?.name, ns), secret);
    return false;
  });
}

export function formatKubeFindings(findings: KubeFinding[]): string[] {
  return findings.map((f) => `${f.rule} ${f.stack} ${f.source}: ${f.object}: ${f.message}`);
}
