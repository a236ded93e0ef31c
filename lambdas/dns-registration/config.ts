/** DNS-registration Lambda configuration: set by the cluster stack, overridable for tests. */
import { DNS_LABEL, HOSTED_ZONE_ID, flag, optional, port, required, type Env } from "../../lib/discovery/env";

export interface DnsRegistrationConfig {
  zoneId: string;
  /** Records named `<clusterID><recordSuffix>` become targets (default `.prometheus.<PRIVATE_DOMAIN>`). */
  recordSuffix: string;
  prometheusPort: number;
  clusterName: string;
  /** https://... endpoint of the C&C API (CLUSTER_ENDPOINT); CA as base64 PEM (CLUSTER_CA). */
  clusterEndpoint: string;
  clusterCa?: string;
  /** Tests only: accept a plain-http or self-signed API stand-in (K8S_SKIP_TLS_VERIFY). */
  skipTlsVerify: boolean;
  namespace: string;
  configMapName: string;
  configMapKey: string;
  /** Secrets Manager secret holding the alert webhook URL (ALERTS_SECRET_ID). */
  alertsSecretId?: string;
  allowMassRemoval: boolean;
  dryRun: boolean;
  environment: string;
  /**
   * Installation uptime probes (a second file-SD document in the same ConfigMap): the public zone
   * (PUBLIC_HOSTED_ZONE_ID), its domain (PUBLIC_DOMAIN), names that are platform apps rather than
   * installations (EXCLUDED_NAMES, comma-separated) and the data key (PROBES_KEY). Off without a zone.
   */
  probes?: { zoneId: string; domain: string; excluded: Set<string>; key: string };
}

export function readConfig(env: Env): DnsRegistrationConfig {
  const dryRun = flag(env, "DRY_RUN");
  const domain = required(env, "PRIVATE_DOMAIN", /^([a-z0-9-]+\.)+[a-z0-9-]+$/, "the private zone's domain, e.g. internal.example.com");
  const clusterEndpoint = dryRun ? optional(env, "CLUSTER_ENDPOINT", "") : required(env, "CLUSTER_ENDPOINT", /^https?:\/\/\S+$/, "the cluster API URL");
  return {
    zoneId: required(env, "PRIVATE_HOSTED_ZONE_ID", HOSTED_ZONE_ID, "a Route53 hosted zone id").replace(/^\/hostedzone\//, ""),
    recordSuffix: optional(env, "RECORD_SUFFIX", `.prometheus.${domain}`, /^\.[a-z0-9.-]+$/, "a name suffix starting with a dot").toLowerCase(),
    prometheusPort: port(env, "PROMETHEUS_PORT", 9090),
    clusterName: dryRun ? optional(env, "CLUSTER_NAME", "") : required(env, "CLUSTER_NAME", /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, "the EKS cluster name"),
    clusterEndpoint,
    clusterCa: env.CLUSTER_CA?.trim() || undefined,
    skipTlsVerify: flag(env, "K8S_SKIP_TLS_VERIFY"),
    namespace: optional(env, "TARGETS_NAMESPACE", "monitoring", DNS_LABEL, "a Kubernetes namespace"),
    configMapName: optional(env, "TARGETS_CONFIGMAP", "prometheus-federation-targets", DNS_LABEL, "a ConfigMap name"),
    configMapKey: optional(env, "TARGETS_KEY", "federation-targets.json", /^[-._a-zA-Z0-9]+$/, "a ConfigMap data key"),
    alertsSecretId: env.ALERTS_SECRET_ID?.trim() || undefined,
    allowMassRemoval: flag(env, "ALLOW_MASS_REMOVAL"),
    dryRun,
    environment: optional(env, "ENVIRONMENT_NAME", "unknown"),
    probes: env.PUBLIC_HOSTED_ZONE_ID?.trim()
      ? {
          zoneId: required(env, "PUBLIC_HOSTED_ZONE_ID", HOSTED_ZONE_ID, "a Route53 hosted zone id").replace(/^\/hostedzone\//, ""),
          domain: required(env, "PUBLIC_DOMAIN", /^([a-z0-9-]+\.)+[a-z0-9-]+$/, "the public zone's domain, e.g. cloud.example.com"),
          excluded: new Set(
            optional(env, "EXCLUDED_NAMES", "", /^[a-z0-9-]+(,[a-z0-9-]+)*$|^$/, "comma-separated DNS labels")
              .split(",")
              .filter(Boolean),
          ),
          key: optional(env, "PROBES_KEY", "installation-probes.json", /^[-._a-zA-Z0-9]+$/, "a ConfigMap data key"),
        }
      : undefined,
  };
}
