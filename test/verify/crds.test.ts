/**
 * CRD upgrades: Helm installs a chart's crds/ once and never upgrades them. For every chart that
 * ships CRDs, they are applied before the chart from the same pinned source, on install and on
 * every bump, and nothing deletes one.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { CHART_CRD_GROUPS, HELM_CHARTS, TEMPLATED_CRD_CHARTS, VENDORED_CRD_CHARTS } from "../../config/versions";
import { CRD_CHARTS_DIR } from "../../constructs/helm/addon";
import { pinnedChartDir } from "../../scripts/verify/charts";
import { crdFilesOf } from "../../scripts/vendor-crds";
import { renderStacks } from "../../scripts/verify/render";
import { kubeStacks } from "../../scripts/verify/kubernetes";
import { environment, resourcesOf, synthShipped } from "../support/synth";

jest.setTimeout(120_000);

const releases = (stack: any) => Object.entries<any>(stack.resource?.helm_release ?? {});

describe("CRDs of pinned charts", () => {
  it("every chart that ships CRDs is covered: vendored into a -crds release, kube-prometheus-stack's own upgrade job, or CRDs that are chart templates", () => {
    expect([...VENDORED_CRD_CHARTS, ...TEMPLATED_CRD_CHARTS, "kube-prometheus-stack"].sort()).toEqual(Object.keys(CHART_CRD_GROUPS).sort());
  });

  it("external-secrets installs its CRDs as chart templates on every install and upgrade, and keeps them on uninstall", () => {
    const { json } = synthShipped("prod");
    const [, eso] = releases(json["prod-post-install"]).find(([, r]) => r.chart === "external-secrets")!;
    expect(eso.skip_crds).toBeUndefined();
    const values = loadAll(eso.values[0])[0] as any;
    expect(values.installCRDs).toBe(true);
    expect(values.crds.annotations).toEqual({ "helm.sh/resource-policy": "keep" });
    // No -crds release: nothing to vendor (the source has no CRD files) and nothing to add.
    expect(releases(json["prod-post-install"]).some(([, r]) => r.name === "external-secrets-crds")).toBe(false);
  });

  it("the vendored copies are byte for byte the pinned charts' crds/ (npm run vendor-crds)", () => {
    for (const app of VENDORED_CRD_CHARTS) {
      const version = HELM_CHARTS[app].versions.at(-1)!;
      const source = pinnedChartDir(HELM_CHARTS[app].chart, version);
      expect(readdirSync(join(CRD_CHARTS_DIR, app, "files")).sort()).toEqual(crdFilesOf(source));
      for (const f of crdFilesOf(source)) expect(readFileSync(join(CRD_CHARTS_DIR, app, "files", f), "utf8")).toBe(readFileSync(join(source, "crds", f), "utf8"));
      expect(readFileSync(join(CRD_CHARTS_DIR, app, "Chart.yaml"), "utf8")).toMatch(new RegExp(`^version: ${version.replace(/\./g, "\\.")}$`, "m"));
    }
  });

  it("the -crds releases install before their chart, which skips its crds/, adopt existing CRDs, and keep every CRD", async () => {
    const { json } = synthShipped("prod");
    const apps = json["prod-workload-alpha-apps"];
    for (const [chart, release] of [["aws-load-balancer-controller", "aws-load-balancer-controller"], ["mattermost-operator", "mattermost-operator"]]) {
      const all = releases(apps);
      const [crdId, crd] = all.find(([, r]) => r.name === `${release}-crds`)!;
      const [, main] = all.find(([, r]) => r.name === release && r.repository)!;
      expect(crd).toMatchObject({ take_ownership: true, atomic: true, wait: true, description: `crds of ${chart} ${main.version}` });
      expect(main.skip_crds).toBe(true);
      expect(main.depends_on).toContain(`helm_release.${crdId}`);
    }
    // Rendered with Helm from the in-repo chart: every CRD of the pinned source, each kept on uninstall.
    const rendered = await renderStacks(kubeStacks([{ name: "prod-workload-alpha-apps", env: environment("prod"), order: 0, dir: "", json: apps }]), {});
    for (const app of VENDORED_CRD_CHARTS) {
      const source = pinnedChartDir(HELM_CHARTS[app].chart, HELM_CHARTS[app].versions.at(-1)!);
      const expected = crdFilesOf(source)
        .flatMap((f) => loadAll(readFileSync(join(source, "crds", f), "utf8")) as any[])
        .filter((o) => o?.kind === "CustomResourceDefinition")
        .map((o) => o.metadata.name)
        .sort();
      const r = rendered.find((x) => x.release === `${app}-crds`)!;
      expect(r.objects.map((o: any) => o.metadata.name).sort()).toEqual(expected);
      for (const o of r.objects as any[]) {
        expect(o.kind).toBe("CustomResourceDefinition");
        expect(o.metadata.annotations["helm.sh/resource-policy"]).toBe("keep");
      }
    }
  });

  it("kube-prometheus-stack applies its own CRDs server-side in a pre-install/pre-upgrade hook, with a pinned busybox", async () => {
    const { json } = synthShipped("prod");
    const stack = json["prod-post-install"];
    const [, kps] = releases(stack).find(([, r]) => r.chart === "kube-prometheus-stack")!;
    const rendered = await renderStacks(kubeStacks([{ name: "prod-post-install", env: environment("prod"), order: 0, dir: "", json: { resource: { helm_release: { kps } } } as any }]), {});
    const job = (rendered[0].objects as any[]).find((o) => o.kind === "Job" && /crds-upgrade/.test(o.metadata.name));
    expect(job.metadata.annotations["helm.sh/hook"]).toBe("pre-install,pre-upgrade,pre-rollback");
    const kubectl = job.spec.template.spec.containers[0];
    expect(kubectl.args).toEqual(["apply", "--server-side", "--force-conflicts", "--filename", "/tmp/crds.yaml"]);
    expect(kubectl.image).toBe("registry.k8s.io/kubectl:v1.34.0");
    expect(job.spec.template.spec.initContainers[0].image).toMatch(/busybox:1\.\d+\.\d+$/);
    expect(resourcesOf(stack, "helm_release").length).toBeGreaterThan(0);
  });
});
