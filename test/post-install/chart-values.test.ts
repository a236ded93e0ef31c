import { Testing } from "cdktf";
import { HelmAddon } from "../../constructs/helm/addon";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { CHARTS_DIR, chartValues, unknownPaths } from "../support/chart-values";
import { synthShipped } from "../support/synth";

/**
 * Keys that the pinned chart documents only in comments (its templates read them), each checked
 * by hand against the chart's template at that version.
 */
const DOCUMENTED_IN_COMMENTS: Record<string, string[]> = {
  // grafana 12.11.1: ingress.ingressClassName and persistence.storageClassName are commented in
  // values.yaml (L306, L494) and read by the templates; grafana.ini is free-form ini (any section, any key);
  // serviceAccount.annotations is commented (L44-L45, the IRSA example) and read by templates/serviceaccount.yaml L11.
  // rbac.useExistingRole is commented (L22) and read by templates/rolebinding.yaml L18-L19.
  grafana: ["ingress.ingressClassName", "persistence.storageClassName", "grafana.ini.", "serviceAccount.annotations", "rbac.useExistingRole"],
  // kube-prometheus-stack 88.5.3: ingress pathType is commented (L666, L757, L3948).
  // Its subcharts' values (kube-state-metrics 8.4.0, prometheus-node-exporter 4.56.1) are in their
  // own values.yaml, checked below against the sources in chart/charts/ (and by rendering).
  "kube-prometheus-stack": ["prometheus.ingress.pathType", "alertmanager.ingress.pathType", "kube-state-metrics.", "prometheus-node-exporter."],
  // metrics-server 3.13.1: resources.limits is commented (L177).
  "metrics-server": ["resources.limits"],
  // headlamp 0.45.0: the container securityContext keys below are commented in values.yaml
  // (L242-L257) and the template writes the whole map (templates/deployment.yaml L114-L116).
  headlamp: ["securityContext.allowPrivilegeEscalation", "securityContext.readOnlyRootFilesystem", "securityContext.capabilities", "securityContext.seccompProfile"],
  // mattermost-operator 1.0.5: templates/mattermost-operator/deployment.yaml reads top-level
  // podSecurityContext (L31) and securityContext (L50), which values.yaml does not list.
  "mattermost-operator": ["podSecurityContext", "securityContext"],
};
const allowed = (app: string, path: string) => (DOCUMENTED_IN_COMMENTS[app] ?? []).some((a) => (a.endsWith(".") ? path.startsWith(a) : path === a));

describe("every Helm value we set exists in the pinned chart's own values.yaml", () => {
  const stacks = synthShipped("prod").stacks;
  const addons = HelmAddon.registryOf(stacks.postInstall);

  it("covers every add-on of the post-install stack", () => {
    expect(addons.map((a) => a.app).sort()).toEqual(
      ["aws-load-balancer-controller", "external-secrets", "fluent-bit", "grafana", "headlamp", "kube-prometheus-stack", "metrics-server", "thanos"].sort(),
    );
  });

  it.each(["aws-load-balancer-controller", "fluent-bit", "grafana", "headlamp", "kube-prometheus-stack", "metrics-server", "thanos"])("%s", (app) => {
    const addon = addons.find((a) => a.app === app)!;
    const missing = unknownPaths(addon.values, chartValues(app, addon.version)).filter((p) => !allowed(app, p));
    expect(missing).toEqual([]);
  });

  it.each(["kube-prometheus-stack", "thanos", "aws-load-balancer-controller", "fluent-bit", "mattermost-operator"])("%s in the workload apps stack", (app) => {
    const addon = HelmAddon.registryOf(stacks.workloadApps[0]).find((a) => a.app === app)!;
    const missing = unknownPaths(addon.values, chartValues(app, addon.version)).filter((p) => !allowed(app, p));
    expect(missing).toEqual([]);
  });

  it("runs the Mattermost operator as its restricted namespace demands", () => {
    const op = HelmAddon.registryOf(stacks.workloadApps[0]).find((a) => a.app === "mattermost-operator")!;
    expect(op.values.podSecurityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(op.values.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
  });

  it("catches a value path the chart does not have", () => {
    expect(unknownPaths({ query: { replicaz: 2, extraArgs: [] } }, chartValues("thanos", "1.24.1"))).toEqual(["query.replicaz"]);
    expect(unknownPaths({ prometheus: { prometheusSpec: { externalLabels: { anything: "x" } } } }, chartValues("kube-prometheus-stack", "88.5.3"))).toEqual([]);
  });

  it("keeps Testing in use", () => expect(Testing).toBeDefined());
});

describe("values of kube-prometheus-stack's subcharts exist in the subchart's own values.yaml", () => {
  it.each(["kube-state-metrics", "prometheus-node-exporter"])("%s", (sub) => {
    const addon = HelmAddon.registryOf(synthShipped("prod").stacks.postInstall).find((a) => a.app === "kube-prometheus-stack")!;
    const subValues = load(readFileSync(join(CHARTS_DIR, "kube-prometheus-stack", addon.version, "chart", "charts", sub, "values.yaml"), "utf8"));
    expect(unknownPaths(addon.values[sub] as Record<string, unknown>, subValues)).toEqual([]);
  });
});
