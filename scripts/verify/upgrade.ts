/**
 * `make upgrade-check ENVIRONMENT=<env> TO=<minor> [WORKLOAD=<name>]`: can the environment's
 * clusters move to Kubernetes `TO`? Offline: the environment is synthesized as it would be at
 * `TO`, every Helm release rendered with `--kube-version TO` from the pinned chart sources, and
 * the version tables read. Four rules, each finding listed and the command exits 1 on any:
 *
 * - removed-api: an object (rendered, or a `kubernetes_*` resource) uses an API removed in `TO`;
 * - chart-kube-version: a chart's `kubeVersion` constraint (Chart.yaml) excludes `TO`;
 * - no-release: `TO` is not a minor this code supports (config/versions.ts), an image pinned per
 *   minor (the Cluster Autoscaler) has no release for it, or a node group's AMI type has no AMI
 *   for it (Amazon Linux 2 ends with 1.32);
 * - version-skew: the move is more than one minor, or leaves a workload more than one minor
 *   behind the C&C, or the C&C more than one behind a workload.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import semver from "semver";
import { CLUSTER_AUTOSCALER_TAGS, HELM_CHARTS, SUPPORTED_EKS_VERSIONS } from "../../config/versions";
import type { Environment } from "../../config/schema";
import type { SynthesizedStack } from "../lib/synth";
import { pinnedChartDir } from "./charts";
import { allObjects, kubeStacks } from "./kubernetes";
import { renderStacks } from "./render";
import { removedAt } from "./schema";

export type UpgradeRule = "removed-api" | "chart-kube-version" | "no-release" | "version-skew";

export interface UpgradeFinding {
  rule: UpgradeRule;
  where: string;
  message: string;
}

const minorNumber = (m: string) => Number(m.split(".")[1]);

/** The clusters the upgrade moves: the C&C (unless only a workload is named) and workloads that follow it or are named. */
export function upgradedEnvironment(env: Environment, to: string, workload?: string): Environment {
  const next = structuredClone(env);
  if (workload) {
    const w = next.workloads.find((x) => x.name === workload);
    if (!w) throw new Error(`Environment ${env.name} has no workload "${workload}" (it has ${env.workloads.map((x) => x.name).join(", ") || "none"}).`);
    w.kubernetesVersion = to as typeof w.kubernetesVersion;
    return next;
  }
  next.cluster.kubernetesVersion = to as typeof next.cluster.kubernetesVersion;
  return next;
}

/** version-skew: more than one minor at a time, or clusters more than one minor apart afterwards. */
export function skewFindings(before: Environment, after: Environment, to: string, workload?: string): UpgradeFinding[] {
  const out: UpgradeFinding[] = [];
  const from = workload ? (before.workloads.find((w) => w.name === workload)?.kubernetesVersion ?? before.cluster.kubernetesVersion) : before.cluster.kubernetesVersion;
  const step = minorNumber(to) - minorNumber(from);
  if (step > 1) out.push({ rule: "version-skew", where: workload ? `workload ${workload}` : "C&C", message: `${from} -> ${to} jumps ${step} minors; EKS upgrades one minor at a time: upgrade to 1.${minorNumber(from) + 1} first` });
  if (step < 0) out.push({ rule: "version-skew", where: workload ? `workload ${workload}` : "C&C", message: `${from} -> ${to} is a downgrade, which EKS cannot do` });
  const cnc = after.cluster.kubernetesVersion;
  for (const w of after.workloads) {
    const v = w.kubernetesVersion ?? cnc;
    if (minorNumber(v) < minorNumber(cnc) - 1) out.push({ rule: "version-skew", where: `workload ${w.name}`, message: `stays on ${v}, more than one minor behind the C&C's ${cnc}: upgrade it first (make upgrade ENVIRONMENT=${after.name} WORKLOAD=${w.name})` });
    if (minorNumber(v) > minorNumber(cnc) + 1) out.push({ rule: "version-skew", where: `workload ${w.name}`, message: `${v} is more than one minor ahead of the C&C's ${cnc}: upgrade the C&C first` });
  }
  return out;
}

