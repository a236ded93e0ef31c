/**
 * The deploy-order check (part of `make validate`, and so of `npm test`): reads the synthesized
 * stacks of one environment and finds what would fail on a first real plan or apply, or drift
 * after it. Each finding names the stack, the Terraform address and what to do.
 *
 * Rules (each has a failing fixture in test/verify/deploy-order.test.ts):
 *   crd-same-stack     a kubernetes_manifest of a group whose CRDs a Helm release of the same stack
 *                      installs (kubernetes_manifest needs the CRD at plan time)
 *   crd-before-use     a Helm release of custom resources (the in-repo manifests chart) that does not
 *                      (transitively) depend on the release of the same stack installing their CRDs
 *                      (Helm would find no such kind when both install at once)
 *   provider-cluster   a kubernetes/helm provider configured from an aws_eks_cluster the same stack
 *                      creates (unknown at first plan, broken on replacement)
 *   static-token       a kubernetes/helm provider with a stored token instead of exec auth
 *   namespace-order    a namespaced object that does not (transitively) depend on the namespace
 *                      its stack creates, or whose namespace nothing creates
 *   storage-class      a volume asking for a StorageClass that its stack neither creates nor waits for
 *   ambiguous-lookup   a data-source lookup by tags that more than one object of the environment
 *                      carries (Terraform-made or made by the load balancer controller), or none
 *   rds-minor-drift    an RDS engine version pinned to a minor while AWS upgrades minors itself
 *   cross-stack-reference  an expression naming a resource or data source that another stack
 *                      declares and this one does not: stacks find each other by name and tag, and
 *                      the app skips cdktf's cross-stack preparation (stacks/platform-stack.ts), so
 *                      such a reference would reach Terraform unresolved
 */
import { load } from "js-yaml";
import { CHART_CRD_GROUPS, HELM_CHARTS, type HelmApp } from "../../config/versions";
import { items, referencesIn, type TfJson } from "../lib/tf-json";

export interface OrderFinding {
  stack: string;
  address: string;
  rule: "crd-same-stack" | "crd-before-use" | "provider-cluster" | "static-token" | "namespace-order" | "storage-class" | "ambiguous-lookup" | "rds-minor-drift" | "cross-stack-reference";
  message: string;
}

export interface StackJson {
  name: string;
  json: TfJson;
}

/** Namespaces every cluster has. */
const BUILT_IN_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);
/** StorageClasses an EKS cluster has without anyone creating them. */
const BUILT_IN_STORAGE_CLASSES = new Set(["gp2"]);
const NAMESPACE_TYPES = new Set(["kubernetes_namespace", "kubernetes_namespace_v1"]);
const STORAGE_CLASS_TYPES = new Set(["kubernetes_storage_class", "kubernetes_storage_class_v1"]);
/** kubernetes_* types of cluster-scoped objects (no namespace to wait for). */
const CLUSTER_SCOPED = /^kubernetes_(namespace|cluster_role|cluster_role_binding|storage_class|priority_class|persistent_volume|validating_webhook_configuration|mutating_webhook_configuration|csi_driver|runtime_class|api_service|certificate_signing_request)(_v\d+(beta\d+)?)?$/;

const first = <T>(v: T | T[] | undefined): T | undefined => (Array.isArray(v) ? v[0] : v);

type Meta = { name?: string; namespace?: string; annotations?: Record<string, string> };
function metadataOf(type: string, body: any): Meta | undefined {
  if (type === "kubernetes_manifest") return body?.manifest?.metadata;
  return first(body?.metadata);
}

/** The API group of an apiVersion (`monitoring.coreos.com/v1` -> `monitoring.coreos.com`, `v1` -> ``). */
const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0] : "");

/** The pinned app a helm_release installs, from its chart name. */
function appOfChart(chart: string): HelmApp | undefined {
  return (Object.keys(HELM_CHARTS) as HelmApp[]).find((app) => HELM_CHARTS[app].chart === chart);
}

/** Parsed Helm values of a release (interpolations stay as strings). */
function helmValues(body: any): unknown[] {
  return (body?.values ?? []).map((text: string) => {
    try {
      return load(text);
    } catch {
      return undefined;
    }
  });
}

/** Every string value under a key named one of `keys`, anywhere in `tree`. */
function valuesUnder(tree: unknown, keys: Set<string>, out: string[] = []): string[] {
  if (Array.isArray(tree)) tree.forEach((t) => valuesUnder(t, keys, out));
  else if (tree && typeof tree === "object") {
    for (const [k, v] of Object.entries(tree)) {
      if (keys.has(k) && typeof v === "string" && v) out.push(v);
      else valuesUnder(v, keys, out);
    }
  }
  return out;
}

