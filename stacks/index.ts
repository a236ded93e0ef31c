/**
 * Composes the stacks of one environment, in deployment order. The order here is the order
 * `make all` applies them and the reverse of `make destroy`.
 */
import type { App } from "cdktf";
import { stackName, workloadStackName } from "../config/names";
import type { Environment } from "../config/schema";
import { BootstrapStack } from "./bootstrap-stack";
import { ClusterStack } from "./cluster-stack";
import type { PlatformStack } from "./platform-stack";
import { PostInstallStack } from "./post-install-stack";
import { Route53Stack } from "./route53-stack";
import { WorkloadStack } from "./workload-stack";

export interface EnvironmentStacks {
  bootstrap: BootstrapStack;
  cluster: ClusterStack;
  postInstall: PostInstallStack;
  route53: Route53Stack;
  workloads: WorkloadStack[];
  /** All of the above in deployment order. */
  ordered: PlatformStack[];
}

export function buildEnvironment(app: App, env: Environment): EnvironmentStacks {
  const bootstrap = new BootstrapStack(app, stackName(env, "bootstrap"), env);
  const cluster = new ClusterStack(app, stackName(env, "cluster"), env);
  const postInstall = new PostInstallStack(app, stackName(env, "post-install"), env);
  const route53 = new Route53Stack(app, stackName(env, "route53"), env);
  const workloads = env.workloads.map((w) => new WorkloadStack(app, workloadStackName(env, w.name), env, w));
  return { bootstrap, cluster, postInstall, route53, workloads, ordered: [bootstrap, cluster, postInstall, route53, ...workloads] };
}
