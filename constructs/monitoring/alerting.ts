/**
 * Alerting as code: the global rules the Thanos ruler evaluates over every cluster (through the
 * central query, which sees each cluster's Prometheus and the bucket), and the Alertmanager
 * routing that takes every alert to a person.
 *
 * Where alerts come from:
 * - these global rules (Thanos ruler in the C&C -> the C&C Alertmanager);
 * - the C&C Prometheus' own kube-prometheus-stack rules (-> the C&C Alertmanager);
 * - workload clusters' kube-prometheus-stack rules: their Prometheus has no Alertmanager, so
 *   `ClusterAlertFiring` re-raises their firing critical and warning alerts (the ALERTS series,
 *   served by each sidecar) centrally, with the source alert's name (the ruler's own ALERTS,
 *   which carry a `scope` label, are not re-raised);
 * - CloudWatch alarms (Lambda, dead letters, OpenSearch, RDS, health checks) -> the SNS alert
 *   topic -> the alerts-forwarder Lambda -> the same Mattermost channel.
 *
 * The kube-prometheus-stack alerts that a global rule replaces are turned off in every cluster
 * (REPLACED_DEFAULT_ALERTS), so nothing fires twice.
 */
import { dump } from "js-yaml";

export type Severity = "critical" | "warning" | "info";
/** A re-raised alert keeps the severity of the alert it re-raises (a label template). */
export const SOURCE_SEVERITY = "{{ $labels.severity }}";
/** What an alert is about; decides the labels its expression must keep. */
export type AlertScope = "cluster" | "installation" | "platform";