/** Every object (map) anywhere in `tree` that has `key`. */
function objectsWith(tree: unknown, key: string, out: Record<string, string>[] = []): Record<string, string>[] {
  if (Array.isArray(tree)) tree.forEach((t) => objectsWith(t, key, out));
  else if (tree && typeof tree === "object") {
    if (key in tree) out.push(tree as Record<string, string>);
    Object.values(tree).forEach((v) => objectsWith(v, key, out));
  }
  return out;
}

/** name -> address of the objects of `types` a stack creates (namespaces, storage classes). */
function createdByName(all: ReturnType<typeof items>, types: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [address, item] of all) {
    const name = item.kind === "resource" && types.has(item.type) ? metadataOf(item.type, item.body)?.name : undefined;
    if (name) out.set(name, address);
  }
  return out;
}

/** address -> everything it depends on, transitively (references and depends_on alike). */
function dependencyClosure(json: TfJson): (address: string) => Set<string> {
  const all = items(json);
  const known = new Set(all.keys());
  const direct = new Map<string, string[]>();
  for (const [address, item] of all) direct.set(address, referencesIn(item.body, known).filter((a) => a !== address));
  const memo = new Map<string, Set<string>>();
  const visit = (address: string): Set<string> => {
    const done = memo.get(address);
    if (done) return done;
    const out = new Set<string>();
    memo.set(address, out); // cycles end here
    for (const d of direct.get(address) ?? []) {
      out.add(d);
      for (const x of visit(d)) out.add(x);
    }
    return out;
  };
  return visit;
}

/** The provider's default tags in a stack (`provider.aws[0].default_tags[0].tags`). */
function defaultTags(json: TfJson): Record<string, string> {
  const aws = first((json.provider as any)?.aws) as any;
  return first(aws?.default_tags)?.tags ?? {};
}

const parseTagList = (text: string) =>
  Object.fromEntries(
    text
      .split(",")
      .map((kv) => kv.trim())
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );

const matches = (wanted: Record<string, string>, has: Record<string, string>) => Object.entries(wanted).every(([k, v]) => has[k] === v);

interface MadeLoadBalancer {
  stack: string;
  what: string;
  tags: Record<string, string>;
}

/** Load balancers the AWS Load Balancer Controller will make from a stack's Services and Ingresses. */
function controllerLoadBalancers(stack: StackJson): MadeLoadBalancer[] {
  const out: MadeLoadBalancer[] = [];
  const all = items(stack.json);
  const cluster = [...all.values()].find((i) => i.kind === "data" && i.type === "aws_eks_cluster")?.body as { name?: string } | undefined;
  const clusterTag: Record<string, string> = cluster?.name ? { "elbv2.k8s.aws/cluster": cluster.name } : {};
  const groups = new Map<string, Record<string, string>>();
  const fromIngressAnnotations = (annotations: Record<string, string>) => {
    const group = annotations["alb.ingress.kubernetes.io/group.name"];
    const tags = parseTagList(annotations["alb.ingress.kubernetes.io/tags"] ?? "");
    if (group) groups.set(group, { ...(groups.get(group) ?? {}), ...tags, ...clusterTag, "ingress.k8s.aws/stack": group });
  };
  for (const [address, item] of all) {
    if (item.kind !== "resource") continue;
    const body = item.body as any;
    if (/^kubernetes_service(_v1)?$/.test(item.type)) {
      const meta = metadataOf(item.type, body);
      const spec = first(body.spec) as any;
      if (spec?.type === "LoadBalancer") {
        const tags = parseTagList(meta?.annotations?.["service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"] ?? "");
        out.push({ stack: stack.name, what: `${address} (Service ${meta?.namespace}/${meta?.name})`, tags: { ...tags, ...clusterTag } });
      }
    }
    if (/^kubernetes_ingress(_v1)?$/.test(item.type)) fromIngressAnnotations(metadataOf(item.type, body)?.annotations ?? {});
    if (item.type === "helm_release") for (const v of helmValues(body)) objectsWith(v, "alb.ingress.kubernetes.io/group.name").forEach(fromIngressAnnotations);
  }
  for (const [group, tags] of groups) out.push({ stack: stack.name, what: `ALB of ingress group ${group}`, tags });
  return out;
}

