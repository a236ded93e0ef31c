/**
 * Composes the stacks of one environment, in deployment order. The order here is the order
 * `make all` applies them and the reverse of `make destroy`.
 *
 * Deploy phases: a stack that creates a cluster never configures kubernetes/helm providers from it;
 * the Kubernetes objects of a cluster are a later stack that finds it by name (C&C: cluster ->
 * post-install; workloads: workload-<n> -> workload-<n>-apps). Custom resources go through Helm
 * releases that wait for the charts installing their CRDs (constructs/helm/manifests-release.ts).
 */
import type { App } from "cdktf";
import { stackName, workloadAppsStackName, workloadStackName } from "../config/names";
import type { Environment } from "../config/schema";
import { BootstrapStack } from "./bootstrap-stack";
import { ClusterStack } from "./cluster-stack";
import type { PlatformStack } from "./platform-stack";
import { PostInstallStack } from "./post-install-stack";
import { Route53Stack } from "./route53-stack";
import { WorkloadAppsStack } from "./workload-apps-stack";
import { WorkloadStack } from "./workload-stack";

export interface EnvironmentStacks {
  bootstrap: BootstrapStack;
  cluster: ClusterStack;
  postInstall: PostInstallStack;
  route53: Route53Stack;
  /** The AWS phase of each workload cluster (network, EKS, data stores). */
  workloads: WorkloadStack[];
  /** The Kubernetes phase of each workload cluster, applied after its AWS phase. */
  workloadApps: WorkloadAppsStack[];
  /** All of the above in deployment order (each workload's AWS phase, then its apps). */
  ordered: PlatformStack[];
}

export function buildEnvironment(app: App, env: Environment): EnvironmentStacks {
  const bootstrap = new BootstrapStack(app, stackName(env, "bootstrap"), env);
  const cluster = new ClusterStack(app, stackName(env, "cluster"), env);
  const postInstall = new PostInstallStack(app, stackName(env, "post-install"), env);
  const route53 = new Route53Stack(app, stackName(env, "route53"), env);
  const workloads = env.workloads.map((w) => new WorkloadStack(app, workloadStackName(env, w.name), env, w));
  const workloadApps = env.workloads.map((w) => new WorkloadAppsStack(app, workloadAppsStackName(env, w.name), env, w));
  const phases = workloads.flatMap((w, i) => [w, workloadApps[i]]);
  // route53 comes last: it names the load balancers the controller made for the C&C apps and for
  // the workloads' declared installations.
  return { bootstrap, cluster, postInstall, route53, workloads, workloadApps, ordered: [bootstrap, cluster, postInstall, ...phases, route53] };
}
