import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { dump } from "js-yaml";
import { IMAGES, imageRef } from "../../config/versions";
import { PROBE_JOB } from "./alerting";

export const BLACKBOX_NAME = "blackbox-exporter";
const BLACKBOX_PORT = 9115;
/** The probe module every installation is checked with. */
export const PROBE_MODULE = "mattermost_ping";

/**
 * blackbox_exporter's configuration: an HTTPS GET that must answer 200 over TLS within 10 s
 * (Mattermost's /api/v4/system/ping answers 200 only when the server and its database are up).
 */
export const BLACKBOX_CONFIG = {
  modules: {
    [PROBE_MODULE]: {
      prober: "http",
      timeout: "10s",
      http: { method: "GET", valid_status_codes: [200], fail_if_not_ssl: true, preferred_ip_protocol: "ip4", ip_protocol_fallback: true, follow_redirects: false },
    },
  },
};

export interface UptimeProbesProps {
  readonly namespace: string;
  /** Where Prometheus reads the probe targets (a file-SD document the DNS-registration Lambda writes). */
  readonly after: ITerraformDependable[];
}

/**
 * Installation uptime: the blackbox exporter (two replicas, non-root, read-only, no service
 * account token) that the C&C Prometheus asks to probe each installation; `scrapeConfig` is the
 * Prometheus job (targets from the DNS-registration Lambda's probe document).
 */
export class UptimeProbes extends Construct {
  readonly address: string;

  constructor(scope: Construct, id: string, props: UptimeProbesProps) {
    super(scope, id);
    const ns = props.namespace;
    const labels = { "app.kubernetes.io/name": BLACKBOX_NAME };
    const config = new ConfigMapV1(this, "config", {
      metadata: { name: BLACKBOX_NAME, namespace: ns, labels },
      data: { "blackbox.yml": dump(BLACKBOX_CONFIG, { lineWidth: -1 }) },
      dependsOn: props.after,
    });
    new DeploymentV1(this, "deployment", {
      metadata: { name: BLACKBOX_NAME, namespace: ns, labels },
      spec: {
        replicas: "2",
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { "platform/config-hash": configHash() } },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: "65534", runAsGroup: "65534", seccompProfile: { type: "RuntimeDefault" } },
            container: [
              {
                name: "blackbox-exporter",
                image: imageRef(IMAGES.blackboxExporter.repository, IMAGES.blackboxExporter.tag),
                imagePullPolicy: "Always",
                args: ["--config.file=/etc/blackbox/blackbox.yml", `--web.listen-address=:${BLACKBOX_PORT}`],
                port: [{ name: "http", containerPort: BLACKBOX_PORT }],
                readinessProbe: { httpGet: { path: "/-/healthy", port: "http" }, periodSeconds: 10 },
                livenessProbe: { httpGet: { path: "/-/healthy", port: "http" }, initialDelaySeconds: 10, periodSeconds: 20 },
                resources: { requests: { cpu: "25m", memory: "32Mi" }, limits: { cpu: "250m", memory: "128Mi" } },
                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                volumeMount: [{ name: "config", mountPath: "/etc/blackbox", readOnly: true }],
              },
            ],
            volume: [{ name: "config", configMap: { name: config.metadata.name } }],
          },
        },
      },
    });
    new PodDisruptionBudgetV1(this, "pdb", { metadata: { name: BLACKBOX_NAME, namespace: ns }, spec: { minAvailable: "1", selector: { matchLabels: labels } }, dependsOn: props.after });
    new ServiceV1(this, "service", {
      metadata: { name: BLACKBOX_NAME, namespace: ns, labels },
      spec: { selector: labels, port: [{ name: "http", port: BLACKBOX_PORT, targetPort: "http" }] },
      dependsOn: props.after,
    });
    this.address = `${BLACKBOX_NAME}.${ns}.svc:${BLACKBOX_PORT}`;
  }
}

/** A change of the module configuration rolls the pods (the exporter reads its file at start). */
function configHash(): string {
  let h = 0;
  for (const c of JSON.stringify(BLACKBOX_CONFIG)) h = (h * 31 + c.charCodeAt(0)) | 0;
  return (h >>> 0).toString(16);
}

/**
 * The Prometheus job that probes every installation: targets (`https://<name>/api/v4/system/ping`,
 * labelled `installation`) from the file-SD document, each sent to the blackbox exporter as
 * `?target=`; the result carries `installation`, `instance` (the URL) and, from Prometheus'
 * external labels, `cluster` (the C&C that probed it).
 */
export function probeScrapeConfig(probeFile: string, blackboxAddress: string): Record<string, unknown> {
  return {
    job_name: PROBE_JOB,
    metrics_path: "/probe",
    params: { module: [PROBE_MODULE] },
    scrape_interval: "1m",
    scrape_timeout: "15s",
    file_sd_configs: [{ files: [probeFile], refresh_interval: "1m" }],
    relabel_configs: [
      { source_labels: ["__address__"], target_label: "__param_target" },
      { source_labels: ["__param_target"], target_label: "instance" },
      { target_label: "__address__", replacement: blackboxAddress },
    ],
  };
}