/** Runs every rule over the stacks of one environment. */
export function checkDeployOrder(stacks: StackJson[]): OrderFinding[] {
  const findings: OrderFinding[] = [];
  const add = (stack: string, address: string, rule: OrderFinding["rule"], message: string) => findings.push({ stack, address, rule, message });

  // Objects other systems make, per AWS type, for the lookup rule.
  const terraformMade = new Map<string, MadeLoadBalancer[]>();
  const controllerMade: MadeLoadBalancer[] = [];
  for (const stack of stacks) {
    const defaults = defaultTags(stack.json);
    for (const [address, item] of items(stack.json)) {
      if (item.kind !== "resource" || !item.type.startsWith("aws_")) continue;
      const tags = { ...defaults, ...((item.body as any)?.tags ?? {}) };
      terraformMade.set(item.type, [...(terraformMade.get(item.type) ?? []), { stack: stack.name, what: address, tags }]);
    }
    controllerMade.push(...controllerLoadBalancers(stack));
  }

  for (const stack of stacks) {
    const { json, name } = stack;
    const all = items(json);
    const dependsOn = dependencyClosure(json);

    // --- providers
    for (const provider of ["kubernetes", "helm"]) {
      const configs = ((json.provider as any)?.[provider] ?? []) as unknown[];
      for (const config of Array.isArray(configs) ? configs : [configs]) {
        const text = JSON.stringify(config);
        const own = /(?<![\w.])aws_eks_cluster\.[A-Za-z0-9_-]+/.exec(text);
        if (own && all.has(own[0])) {
          add(name, `provider.${provider}`, "provider-cluster", `is configured from ${own[0]}, a cluster this same stack creates; the first plan has no host and a replacement breaks it. Move the Kubernetes objects to a later stack that finds the cluster by name.`);
        }
        const cfg = (provider === "helm" ? (config as any)?.kubernetes : config) as any;
        if (cfg?.token !== undefined || /aws_eks_cluster_auth/.test(text)) {
          add(name, `provider.${provider}`, "static-token", `authenticates with a stored token (aws_eks_cluster_auth lasts 15 minutes, less than a long apply); use exec with \`aws eks get-token\`.`);
        } else if (!first(cfg?.exec)) {
          add(name, `provider.${provider}`, "static-token", `has no exec credential plugin; use exec with \`aws eks get-token\` so tokens are renewed during the apply.`);
        }
      }
    }

    // --- custom resources next to their CRDs
    const crdGroupsHere = new Map<string, string>();
    for (const [address, item] of all) {
      if (item.type !== "helm_release" || item.kind !== "resource") continue;
      const app = appOfChart((item.body as any)?.chart ?? "");
      for (const g of (app && CHART_CRD_GROUPS[app]) || []) crdGroupsHere.set(g, address);
    }
    for (const [address, item] of all) {
      if (item.type !== "kubernetes_manifest") continue;
      const apiVersion = (item.body as any)?.manifest?.apiVersion ?? "";
      const installer = crdGroupsHere.get(groupOf(apiVersion));
      if (installer) {
        add(name, address, "crd-same-stack", `plans a ${apiVersion} object whose CRD ${installer} installs in the same apply; kubernetes_manifest needs the CRD at plan time. Apply it through a Helm release (constructs/helm/manifests-release.ts) that depends on ${installer}.`);
      }
    }

    // Custom resources applied by Helm (constructs/helm/manifests-release.ts) wait for their CRDs.
    for (const [address, item] of all) {
      if (item.type !== "helm_release" || item.kind !== "resource") continue;
      for (const values of helmValues(item.body)) {
        const manifests = (values as { manifests?: unknown })?.manifests;
        if (!Array.isArray(manifests)) continue;
        for (const m of manifests as { apiVersion?: string; kind?: string; metadata?: { name?: string } }[]) {
          const installer = crdGroupsHere.get(groupOf(String(m?.apiVersion ?? "")));
          if (installer && installer !== address && !dependsOn(address).has(installer)) {
            add(name, address, "crd-before-use", `applies ${m.apiVersion} ${m.kind} ${m.metadata?.name ?? ""} but does not wait for ${installer}, which installs its CRD: in one apply both install at once and Helm finds no such kind. Add ${installer} to its depends_on.`);
          }
        }
      }
    }

    // --- namespaces
    const namespaces = createdByName(all, NAMESPACE_TYPES);
    for (const [address, item] of all) {
      if (item.kind !== "resource") continue;
      let ns: string | undefined;
      if (item.type === "helm_release") {
        if ((item.body as any)?.create_namespace === true) continue;
        ns = (item.body as any)?.namespace ?? "default";
      } else if (item.type.startsWith("kubernetes_") && !CLUSTER_SCOPED.test(item.type)) {
        ns = metadataOf(item.type, item.body)?.namespace ?? "default";
      } else continue;
      if (!ns || BUILT_IN_NAMESPACES.has(ns) || ns.includes("${")) continue;
      const creator = namespaces.get(ns);
      if (!creator) add(name, address, "namespace-order", `is in namespace "${ns}", which nothing in this stack creates; create it with a kubernetes_namespace_v1 this object depends on.`);
      else if (!dependsOn(address).has(creator)) add(name, address, "namespace-order", `is in namespace "${ns}" but does not wait for ${creator}; add it to depends_on (a parallel apply creates the object first and fails).`);
    }

    // --- storage classes
    const classes = createdByName(all, STORAGE_CLASS_TYPES);
    for (const [address, item] of all) {
      if (item.kind !== "resource") continue;
      let asked: string[] = [];
      if (item.type === "helm_release") asked = helmValues(item.body).flatMap((v) => valuesUnder(v, new Set(["storageClass", "storageClassName"])));
      else if (item.type.startsWith("kubernetes_") && !STORAGE_CLASS_TYPES.has(item.type)) asked = valuesUnder(item.body, new Set(["storage_class_name", "storageClassName"]));
      for (const sc of new Set(asked)) {
        if (BUILT_IN_STORAGE_CLASSES.has(sc) || sc.includes("${")) continue;
        const creator = classes.get(sc);
        if (!creator) add(name, address, "storage-class", `asks for StorageClass "${sc}", which this stack does not create (EKS ships only gp2); its volumes would stay Pending. Create it (constructs/eks/storage-class.ts) and depend on it.`);
        else if (!dependsOn(address).has(creator)) add(name, address, "storage-class", `asks for StorageClass "${sc}" but does not wait for ${creator}; add it to depends_on.`);
      }
    }

    // --- lookups by tag
    for (const [address, item] of all) {
      if (item.kind !== "data") continue;
      const tags = (item.body as any)?.tags as Record<string, string> | undefined;
      if (!tags || typeof tags !== "object" || Object.keys(tags).length === 0) continue;
      // Only single-object lookups (plural data sources such as aws_subnets return lists by design).
      if (item.type !== "aws_lb" && !terraformMade.has(item.type)) continue;
      const byTerraform = (terraformMade.get(item.type) ?? []).filter((m) => matches(tags, m.tags));
      const byController = item.type === "aws_lb" ? controllerMade.filter((m) => matches(tags, m.tags)) : [];
      const all = [...byController, ...byTerraform];
      const what = (m: MadeLoadBalancer) => (byController.includes(m) ? m.what : `${m.what} (Terraform, ${m.stack})`);
      if (all.length > 1) {
        add(name, address, "ambiguous-lookup", `looks up ${item.type} by tags ${JSON.stringify(tags)}, which ${all.length} objects carry (${all.map(what).join("; ")}): "Search returned ${all.length} results" on every run. Give each object its own lookup tag (config/names.ts explains the scheme).`);
      } else if (byController.length === 0 && byTerraform.length === 0) {
        add(name, address, "ambiguous-lookup", `looks up ${item.type} by tags ${JSON.stringify(tags)}, which nothing this environment makes carries; the lookup would find nothing.`);
      }
    }

    // --- RDS versions
    for (const [address, item] of all) {
      if (item.kind !== "resource" || !["aws_db_instance", "aws_rds_cluster"].includes(item.type)) continue;
      const body = item.body as any;
      const version = String(body?.engine_version ?? "");
      if (/^\d+\.\d+/.test(version) && body?.auto_minor_version_upgrade !== false) {
        add(name, address, "rds-minor-drift", `pins engine_version ${version} while AWS applies minor upgrades (auto_minor_version_upgrade), so every plan after an upgrade wants a downgrade; give the major version only ("${version.split(".")[0]}").`);
      }
    }
  }
  // --- references across stacks
  const declared = new Map(stacks.map((s) => [s.name, new Set(items(s.json).keys())]));
  for (const stack of stacks) {
    const own = declared.get(stack.name)!;
    const elsewhere = new Map<string, string>();
    for (const other of stacks) {
      if (other.name === stack.name) continue;
      for (const address of declared.get(other.name)!) if (!own.has(address)) elsewhere.set(address, other.name);
    }
    for (const [address, item] of items(stack.json)) {
      for (const target of referencesIn(item.body, new Set(elsewhere.keys()))) {
        add(stack.name, address, "cross-stack-reference", `refers to ${target}, which only ${elsewhere.get(target)} declares; find it by name or tag with a data source instead (config/names.ts): stacks here never reference each other.`);
      }
    }
  }
  return findings;
}

/** One line per finding, for people. */
export function formatFindings(findings: OrderFinding[]): string {
  return findings.map((f) => `  - [${f.rule}] ${f.stack}: ${f.address} ${f.message}`).join("\n");
}
