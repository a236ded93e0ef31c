/**
 * The deploy-order check: each rule fires on a small synthesized-JSON fixture that breaks it, and
 * stays quiet on the same fixture mended; the shipped environments pass it.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CHART_CRD_GROUPS, HELM_CHARTS, type HelmApp } from "../../config/versions";
import { checkDeployOrder, type OrderFinding } from "../../scripts/verify/deploy-order";
import { synthShipped } from "../support/synth";

const exec = { api_version: "client.authentication.k8s.io/v1beta1", command: "aws", args: ["eks", "get-token", "--cluster-name", "c"] };
const goodProviders = {
  aws: [{ region: "us-east-1", default_tags: [{ tags: { Environment: "t", Stack: "s" } }] }],
  kubernetes: [{ host: "${data.aws_eks_cluster.c.endpoint}", exec: [exec] }],
  helm: [{ kubernetes: { host: "${data.aws_eks_cluster.c.endpoint}", exec } }],
};
const base = () => ({
  provider: structuredClone(goodProviders),
  data: { aws_eks_cluster: { c: { name: "t-cnc" } } },
  resource: {
    kubernetes_namespace_v1: { mon: { metadata: { name: "monitoring" } } },
    kubernetes_storage_class_v1: { gp3: { metadata: { name: "gp3" } } },
  } as Record<string, Record<string, any>>,
});
const run = (...stacks: { name: string; json: any }[]) => checkDeployOrder(stacks);
const rules = (f: OrderFinding[]) => f.map((x) => `${x.rule} ${x.address}`);

describe("the deploy-order check", () => {
  it("passes a stack that follows every rule", () => {
    const json = base();
    json.resource.helm_release = {
      kps: { chart: "kube-prometheus-stack", namespace: "monitoring", values: ["prometheus:\n  storageClassName: gp3\n"], depends_on: ["kubernetes_namespace_v1.mon", "kubernetes_storage_class_v1.gp3"] },
    };
    json.resource.kubernetes_config_map_v1 = { cm: { metadata: { name: "x", namespace: "monitoring" }, depends_on: ["kubernetes_namespace_v1.mon"] } };
    expect(run({ name: "t-post-install", json })).toEqual([]);
  });

  it("crd-same-stack: a custom resource planned next to the release that installs its CRD", () => {
    const json = base();
    json.resource.helm_release = { kps: { chart: "kube-prometheus-stack", namespace: "monitoring", values: [], depends_on: ["kubernetes_namespace_v1.mon"] } };
    json.resource.kubernetes_manifest = {
      sm: { manifest: { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "x", namespace: "monitoring" } }, depends_on: ["helm_release.kps", "kubernetes_namespace_v1.mon"] },
    };
    const found = run({ name: "t-post-install", json });
    expect(rules(found)).toEqual(["crd-same-stack kubernetes_manifest.sm"]);
    expect(found[0].message).toMatch(/helm_release\.kps installs in the same apply; kubernetes_manifest needs the CRD at plan time/);
  });

  it("crd-before-use: custom resources applied by Helm before the release that installs their CRDs", () => {
    const json = base();
    const objects = "manifests:\n- apiVersion: external-secrets.io/v1\n  kind: SecretStore\n  metadata:\n    name: aws-secrets-manager\n    namespace: monitoring\n";
    json.resource.helm_release = {
      eso: { chart: "external-secrets", namespace: "monitoring", values: [], depends_on: ["kubernetes_namespace_v1.mon"] },
      objects: { chart: "${path.module}/assets/manifests", namespace: "monitoring", values: [objects], depends_on: ["kubernetes_namespace_v1.mon"] },
    };
    const found = run({ name: "t-post-install", json });
    expect(rules(found)).toEqual(["crd-before-use helm_release.objects"]);
    expect(found[0].message).toMatch(/SecretStore aws-secrets-manager but does not wait for helm_release\.eso, which installs its CRD/);
    // Mended: waiting for the operator's release, directly or through another resource.
    json.resource.helm_release.objects.depends_on.push("helm_release.eso");
    expect(run({ name: "t-post-install", json })).toEqual([]);
  });

  it("provider-cluster: providers configured from a cluster the same stack creates", () => {
    const json: any = base();
    json.resource.aws_eks_cluster = { own: { name: "w" } };
    json.provider.kubernetes = [{ host: "${aws_eks_cluster.own.endpoint}", cluster_ca_certificate: "${base64decode(aws_eks_cluster.own.certificate_authority[0].data)}", exec: [exec] }];
    const found = run({ name: "t-workload-a", json });
    expect(rules(found)).toEqual(["provider-cluster provider.kubernetes"]);
    expect(found[0].message).toMatch(/aws_eks_cluster\.own, a cluster this same stack creates/);
  });

  it("static-token: a stored aws_eks_cluster_auth token, or no exec at all", () => {
    const json: any = base();
    json.provider.kubernetes = [{ host: "${data.aws_eks_cluster.c.endpoint}", token: "${data.aws_eks_cluster_auth.a.token}" }];
    json.provider.helm = [{ kubernetes: { host: "${data.aws_eks_cluster.c.endpoint}" } }];
    const found = run({ name: "t-post-install", json });
    expect(rules(found)).toEqual(["static-token provider.kubernetes", "static-token provider.helm"]);
    expect(found[0].message).toMatch(/15 minutes/);
  });

  it("namespace-order: an object that does not wait for its namespace, or whose namespace nobody creates", () => {
    const json = base();
    json.resource.kubernetes_pod_disruption_budget_v1 = { pdb: { metadata: { name: "p", namespace: "monitoring" } } };
    json.resource.kubernetes_role_v1 = { role: { metadata: { name: "r", namespace: "elsewhere" }, depends_on: ["kubernetes_namespace_v1.mon"] } };
    // Transitive waiting is enough: the binding waits for the role, which waits for the namespace.
    json.resource.kubernetes_secret_v1 = { s: { metadata: { name: "s", namespace: "monitoring" }, depends_on: ["kubernetes_config_map_v1.cm"] } };
    json.resource.kubernetes_config_map_v1 = { cm: { metadata: { name: "x", namespace: "monitoring" }, depends_on: ["kubernetes_namespace_v1.mon"] } };
    const found = run({ name: "t-post-install", json });
    expect(rules(found).sort()).toEqual(["namespace-order kubernetes_pod_disruption_budget_v1.pdb", "namespace-order kubernetes_role_v1.role"]);
    expect(found.find((f) => f.address.includes("role"))!.message).toMatch(/namespace "elsewhere", which nothing in this stack creates/);
  });

  it("storage-class: a volume asking for a class nobody creates, or not waiting for it", () => {
    const json = base();
    json.resource.helm_release = {
      grafana: { chart: "grafana", namespace: "monitoring", values: ["persistence:\n  storageClassName: gp3\n"], depends_on: ["kubernetes_namespace_v1.mon"] },
      thanos: { chart: "thanos", namespace: "monitoring", values: ["storeGateway:\n  persistence:\n    storageClass: fast-ssd\n"], depends_on: ["kubernetes_namespace_v1.mon"] },
    };
    const found = run({ name: "t-post-install", json });
    expect(rules(found).sort()).toEqual(["storage-class helm_release.grafana", "storage-class helm_release.thanos"]);
    expect(found.find((f) => f.address.includes("thanos"))!.message).toMatch(/"fast-ssd", which this stack does not create \(EKS ships only gp2\)/);
    expect(found.find((f) => f.address.includes("grafana"))!.message).toMatch(/does not wait for kubernetes_storage_class_v1\.gp3/);
  });

  it("ambiguous-lookup: a load-balancer lookup that two load balancers satisfy, or none", () => {
    const post: any = base();
    post.resource.kubernetes_ingress_v1 = {
      ing: { metadata: { name: "g", namespace: "monitoring", annotations: { "alb.ingress.kubernetes.io/group.name": "t-internal", "alb.ingress.kubernetes.io/tags": "Environment=t,IngressGroup=internal" } }, depends_on: ["kubernetes_namespace_v1.mon"] },
    };
    post.resource.kubernetes_service_v1 = {
      grpc: {
        metadata: { name: "grpc", namespace: "monitoring", annotations: { "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags": "Environment=t,App=thanos-grpc,IngressGroup=internal" } },
        spec: { type: "LoadBalancer" },
        depends_on: ["kubernetes_namespace_v1.mon"],
      },
    };
    const route53 = { provider: { aws: goodProviders.aws }, data: { aws_lb: { internal: { tags: { "elbv2.k8s.aws/cluster": "t-cnc", IngressGroup: "internal" } }, gone: { tags: { IngressGroup: "nowhere" } } } } };
    const found = run({ name: "t-post-install", json: post }, { name: "t-route53", json: route53 });
    expect(rules(found)).toEqual(["ambiguous-lookup data.aws_lb.internal", "ambiguous-lookup data.aws_lb.gone"]);
    expect(found[0].message).toMatch(/which 2 objects carry .*Service monitoring\/grpc.*ALB of ingress group t-internal/);
    expect(found[1].message).toMatch(/which nothing this environment makes carries/);
    // A lookup that also matches a Terraform-made load balancer is as ambiguous.
    const workload: any = { provider: { aws: goodProviders.aws }, resource: { aws_lb: { nlb: { tags: { IngressGroup: "internal", "elbv2.k8s.aws/cluster": "t-cnc" } } } } };
    const single = { provider: { aws: goodProviders.aws }, data: { aws_lb: { internal: { tags: { "elbv2.k8s.aws/cluster": "t-cnc", IngressGroup: "internal", Environment: "t" } } } } };
    const withTf = run({ name: "t-post-install", json: { ...post, resource: { ...post.resource, kubernetes_service_v1: {} } } }, { name: "t-route53", json: single }, { name: "t-workload-a", json: workload });
    expect(withTf.map((f) => f.message)).toEqual([expect.stringMatching(/aws_lb\.nlb \(Terraform, t-workload-a\)/)]);
  });

  it("cross-stack-reference: an expression naming what only another stack declares", () => {
    const cluster = { provider: { aws: goodProviders.aws }, resource: { aws_vpc: { net: { cidr_block: "10.0.0.0/16" } } } };
    const workload = {
      provider: { aws: goodProviders.aws },
      resource: { aws_vpc_peering_connection: { peer: { peer_vpc_id: "${aws_vpc.net.id}", vpc_id: "${aws_vpc.own.id}" } }, aws_vpc: { own: { cidr_block: "10.1.0.0/16" } } },
    };
    const found = run({ name: "t-cluster", json: cluster }, { name: "t-workload-a", json: workload });
    expect(rules(found)).toEqual(["cross-stack-reference aws_vpc_peering_connection.peer"]);
    expect(found[0].message).toMatch(/refers to aws_vpc\.net, which only t-cluster declares/);
    // Its own VPC of the same type is not a finding.
    expect(found[0].message).not.toMatch(/aws_vpc\.own/);
  });

  it("rds-minor-drift: a minor version pinned while AWS upgrades minors", () => {
    const json = { provider: { aws: goodProviders.aws }, resource: { aws_db_instance: { db: { engine_version: "17.5", auto_minor_version_upgrade: true }, ok: { engine_version: "17" }, pinned: { engine_version: "17.5", auto_minor_version_upgrade: false } } } };
    const found = run({ name: "t-cluster", json });
    expect(rules(found)).toEqual(["rds-minor-drift aws_db_instance.db"]);
    expect(found[0].message).toMatch(/give the major version only \("17"\)/);
  });

  it("finds nothing in the shipped environments", () => {
    for (const which of ["local", "prod", "staging"] as const) {
      const { json } = synthShipped(which);
      expect(checkDeployOrder(Object.entries(json).map(([name, j]) => ({ name, json: j })))).toEqual([]);
    }
  });
});

describe("the CRD table the check relies on", () => {
  it("lists for external-secrets, whose CRDs are generated at packaging, exactly the groups its controller's ClusterRole serves", () => {
    // The chart source holds no CRD files (config/versions.ts TEMPLATED_CRD_CHARTS); the groups
    // its controller is granted are the groups of the kinds it reconciles.
    const rbac = readFileSync(join(__dirname, "..", "..", "..", "shared", "charts", "external-secrets", HELM_CHARTS["external-secrets"].versions[0], "chart", "templates", "rbac.yaml"), "utf8");
    const groups = new Set([...rbac.matchAll(/^\s+- "([\w.-]*external-secrets\.io)"$/gm)].map((m) => m[1]));
    expect([...groups].sort()).toEqual([...(CHART_CRD_GROUPS["external-secrets"] ?? [])].sort());
  });

  it("lists exactly the API groups each pinned chart's crds/ define", () => {
    const charts = join(__dirname, "..", "..", "..", "shared", "charts");
    const crdDirs: Partial<Record<HelmApp, string>> = {
      "kube-prometheus-stack": "charts/crds/crds",
      "aws-load-balancer-controller": "crds",
      "mattermost-operator": "crds",
    };
    for (const [app, dir] of Object.entries(crdDirs) as [HelmApp, string][]) {
      const root = join(charts, app, HELM_CHARTS[app].versions[0], "chart", dir);
      const groups = new Set<string>();
      for (const f of readdirSync(root, { recursive: true }) as string[]) {
        if (!f.endsWith(".yaml")) continue;
        for (const m of readFileSync(join(root, f), "utf8").matchAll(/^  group: ([\w.-]+)$/gm)) groups.add(m[1]);
      }
      expect([...groups].sort()).toEqual([...(CHART_CRD_GROUPS[app] ?? [])].sort());
    }
  });
});
