/**
 * Store-discovery configuration, from the upstream environment variables plus a few new ones.
 * Everything is checked before any API call; a bad value names the variable.
 */
import { DNS_LABEL, HOSTED_ZONE_ID, HTTP_URL, flag, optional, port, required, withHookFromFile, type Env } from "../../lib/discovery/env";

export interface StoreDiscoveryConfig {
  /** Private hosted zone to list (PRIVATE_HOSTED_ZONE_ID). */
  zoneId: string;
  /** Namespace of the central Thanos query (THANOS_NAMESPACE). */
  namespace: string;
  /** The Thanos query Deployment, restarted only when rotation is on (THANOS_DEPLOYMENT_NAME). */
  deploymentName: string;
  /** ConfigMap mounted into the query as its endpoint file (THANOS_CONFIGMAP_NAME). */
  configMapName: string;
  /** Data key = the file name the query reads (THANOS_CONFIGMAP_KEY, default servicediscovery.yml). */
  configMapKey: string;
  /** gRPC port appended to every endpoint (THANOS_GRPC_PORT, default 10901). */
  grpcPort: number;
  /** Mattermost incoming webhook for failures (MATTERMOST_ALERTS_HOOK); optional only in dry-run. */
  alertsHook?: string;
  /** Use KUBECONFIG / ~/.kube/config instead of in-cluster credentials (DEVELOPER_MODE). */
  developerMode: boolean;
  /** Allow one run to remove more than half of the endpoints (ALLOW_MASS_REMOVAL, default false). */
  allowMassRemoval: boolean;
  /** Rolling-restart the query Deployment after a change (ROTATE_QUERY_PODS, default false: it re-reads the file). */
  rotate: boolean;
  /** Print what would be written; touch no Kubernetes API (DRY_RUN). */
  dryRun: boolean;
  /** Environment name shown in alerts (ENVIRONMENT_NAME). */
  environment: string;
}

/** Kept here too: tests and callers import it from the service that introduced it. */
export { withHookFromFile };

export function readConfig(rawEnv: Env): StoreDiscoveryConfig {
  const env = withHookFromFile(rawEnv);
  const dryRun = flag(env, "DRY_RUN");
  const label = "a Kubernetes name (lower-case letters, digits, hyphens)";
  return {
    zoneId: required(env, "PRIVATE_HOSTED_ZONE_ID", HOSTED_ZONE_ID, "a Route53 hosted zone id such as Z0123456789ABC").replace(/^\/hostedzone\//, ""),
    namespace: required(env, "THANOS_NAMESPACE", DNS_LABEL, label),
    deploymentName: required(env, "THANOS_DEPLOYMENT_NAME", DNS_LABEL, label),
    configMapName: required(env, "THANOS_CONFIGMAP_NAME", DNS_LABEL, label),
    configMapKey: optional(env, "THANOS_CONFIGMAP_KEY", "servicediscovery.yml", /^[-._a-zA-Z0-9]+$/, "a ConfigMap data key such as servicediscovery.yml"),
    grpcPort: port(env, "THANOS_GRPC_PORT", 10901),
    alertsHook: dryRun
      ? optional(env, "MATTERMOST_ALERTS_HOOK", "", HTTP_URL, "an http(s) URL of a Mattermost incoming webhook") || undefined
      : required(env, "MATTERMOST_ALERTS_HOOK", HTTP_URL, "an http(s) URL of a Mattermost incoming webhook"),
    developerMode: flag(env, "DEVELOPER_MODE"),
    allowMassRemoval: flag(env, "ALLOW_MASS_REMOVAL"),
    rotate: flag(env, "ROTATE_QUERY_PODS"),
    dryRun,
    environment: optional(env, "ENVIRONMENT_NAME", "unknown"),
  };
}