export interface AlertRule {
  alert: string;
  /** PromQL; aggregations keep `cluster` (and `installation` for installation alerts). */
  expr: string;
  for: string;
  severity: Severity | typeof SOURCE_SEVERITY;
  scope: AlertScope;
  summary: string;
  description: string;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** kube-prometheus-stack alerts switched off everywhere because a global rule below covers them. */
export const REPLACED_DEFAULT_ALERTS = ["KubeNodeNotReady", "KubeNodePressure", "KubePodCrashLooping", "KubePersistentVolumeFillingUp", "NodeCPUHighUsage", "NodeMemoryHighUtilization"] as const;

/** The probe job (constructs/monitoring/uptime.ts) whose results the installation alerts read. */
export const PROBE_JOB = "installation-probes";

export interface GlobalRulesOptions {
  /** The C&C cluster label: its own alerts reach Alertmanager directly, so they are not re-raised. */
  cncCluster: string;
  /** The store-discovery CronJob's name (its last success is watched). */
  storeDiscoveryCronJob: string;
  /** Namespace of the provisioner. */
  provisionerNamespace: string;
  /** The OpenSearch snapshot CronJob (its last success is watched) and its cron schedule; absent when snapshots are off. */
  opensearchSnapshots?: { cronJob: string; schedule: string };
}

/**
 * How long after its last success a CronJob on this five-field schedule is overdue: a day and two
 * hours when it runs daily (or more often), eight days when it is weekly, 32 when monthly.
 */
export function overdueAfterSeconds(schedule: string): number {
  const [, , dayOfMonth, month, dayOfWeek] = schedule.trim().split(/\s+/);
  if (dayOfMonth !== "*" || month !== "*") return 32 * 86_400;
  if (dayOfWeek !== "*") return 8 * 86_400;
  return 26 * 3600;
}

export function globalRuleGroups(o: GlobalRulesOptions): RuleGroup[] {
  return [
    {
      name: "cluster-health",
      rules: [
        {
          alert: "ClusterNodeNotReady",
          expr: 'max by (cluster, node) (kube_node_status_condition{condition="Ready",status="true"}) == 0',
          for: "15m",
          severity: "critical",
          scope: "cluster",
          summary: "Node {{ $labels.node }} of {{ $labels.cluster }} has not been Ready for 15 minutes",
          description: "Pods on it are not running or are being evicted. Check the node in the EC2 console and its kubelet; a managed node group replaces an unhealthy instance.",
        },
        {
          alert: "ClusterNodePressure",
          expr: 'max by (cluster, node, condition) (kube_node_status_condition{condition=~"MemoryPressure|DiskPressure|PIDPressure",status="true"}) == 1',
          for: "10m",
          severity: "warning",
          scope: "cluster",
          summary: "Node {{ $labels.node }} of {{ $labels.cluster }} reports {{ $labels.condition }}",
          description: "The kubelet is evicting or refusing pods. Look for a pod using more than it requests, or add nodes.",
        },
        {
          alert: "ClusterPodCrashLooping",
          expr: 'max by (cluster, namespace, pod, container) (max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m])) >= 1',
          for: "15m",
          severity: "warning",
          scope: "cluster",
          summary: "{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) on {{ $labels.cluster }} is crash-looping",
          description: "The container keeps exiting. Read its previous logs (kubectl logs --previous) in OpenSearch Dashboards or with kubectl.",
        },
        {
          alert: "ClusterVolumeFillingUp",
          expr:
            "max by (cluster, namespace, persistentvolumeclaim) (kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes) < 0.10 " +
            "and max by (cluster, namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes) > 0",
          for: "5m",
          severity: "critical",
          scope: "cluster",
          summary: "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} on {{ $labels.cluster }} is over 90% full",
          description: "Grow the PVC (the gp3 StorageClass allows expansion) or lower the retention of what writes to it.",
        },
        {
          alert: "ClusterNodeCPUHigh",
          expr: '1 - avg by (cluster, instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) > 0.9',
          for: "30m",
          severity: "warning",
          scope: "cluster",
          summary: "Node {{ $labels.instance }} of {{ $labels.cluster }} has used over 90% CPU for 30 minutes",
          description: "Pods on it are throttled. Check which pods use the CPU; the cluster autoscaler adds nodes only for unschedulable pods.",
        },
        {
          alert: "ClusterNodeMemoryHigh",
          expr: "1 - max by (cluster, instance) (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) > 0.9",
          for: "15m",
          severity: "warning",
          scope: "cluster",
          summary: "Node {{ $labels.instance }} of {{ $labels.cluster }} has used over 90% memory for 15 minutes",
          description: "The kernel may kill pods. Check for pods without memory limits or growing without bound.",
        },
        {
          alert: "ClusterMetricsMissing",
          expr: 'count by (cluster) (up{job=~".*prometheus.*"} offset 1h) unless count by (cluster) (up{job=~".*prometheus.*"})',
          for: "15m",
          severity: "critical",
          scope: "cluster",
          summary: "{{ $labels.cluster }} reported metrics an hour ago and has sent none for 15 minutes",
          description: "Its Prometheus, its sidecar, the monitoring NLB or the store-discovery endpoint file is broken. Check the cluster's monitoring namespace and the Thanos query's stores page.",
        },
        {
          alert: "ClusterAlertFiring",
          expr:
            `max by (cluster, namespace, source_alert, severity) (label_replace(ALERTS{alertstate="firing",severity=~"critical|warning",alertname!~"Watchdog|InfoInhibitor",scope="",cluster!="${o.cncCluster}"}, ` +
            '"source_alert", "$1", "alertname", "(.*)"))',
          for: "0m",
          severity: SOURCE_SEVERITY,
          scope: "cluster",
          summary: "{{ $labels.source_alert }} is firing on {{ $labels.cluster }} ({{ $labels.namespace }})",
          description: "Raised by the cluster's own Prometheus rules, which have no Alertmanager of their own; the severity label is the source alert's. Open the cluster's Prometheus alerts page for its annotations.",
        },
      ],
    },
    {
      name: "installation-health",
      rules: [
        {
          alert: "InstallationDown",
          expr: `max by (cluster, installation) (probe_success{job="${PROBE_JOB}"}) == 0`,
          for: "5m",
          severity: "critical",
          scope: "installation",
          summary: "Installation {{ $labels.installation }} has not answered /api/v4/system/ping for 5 minutes",
          description: "Customers cannot use it. Check its pods (namespace of the installation), its database and its load balancer; the uptime dashboard shows since when.",
        },
        {
          alert: "InstallationServerErrors",
          expr:
            'sum by (cluster, installation) (label_replace(rate(mattermost_api_time_count{status_code=~"5.."}[5m]), "installation", "$1", "namespace", "(.*)")) ' +
            '/ sum by (cluster, installation) (label_replace(rate(mattermost_api_time_count[5m]), "installation", "$1", "namespace", "(.*)")) > 0.05',
          for: "10m",
          severity: "warning",
          scope: "installation",
          summary: "Over 5% of API requests of {{ $labels.installation }} on {{ $labels.cluster }} fail with 5xx",
          description: "Read the installation's server logs in OpenSearch Dashboards; a database or file-store problem is the usual cause.",
        },
        {
          alert: "InstallationDatabaseConnectionsHigh",
          expr: 'max by (cluster, installation) (label_replace(mattermost_db_master_connections_total, "installation", "$1", "namespace", "(.*)")) > 250',
          for: "15m",
          severity: "warning",
          scope: "installation",
          summary: "{{ $labels.installation }} on {{ $labels.cluster }} holds over 250 database connections",
          description: "The server's pool (MaxOpenConns, 300 by default) is nearly exhausted; requests will queue. Check for slow queries on the RDS dashboard.",
        },
      ],
    },
    {
      name: "platform-health",
      rules: [
        {
          alert: "ThanosComponentDown",
          expr: 'max by (cluster, job) (up{job=~"thanos.*"}) == 0',
          for: "10m",
          severity: "critical",
          scope: "platform",
          summary: "Thanos {{ $labels.job }} in {{ $labels.cluster }} is down",
          description: "Global queries, long-term storage or the global rules are affected. Check the pods in the monitoring namespace.",
        },
        {
          alert: "ThanosCompactHalted",
          expr: "max by (cluster) (thanos_compact_halted) == 1",
          for: "5m",
          severity: "critical",
          scope: "platform",
          summary: "The Thanos compactor halted; retention and downsampling have stopped",
          description: "Its log names the overlapping or corrupt block; move that block aside in the metrics bucket and restart the compactor.",
        },
        {
          alert: "ThanosRuleEvaluationFailing",
          expr: 'sum by (cluster, job) (rate(prometheus_rule_evaluation_failures_total{job=~"thanos.*"}[5m])) > 0',
          for: "15m",
          severity: "critical",
          scope: "platform",
          summary: "The Thanos ruler cannot evaluate global rules",
          description: "Global alerts (these ones) may be silent. Check the ruler's log and that the query answers.",
        },
        {
          alert: "StoreDiscoveryNotReporting",
          expr: `time() - max by (cluster) (kube_cronjob_status_last_successful_time{cronjob="${o.storeDiscoveryCronJob}"}) > 1800`,
          for: "5m",
          severity: "warning",
          scope: "platform",
          summary: "Store discovery has not succeeded for 30 minutes",
          description: "New or removed workload clusters are not reflected in the Thanos query. Read the CronJob's last job log; it also posts its failures to this channel.",
        },
        ...(o.opensearchSnapshots
          ? [
              {
                alert: "OpenSearchSnapshotsNotSucceeding",
                expr: `time() - max by (cluster) (kube_cronjob_status_last_successful_time{cronjob="${o.opensearchSnapshots.cronJob}"}) > ${overdueAfterSeconds(o.opensearchSnapshots.schedule)}`,
                for: "30m",
                severity: "warning" as const,
                scope: "platform" as const,
                summary: "The log domain's manual snapshot has not succeeded on schedule",
                description:
                  "The newest manual snapshot of the logs is older than its schedule allows, and old ones are not pruned. Read the opensearch-snapshots CronJob's last job log in the logging namespace (it posts its own failures to this channel; a job that never started does not); README \"Log snapshots\".",
              },
            ]
          : []),
        {
          alert: "AlertmanagerNotificationsFailing",
          expr: "sum by (cluster, integration) (rate(alertmanager_notifications_failed_total[5m])) > 0",
          for: "15m",
          severity: "critical",
          scope: "platform",
          summary: "Alertmanager cannot deliver notifications through {{ $labels.integration }}",
          description: "Alerts are not reaching people on that channel. Check the webhook or pager key secret and the Alertmanager log.",
        },
        {
          alert: "ExternalSecretNotSynced",
          expr: 'max by (cluster, namespace, name) (externalsecret_status_condition{condition="Ready", status="False"}) == 1',
          for: "30m",
          severity: "warning",
          scope: "platform",
          summary: "ExternalSecret {{ $labels.namespace }}/{{ $labels.name }} has not synced for 30 minutes",
          description: "Its Kubernetes Secret keeps its last value (or does not exist yet): a rotated secret has not arrived. Check the ExternalSecret's status, that the Secrets Manager secret has a value, and the namespace's IRSA role.",
        },
        {
          alert: "ProvisionerDown",
          expr: `max by (cluster) (up{namespace="${o.provisionerNamespace}"}) == 0`,
          for: "10m",
          severity: "critical",
          scope: "platform",
          summary: "The provisioner's metrics endpoint has not answered for 10 minutes",
          description: "Installations and clusters are not being created or supervised. Check the provisioner pods and their database.",
        },
      ],
    },
  ];
}

/** The Prometheus rule-file document (labels and annotations filled in) the Thanos ruler loads. */
export function renderRuleFile(groups: RuleGroup[], runbookBaseUrl: string): string {
  const doc = {
    groups: groups.map((g) => ({
      name: g.name,
      rules: g.rules.map((r) => ({
        alert: r.alert,
        expr: r.expr,
        for: r.for,
        labels: { severity: r.severity, scope: r.scope },
        annotations: { summary: r.summary, description: r.description, runbook_url: runbookUrl(runbookBaseUrl, r.alert) },
      })),
    })),
  };
  return dump(doc, { lineWidth: -1, noRefs: true });
}

export function runbookUrl(base: string, alert: string): string {
  return `${base}#${alert.toLowerCase()}`;
}

// ---------------------------------------------------------------------------------------------
// Alertmanager.

export interface PagerSettings {
  service: "pagerduty" | "opsgenie";
  /** Path of the mounted file holding the routing key (PagerDuty) or API key (Opsgenie). */
  keyFile: string;
}

export interface AlertmanagerRoute {
  receiver: string;
  matchers?: string[];
  continue?: boolean;
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  routes?: AlertmanagerRoute[];
}

export interface AlertmanagerConfig {
  route: AlertmanagerRoute;
  receivers: ({ name: string } & Record<string, unknown>)[];
  inhibit_rules?: Record<string, unknown>[];
}

const MATTERMOST_TEXT = [
  "{{ range .Alerts }}",
  "**{{ .Labels.severity | toUpper }}** {{ .Annotations.summary }}",
  "{{ if .Annotations.description }}{{ .Annotations.description }}{{ end }}",
  "{{ if .Annotations.runbook_url }}Runbook: {{ .Annotations.runbook_url }}{{ end }}",
  "{{ end }}",
].join("\n");

/**
 * Routing by severity: critical to the pager (when one is configured) and Mattermost, warning and
 * info to Mattermost (info repeats daily), anything unlabelled to Mattermost, Watchdog nowhere.
 */
export function alertmanagerConfig(props: { webhookFile: string; pager?: PagerSettings }): AlertmanagerConfig {
  const mattermost = (name: string, channelNote: string) => ({
    name,
    // Mattermost incoming webhooks speak the Slack payload; the URL is read from the mounted Secret.
    slack_configs: [
      {
        api_url_file: props.webhookFile,
        send_resolved: true,
        username: "Alertmanager",
        title: `[{{ .Status | toUpper }}${channelNote}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.cluster }}{{ if .CommonLabels.installation }}/{{ .CommonLabels.installation }}{{ end }})`,
        text: MATTERMOST_TEXT,
      },
    ],
  });
  const receivers: AlertmanagerConfig["receivers"] = [{ name: "null" }, mattermost("mattermost", ""), mattermost("mattermost-critical", " CRITICAL")];
  // Watchdog (always firing) and InfoInhibitor (severity "none": it exists only to inhibit info
  // alerts where a warning or critical fires) are never for people.
  const routes: AlertmanagerRoute[] = [
    { receiver: "null", matchers: ['alertname = "Watchdog"'] },
    { receiver: "null", matchers: ['alertname = "InfoInhibitor"'] },
  ];
  if (props.pager) {
    receivers.push(
      props.pager.service === "pagerduty"
        ? { name: "pager", pagerduty_configs: [{ routing_key_file: props.pager.keyFile, send_resolved: true, severity: "critical", description: "{{ .CommonAnnotations.summary }}" }] }
        : { name: "pager", opsgenie_configs: [{ api_key_file: props.pager.keyFile, send_resolved: true, priority: "P1", message: "{{ .CommonAnnotations.summary }}" }] },
    );
    routes.push({ receiver: "pager", matchers: ['severity = "critical"'], continue: true, repeat_interval: "1h" });
  }
  routes.push(
    { receiver: "mattermost-critical", matchers: ['severity = "critical"'], repeat_interval: "1h" },
    { receiver: "mattermost", matchers: ['severity = "warning"'], repeat_interval: "4h" },
    { receiver: "mattermost", matchers: ['severity = "info"'], repeat_interval: "24h" },
  );
  return {
    route: {
      receiver: "mattermost",
      group_by: ["alertname", "cluster", "installation", "namespace"],
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: "4h",
      routes,
    },
    receivers,
    inhibit_rules: [
      // A critical alert silences its own warning twin (same name and place).
      { source_matchers: ['severity = "critical"'], target_matchers: ['severity = "warning"'], equal: ["alertname", "cluster", "namespace", "installation"] },
      // The default rules' InfoInhibitor fires where a warning or critical does: info alerts of
      // that namespace are silenced (the chart's default inhibition, restored).
      { source_matchers: ['alertname = "InfoInhibitor"'], target_matchers: ['severity = "info"'], equal: ["cluster", "namespace"] },
    ],
  };
}
