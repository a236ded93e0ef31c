/**
 * The ordered steps of `make upgrade ENVIRONMENT=<env> [WORKLOAD=<name>]`, and the waits between
 * them. Per cluster (the C&C first, then each workload; or the one workload named):
 *
 *   1. control plane  - its AWS-phase stack, limited to the aws_eks_cluster;
 *   2. add-ons        - the aws_eks_addon resources (each takes the newest build for the new minor);
 *   3. node groups    - the aws_eks_node_group resources (rolling, in place, maxUnavailable 33%);
 *   4. the rest of the AWS-phase stack, then its Kubernetes phase (post-install or -apps).
 *
 * After each step the driver waits until EKS reports every part ACTIVE (and at the new version).
 * The EKS client is a parameter: tests pass one aimed at the emulator.
 */
import { DescribeAddonCommand, DescribeClusterCommand, DescribeNodegroupCommand, ListNodegroupsCommand, type EKSClient } from "@aws-sdk/client-eks";
import { cncClusterName, workloadClusterName } from "../../config/names";
import type { Environment } from "../../config/schema";
import type { TfJson } from "./tf-json";
import { ToolError } from "./terraform";

export type UpgradeStepKind = "control plane" | "add-ons" | "node groups" | "rest";

export interface UpgradeStep {
  kind: UpgradeStepKind;
  /** The stack applied in this step. */
  stack: string;
  /** `-target` addresses (empty: the whole stack). */
  targets: string[];
}

export interface ClusterUpgrade {
  cluster: string;
  /** The Kubernetes minor the code declares for it. */
  version: string;
  /** The AWS phase, then the Kubernetes phase. */
  awsStack: string;
  kubernetesStack: string;
  steps: UpgradeStep[];
}

const addresses = (json: TfJson | undefined, type: string) => Object.keys(json?.resource?.[type] ?? {}).map((name) => `${type}.${name}`);

/** The clusters and steps, in order; `stackJson` gives each stack's synthesized JSON. */
export function upgradePlan(env: Environment, stackJson: (name: string) => TfJson | undefined, workload?: string): ClusterUpgrade[] {
  if (workload && !env.workloads.some((w) => w.name === workload)) {
    throw new ToolError(`Environment ${env.name} has no workload "${workload}" (it has ${env.workloads.map((w) => w.name).join(", ") || "none"}).`);
  }
  const clusters = [
    ...(workload ? [] : [{ cluster: cncClusterName(env), version: env.cluster.kubernetesVersion, awsStack: `${env.name}-cluster`, kubernetesStack: `${env.name}-post-install` }]),
    ...env.workloads
      .filter((w) => !workload || w.name === workload)
      .map((w) => ({ cluster: workloadClusterName(env, w.name), version: w.kubernetesVersion ?? env.cluster.kubernetesVersion, awsStack: `${env.name}-workload-${w.name}`, kubernetesStack: `${env.name}-workload-${w.name}-apps` })),
  ];
  return clusters.map((c) => {
    const json = stackJson(c.awsStack);
    if (!json) throw new ToolError(`There is no stack ${c.awsStack} to upgrade.`);
    return {
      ...c,
      steps: [
        { kind: "control plane", stack: c.awsStack, targets: addresses(json, "aws_eks_cluster") },
        { kind: "add-ons", stack: c.awsStack, targets: addresses(json, "aws_eks_addon") },
        { kind: "node groups", stack: c.awsStack, targets: addresses(json, "aws_eks_node_group") },
        { kind: "rest", stack: c.awsStack, targets: [] },
        { kind: "rest", stack: c.kubernetesStack, targets: [] },
      ],
    };
  });
}

/** What the upgrade will do, printed before anything runs. */
export function describePlan(plan: ClusterUpgrade[], running: Record<string, string | undefined>): string {
  return plan
    .map((c, i) => {
      const from = running[c.cluster];
      const head = `${i + 1}. ${c.cluster}: ${from ? (from === c.version ? `already on ${c.version} (each step applies what else changed)` : `${from} -> ${c.version}`) : `not created yet (created at ${c.version})`}`;
      const lines = [
        `   a. control plane: ${c.awsStack}, -target ${c.steps[0].targets.join(" ")}; wait until ACTIVE at ${c.version}`,
        `   b. add-ons: ${c.steps[1].targets.length} (${c.steps[1].targets.join(", ") || "none"}); wait until each is ACTIVE`,
        `   c. node groups: ${c.steps[2].targets.length}, rolling in place; wait until each is ACTIVE at ${c.version}`,
        `   d. the rest of ${c.awsStack}, then ${c.kubernetesStack} (its Kubernetes phase)`,
      ];
      return [head, ...lines].join("\n");
    })
    .join("\n");
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  log: (line: string) => void;
}

async function until(what: string, check: () => Promise<string | undefined>, opts: WaitOptions): Promise<void> {
  const started = Date.now();
  for (;;) {
    const pending = await check();
    if (!pending) return;
    const waited = Date.now() - started;
    if (waited > opts.timeoutMs) throw new ToolError(`${what} is not ACTIVE after ${Math.round(waited / 60000)} min (${pending}); look at it in the EKS console, then run make upgrade again (finished steps are not repeated).`);
    opts.log(`waiting for ${what}: ${pending} (${Math.round(waited / 1000)} s)`);
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

/** Waits until the cluster is ACTIVE at `version`. */
export function waitForCluster(eks: EKSClient, cluster: string, version: string, opts: WaitOptions): Promise<void> {
  return until(`cluster ${cluster}`, async () => {
    const c = (await eks.send(new DescribeClusterCommand({ name: cluster }))).cluster;
    if (c?.status !== "ACTIVE") return `status ${c?.status}`;
    if (c.version !== version) return `version ${c.version}, not yet ${version}`;
    return undefined;
  }, opts);
}

/** Waits until every named add-on is ACTIVE. */
export function waitForAddons(eks: EKSClient, cluster: string, addons: string[], opts: WaitOptions): Promise<void> {
  return until(`the add-ons of ${cluster}`, async () => {
    const pending: string[] = [];
    for (const name of addons) {
      const a = (await eks.send(new DescribeAddonCommand({ clusterName: cluster, addonName: name }))).addon;
      if (a?.status !== "ACTIVE") pending.push(`${name} ${a?.status}`);
    }
    return pending.length ? pending.join(", ") : undefined;
  }, opts);
}

/** Waits until every node group of the cluster is ACTIVE at `version`. */
export function waitForNodegroups(eks: EKSClient, cluster: string, version: string, opts: WaitOptions): Promise<void> {
  return until(`the node groups of ${cluster}`, async () => {
    const names = (await eks.send(new ListNodegroupsCommand({ clusterName: cluster }))).nodegroups ?? [];
    const pending: string[] = [];
    for (const name of names) {
      const g = (await eks.send(new DescribeNodegroupCommand({ clusterName: cluster, nodegroupName: name }))).nodegroup;
      if (g?.status !== "ACTIVE") pending.push(`${name} ${g?.status}`);
      else if (g.version !== version) pending.push(`${name} at ${g.version}`);
    }
    return pending.length ? pending.join(", ") : undefined;
  }, opts);
}
