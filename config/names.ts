/**
 * Names derived from an environment. Layers find each other's resources by these names (data
 * sources), so each stack plans on its own: `cdktf diff <env>-post-install` needs no other
 * stack's state, only the deployed resources.
 */
import type { Environment } from "./schema";

export type Layer = "bootstrap" | "cluster" | "post-install" | "route53";

export const stackName = (env: Pick<Environment, "name">, layer: Layer) => `${env.name}-${layer}`;
export const workloadStackName = (env: Pick<Environment, "name">, workload: string) => `${env.name}-workload-${workload}`;

/** EKS cluster names. */
export const cncClusterName = (env: Pick<Environment, "name">) => `${env.name}-cnc`;
export const workloadClusterName = (env: Pick<Environment, "name">, workload: string) => `${env.name}-${workload}`;

/** Globally unique bucket names: environment and account keep them apart. */
export const bucketName = (env: Pick<Environment, "name" | "accountId">, purpose: string) =>
  `cloud-${env.name}-${purpose}-${env.accountId}`;

/** The state bucket of an environment targetting real AWS. */
export const stateBucketName = (env: Environment) => env.stateBucket ?? bucketName(env, "tfstate");

/** The environment's SNS alert topic (created by the cluster stack, found by name later). */
export const alertsTopicName = (env: Pick<Environment, "name">) => `${env.name}-platform-alerts`;

/** The DNS-registration Lambda. */
export const dnsRegistrationFunctionName = (env: Pick<Environment, "name">) => `${env.name}-dns-registration`;

/** The provisioner's IRSA role in the C&C (workload clusters grant it admin through an access entry). */
export const provisionerRoleName = (env: Pick<Environment, "name">) => `${env.name}-cnc-provisioner`;

/** Secrets Manager secret with a workload cluster's Redis AUTH token (bootstrap creates it empty). */
export const redisAuthSecretName = (env: Pick<Environment, "name">, workload: string) => `${env.name}/${workload}/redis-auth-token`;

/** Secrets Manager secret with a declared installation's own database connection string. */
export const installationDatabaseSecretName = (env: Pick<Environment, "name">, workload: string, installation: string) =>
  `${env.name}/${workload}/installations/${installation}/database`;

/** Kubernetes namespaces of the C&C apps. */
export const NAMESPACES = {
  monitoring: "monitoring",
  logging: "logging",
  ingress: "ingress",
  provisioner: "provisioner",
  dashboard: "dashboard",
} as const;