/** no-release: the minor itself, images pinned per minor, and node AMI types. */
export function releaseFindings(_after: Environment, stacks: SynthesizedStack[], to: string): UpgradeFinding[] {
  const out: UpgradeFinding[] = [];
  if (!(SUPPORTED_EKS_VERSIONS as readonly string[]).includes(to)) {
    out.push({ rule: "no-release", where: "config/versions.ts", message: `Kubernetes ${to} is not in SUPPORTED_EKS_VERSIONS (${SUPPORTED_EKS_VERSIONS.join(", ")}): the add-ons, charts and images have not been checked against it` });
  }
  if (!(CLUSTER_AUTOSCALER_TAGS as Record<string, string>)[to]) {
    out.push({ rule: "no-release", where: "config/versions.ts CLUSTER_AUTOSCALER_TAGS", message: `no Cluster Autoscaler release is pinned for ${to} (its minor must match the cluster's)` });
  }
  for (const s of stacks) {
    for (const [name, g] of Object.entries<any>(s.json.resource?.aws_eks_node_group ?? {})) {
      const ami = g.ami_type ?? "AL2_x86_64";
      if (/^AL2_/.test(ami) && minorNumber(to) >= 33) {
        out.push({ rule: "no-release", where: `${s.name} aws_eks_node_group.${name}`, message: `AMI type ${ami}: EKS publishes no Amazon Linux 2 AMI for ${to} (the last is 1.32); move to AL2023 first` });
      }
    }
  }
  return out;
}

/** chart-kube-version: each released chart's kubeVersion constraint against `to`. */
export function chartFindings(stacks: SynthesizedStack[], to: string, chartYaml: (chart: string, version: string) => string = (c, v) => readFileSync(join(pinnedChartDir(c, v), "Chart.yaml"), "utf8")): UpgradeFinding[] {
  const out: UpgradeFinding[] = [];
  const seen = new Set<string>();
  for (const s of stacks) {
    for (const body of Object.values<any>(s.json.resource?.helm_release ?? {})) {
      if (!body.repository) continue; // the in-repo manifests chart has no constraint
      const pin = Object.values(HELM_CHARTS).find((c) => c.chart === body.chart);
      if (!pin) continue;
      const key = `${body.chart}@${body.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const constraint = (load(chartYaml(pin.chart, body.version)) as { kubeVersion?: string }).kubeVersion;
      if (constraint && !semver.satisfies(`${to}.0`, constraint, { includePrerelease: true })) {
        out.push({ rule: "chart-kube-version", where: `${body.chart} ${body.version}`, message: `its kubeVersion constraint "${constraint}" excludes ${to}: pin a chart version that supports it (config/versions.ts HELM_CHARTS)` });
      }
    }
  }
  return out;
}

/** removed-api: every object the stacks deploy at `to`, rendered with `--kube-version to`. */
export async function removedApiFindings(stacks: SynthesizedStack[]): Promise<{ findings: UpgradeFinding[]; objects: number; releases: number }> {
  const kube = kubeStacks(stacks).filter((s) => Object.keys(s.json.resource ?? {}).some((t) => t === "helm_release" || t.startsWith("kubernetes_")));
  const releases = await renderStacks(kube, {});
  const objects = allObjects(kube, releases);
  const findings: UpgradeFinding[] = [];
  for (const o of objects) {
    const removed = removedAt(o.object.apiVersion, o.object.kind, o.minor);
    if (removed) findings.push({ rule: "removed-api", where: `${o.stack} ${o.source}`, message: `${o.object.kind} ${o.object.metadata?.name ?? ""} uses ${o.object.apiVersion}, removed in Kubernetes ${removed}` });
  }
  return { findings, objects: objects.length, releases: releases.length };
}

export function formatUpgradeFindings(findings: UpgradeFinding[]): string {
  return findings.map((f) => `  ${f.rule.padEnd(18)} ${f.where}: ${f.message}`).join("\n");
}
