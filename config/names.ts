/**
 * Names derived from an environment. Layers find each other's resources by these names (data
 * sources), so each stack plans on its own: `cdktf diff <env>-post-install` needs no other
 * stack's state, only the deployed resources.
 */
import type { Environment } from "./schema";

export type Layer = "bootstrap" | "cluster" | "post-install" | "route53";

export const stackName = (env: Pick<Environment, "name">, layer: Layer) => `${env.name}-${layer}`;
/** A workload cluster's AWS phase (network, EKS, data stores): no Kubernetes provider. */
export const workloadStackName = (env: Pick<Environment, "name">, workload: string) => `${env.name}-workload-${workload}`;
/** A workload cluster's Kubernetes phase (charts, objects): its cluster is found by name. */
export const workloadAppsStackName = (env: Pick<Environment, "name">, workload: string) => `${env.name}-workload-${workload}-apps`;

/** EKS cluster names. */
export const cncClusterName = (env: Pick<Environment, "name">) => `${env.name}-cnc`;
export const workloadClusterName = (env: Pick<Environment, "name">, workload: string) => `${env.name}-${workload}`;

/** Globally unique bucket names: environment and account keep them apart. */
export const bucketName = (env: Pick<Environment, "name" | "accountId">, purpose: string) =>
  `cloud-${env.name}-${purpose}-${env.accountId}`;

/** The state bucket of an environment targetting real AWS. */
export const stateBucketName = (env: Environment) => env.stateBucket ?? bucketName(env, "tfstate");

/** KMS key (created by bootstrap) that encrypts the environment's Secrets Manager secrets. */
export const secretsKeyAlias = (env: Pick<Environment, "name">) => `${env.name}-secrets`;
/** Alias (without `alias/`) of the KMS key bootstrap makes for the environment's Terraform state. */
export const stateKeyAlias = (env: Pick<Environment, "name">) => `${env.name}-terraform-state`;

/** The bucket every other bucket of the environment writes its S3 server access logs to (bootstrap). */
export const accessLogBucketName = (env: Pick<Environment, "name" | "accountId">) => bucketName(env, "access-logs");

/** The environment's SNS alert topic (created by the cluster stack, found by name later). */
export const alertsTopicName = (env: Pick<Environment, "name">) => `${env.name}-platform-alerts`;

/** The Lambda that posts the alert topic to the Mattermost alerts channel. */
export const alertsForwarderFunctionName = (env: Pick<Environment, "name">) => `${env.name}-alerts-forwarder`;

/** The DNS-registration Lambda. */
export const dnsRegistrationFunctionName = (env: Pick<Environment, "name">) => `${env.name}-dns-registration`;

/** The provisioner's IRSA role in the C&C (workload clusters grant it admin through an access entry). */
export const provisionerRoleName = (env: Pick<Environment, "name">) => `${env.name}-cnc-provisioner`;

/**
 * The IAM account alias the provisioner reads at start; `mattermost-cloud-<env>` must have exactly
 * three dash-separated parts, so an environment name with a dash needs provisioner.accountAlias.
 */
export function provisionerAccountAlias(env: Pick<Environment, "name" | "provisioner">): string {
  const alias = env.provisioner.accountAlias ?? `mattermost-cloud-${env.name}`;
  if (!/^mattermost-cloud-[a-z0-9]+$/.test(alias)) {
    throw new Error(`${env.name}: the provisioner's account alias would be "${alias}", but it must be mattermost-cloud-<env> with no further dash; set provisioner.accountAlias in the environment.`);
  }
  return alias;
}

/** Secrets Manager secret a workload cluster's kubeconfig is registered with the provisioner by. */
export const workloadKubeconfigSecretName = (env: Pick<Environment, "name">, workload: string) => `${env.name}/provisioner/clusters/${workload}/kubeconfig`;

/** Secrets Manager secret with a workload cluster's Redis AUTH token (bootstrap creates it empty). */
export const redisAuthSecretName = (env: Pick<Environment, "name">, workload: string) => `${env.name}/${workload}/redis-auth-token`;

/** Secrets Manager secret with a declared installation's own database connection string. */
export const installationDatabaseSecretName = (env: Pick<Environment, "name">, workload: string, installation: string) =>
  `${env.name}/${workload}/installations/${installation}/database`;

/** The deploy runner (CodeBuild-hosted GitHub Actions runner in the C&C VPC): project, role and security group. */
export const deployRunnerName = (env: Pick<Environment, "name">) => `${env.name}-deploy-runner`;
/** The plan runner: the same in the C&C VPC, read-only, for the diff workflow (pull-request code). */
export const planRunnerName = (env: Pick<Environment, "name">) => `${env.name}-plan-runner`;
export const planRunnerRoleArn = (env: Pick<Environment, "name" | "accountId">) => `arn:aws:iam::${env.accountId}:role/${planRunnerName(env)}`;

/**
 * Who is admin of every cluster of the environment (EKS access entries): the deploy roles (which
 * deploy jobs on the runner assume through GitHub OIDC) and the named admins. The Kubernetes
 * phases' preflight refuses any other caller.
 */
export const clusterAdminRoleArns = (env: Pick<Environment, "cluster">) => [...new Set([...env.cluster.deployRoleArns, ...env.cluster.adminPrincipalArns])];

/**
 * Load balancers made by the AWS Load Balancer Controller (from Ingresses and Services) are found
 * by later layers with `data.aws_lb`. A lookup must match exactly one load balancer, so each one
 * carries one tag no other object has:
 *
 *   platform/load-balancer = <env>/<cluster>/<purpose>     e.g. prod/prod-cnc/alb-internal
 *
 * Nothing else sets this key: Terraform-made load balancers (the workload monitoring NLB) carry
 * `platform/terraform-load-balancer` instead, and provider default tags (Environment, Stack) are
 * never used for lookups. `make validate` refuses a lookup whose tags a Terraform-made object of
 * the same type (or a second controller-made one) also carries.
 */
export const LOAD_BALANCER_TAG = "platform/load-balancer";
export const loadBalancerId = (env: Pick<Environment, "name">, cluster: string, purpose: string) => `${env.name}/${cluster}/${purpose}`;

/** Kubernetes namespaces of the C&C apps. */
export const NAMESPACES = {
  monitoring: "monitoring",
  logging: "logging",
  ingress: "ingress",
  provisioner: "provisioner",
  dashboard: "dashboard",
  /** The External Secrets Operator (constructs/secrets/external-secrets.ts). */
  externalSecrets: "external-secrets",
} as const;
