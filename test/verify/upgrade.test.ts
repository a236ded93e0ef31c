/**
 * upgrade-check (scripts/verify/upgrade.ts): each rule fails on a fixture made for it and is quiet
 * on the shipped code; `make upgrade-check ENVIRONMENT=prod TO=<next minor>` itself runs in
 * `npm test` (package.json).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SynthesizedStack } from "../../scripts/lib/synth";
import { chartFindings, releaseFindings, removedApiFindings, skewFindings, upgradedEnvironment } from "../../scripts/verify/upgrade";
import { environment } from "../support/synth";

jest.setTimeout(120_000);

const prod = environment("prod");

/** A stack as synthesize() returns it, with only what the rule reads. */
function stack(name: string, resource: Record<string, any>, env = prod): SynthesizedStack {
  return { name, env, order: 0, dir: "", json: { resource } as any };
}

describe("upgrade-check rules", () => {
  it("removed-api: an object whose API the target minor no longer serves", async () => {
    const dir = mkdtempSync(join(tmpdir(), "upgrade-"));
    try {
      const flow = (apiVersion: string) => ({ manifest: { apiVersion, kind: "FlowSchema", metadata: { name: "legacy" }, spec: { priorityLevelConfiguration: { name: "global-default" } } } });
      const at = (minor: string, apiVersion: string) => {
        const env = upgradedEnvironment(prod, minor);
        return removedApiFindings([{ ...stack("prod-post-install", { kubernetes_manifest: { legacy: flow(apiVersion) } }, env), dir }]);
      };
      const found = await at("1.32", "flowcontrol.apiserver.k8s.io/v1beta3");
      expect(found.findings).toEqual([
        { rule: "removed-api", where: "prod-post-install kubernetes_manifest.legacy", message: "FlowSchema legacy uses flowcontrol.apiserver.k8s.io/v1beta3, removed in Kubernetes 1.32" },
      ]);
      // The served version passes.
      expect((await at("1.32", "flowcontrol.apiserver.k8s.io/v1")).findings).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("chart-kube-version: a chart whose Chart.yaml constraint excludes the target", () => {
    const release = { helm_release: { kps: { name: "kps", repository: "https://prometheus-community.github.io/helm-charts", chart: "kube-prometheus-stack", version: "88.5.3" } } };
    const capped = () => "apiVersion: v2\nname: kube-prometheus-stack\nversion: 88.5.3\nkubeVersion: \">=1.21.0-0 <1.35.0-0\"\n";
    expect(chartFindings([stack("prod-post-install", release)], "1.34", capped)).toEqual([]);
    expect(chartFindings([stack("prod-post-install", release)], "1.35", capped)).toEqual([
      { rule: "chart-kube-version", where: "kube-prometheus-stack 88.5.3", message: 'its kubeVersion constraint ">=1.21.0-0 <1.35.0-0" excludes 1.35: pin a chart version that supports it (config/versions.ts HELM_CHARTS)' },
    ]);
    // The pinned sources themselves (the real Chart.yaml files) admit the next minor.
    expect(chartFindings([stack("prod-post-install", release)], "1.35")).toEqual([]);
  });

  it("no-release: a minor without support, without a pinned autoscaler, or a node AMI type that stops before it", () => {
    const rules = (fs: { rule: string; where: string }[]) => fs.map((f) => `${f.rule} ${f.where}`);
    expect(rules(releaseFindings(prod, [], "1.36"))).toEqual(["no-release config/versions.ts", "no-release config/versions.ts CLUSTER_AUTOSCALER_TAGS"]);
    const al2 = stack("prod-cluster", { aws_eks_node_group: { general: { ami_type: "AL2_x86_64" }, next: { ami_type: "AL2023_x86_64_STANDARD" } } });
    expect(rules(releaseFindings(prod, [al2], "1.33"))).toEqual(["no-release prod-cluster aws_eks_node_group.general"]);
    expect(releaseFindings(prod, [al2], "1.32")).toEqual([]);
    expect(releaseFindings(prod, [], "1.35")).toEqual([]);
  });

  it("version-skew: more than one minor at once, a downgrade, or a workload left more than one minor behind", () => {
    const withAlphaPinned = environment("prod", (raw: any) => {
      raw.workloads[0].kubernetesVersion = "1.33";
    });
    // C&C 1.34 -> 1.35 leaves alpha (pinned 1.33) two minors behind.
    const after = upgradedEnvironment(withAlphaPinned, "1.35");
    expect(skewFindings(withAlphaPinned, after, "1.35").map((f) => f.where + ": " + f.message)).toEqual([
      "workload alpha: stays on 1.33, more than one minor behind the C&C's 1.35: upgrade it first (make upgrade ENVIRONMENT=prod WORKLOAD=alpha)",
    ]);
    expect(skewFindings(prod, upgradedEnvironment(prod, "1.35"), "1.35")).toEqual([]);
    expect(skewFindings(prod, upgradedEnvironment(prod, "1.36"), "1.36")[0].message).toMatch(/jumps 2 minors; EKS upgrades one minor at a time: upgrade to 1\.35 first/);
    expect(skewFindings(prod, upgradedEnvironment(prod, "1.33"), "1.33")[0].message).toMatch(/downgrade/);
    // One workload alone: alpha 1.34 -> 1.35 is one ahead of the C&C, which is allowed.
    expect(skewFindings(prod, upgradedEnvironment(prod, "1.35", "alpha"), "1.35", "alpha")).toEqual([]);
    expect(() => upgradedEnvironment(prod, "1.35", "gamma")).toThrow(/has no workload "gamma" \(it has alpha, beta\)/);
  });
});
