/**
 * Grafana dashboards as code, to parity with upstream's ten: account, clusters, installations,
 * alerting, uptime, RDS, Go runtime, two performance views (API and database), plus account
 * quotas and Thanos. Prometheus panels query the central Thanos (datasource uid `thanos`);
 * AWS panels (RDS, quotas) query CloudWatch (datasource uid `cloudwatch`, through Grafana's IRSA
 * role). Each is loaded by the Grafana sidecar from a labelled ConfigMap. Every PromQL query is
 * parsed by the tests with Prometheus' own grammar.
 */
export const THANOS_DATASOURCE = { type: "prometheus", uid: "thanos" } as const;
export const CLOUDWATCH_DATASOURCE = { type: "cloudwatch", uid: "cloudwatch" } as const;

interface PanelBase {
  title: string;
  unit?: string;
  type?: "timeseries" | "stat" | "table" | "state-timeline";
  /** Stat thresholds (base green, then each step's colour from its value). */
  thresholds?: { value: number; color: string }[];
}
/** A panel over the central Thanos query. */
export interface PromPanel extends PanelBase {
  expr: string;
  legend?: string;
}
/** A panel over CloudWatch: a metric query, or metric math over it (`expression`, e.g. SERVICE_QUOTA). */
export interface CloudWatchPanel extends PanelBase {
  cloudwatch: { namespace: string; metricName: string; dimensions: Record<string, string>; statistic: string; expression?: string; label?: string };
}
export type Panel = PromPanel | CloudWatchPanel;

export function isCloudWatch(p: Panel): p is CloudWatchPanel {
  return "cloudwatch" in p;
}

/** The region CloudWatch panels read (the environment's). */
export interface DashboardContext {
  region: string;
}

function target(p: Panel, ctx: DashboardContext): Record<string, unknown>[] {
  if (!isCloudWatch(p)) return [{ refId: "A", datasource: THANOS_DATASOURCE, expr: p.expr, legendFormat: p.legend ?? "" }];
  const c = p.cloudwatch;
  const metric = {
    refId: "A",
    id: "m1",
    datasource: CLOUDWATCH_DATASOURCE,
    queryMode: "Metrics",
    metricQueryType: 0,
    metricEditorMode: 0,
    region: ctx.region,
    namespace: c.namespace,
    metricName: c.metricName,
    dimensions: c.dimensions,
    statistic: c.statistic,
    period: "",
    matchExact: false,
    label: c.label ?? "",
    hide: !!c.expression,
  };
  if (!c.expression) return [metric];
  return [metric, { refId: "B", datasource: CLOUDWATCH_DATASOURCE, queryMode: "Metrics", metricEditorMode: 1, metricQueryType: 0, region: ctx.region, expression: c.expression, label: c.label ?? "", id: "e1" }];
}

function dashboard(uid: string, title: string, panels: Panel[], variables: string[], ctx: DashboardContext): Record<string, unknown> {
  return {
    uid,
    title,
    tags: ["platform"],
    timezone: "utc",
    schemaVersion: 39,
    refresh: "1m",
    time: { from: "now-6h", to: "now" },
    templating: {
      list: variables.map((name) => ({
        name,
        type: "query",
        datasource: THANOS_DATASOURCE,
        query: { query: name === "installation" ? "label_values(probe_success, installation)" : `label_values(up, ${name})`, refId: name },
        includeAll: true,
        multi: true,
        refresh: 2,
      })),
    },
    panels: panels.map((p, i) => ({
      id: i + 1,
      type: p.type ?? "timeseries",
      title: p.title,
      datasource: isCloudWatch(p) ? CLOUDWATCH_DATASOURCE : THANOS_DATASOURCE,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: {
        defaults: {
          unit: p.unit ?? "short",
          ...(p.thresholds ? { thresholds: { mode: "absolute", steps: [{ color: "green", value: null }, ...p.thresholds] } } : {}),
        },
        overrides: [],
      },
      targets: target(p, ctx),
    })),
  };
}

const C = 'cluster=~"$cluster"';

/** The dashboards' panels (exported for the tests, which parse every query). */
export function dashboardPanels(): Record<string, { title: string; panels: Panel[]; variables: string[] }> {
  return {
    "account-overview": {
      title: "Account overview",
      variables: [],
      panels: [
        { title: "Clusters reporting", expr: "count(count by (cluster) (up))", type: "stat" },
        { title: "Mattermost installations", expr: 'count(count by (cluster, namespace) (kube_pod_labels{label_app="mattermost"}))', type: "stat" },
        { title: "Installations up (probes)", expr: 'sum(probe_success{job="installation-probes"}) / count(probe_success{job="installation-probes"})', unit: "percentunit", type: "stat" },
        { title: "Alerts firing", expr: 'count(ALERTS{alertstate="firing",alertname!="Watchdog"}) or vector(0)', type: "stat", thresholds: [{ value: 1, color: "orange" }] },
        { title: "Targets down by cluster", expr: "sum by (cluster) (up == 0)", legend: "{{cluster}}" },
        { title: "CPU used by cluster", expr: 'sum by (cluster) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))', unit: "cores", legend: "{{cluster}}" },
      ],
    },
    clusters: {
      title: "Clusters",
      variables: ["cluster"],
      panels: [
        { title: "Nodes ready", expr: `sum by (cluster) (kube_node_status_condition{condition="Ready",status="true",${C}})`, legend: "{{cluster}}" },
        { title: "CPU requested / allocatable", expr: `sum by (cluster) (kube_pod_container_resource_requests{resource="cpu",${C}}) / sum by (cluster) (kube_node_status_allocatable{resource="cpu",${C}})`, unit: "percentunit", legend: "{{cluster}}" },
        { title: "Memory requested / allocatable", expr: `sum by (cluster) (kube_pod_container_resource_requests{resource="memory",${C}}) / sum by (cluster) (kube_node_status_allocatable{resource="memory",${C}})`, unit: "percentunit", legend: "{{cluster}}" },
        { title: "Pods not running", expr: `sum by (cluster) (kube_pod_status_phase{phase!~"Running|Succeeded",${C}})`, legend: "{{cluster}}" },
        { title: "Unschedulable pods (autoscaler adds nodes)", expr: `sum by (cluster) (kube_pod_status_unschedulable{${C}})`, legend: "{{cluster}}" },
        { title: "Nodes by node group", expr: `count by (cluster, label_platform_node_group) (kube_node_labels{${C}})`, legend: "{{cluster}} {{label_platform_node_group}}" },
      ],
    },
    installations: {
      title: "Installations",
      variables: ["cluster"],
      panels: [
        { title: "Requests per second", expr: `sum by (cluster, namespace) (rate(mattermost_http_requests_total{${C}}[5m]))`, unit: "reqps", legend: "{{cluster}}/{{namespace}}" },
        { title: "5xx ratio", expr: `sum by (cluster, namespace) (rate(mattermost_api_time_count{status_code=~"5..",${C}}[5m])) / sum by (cluster, namespace) (rate(mattermost_api_time_count{${C}}[5m]))`, unit: "percentunit", legend: "{{cluster}}/{{namespace}}" },
        { title: "Active WebSocket connections", expr: `sum by (cluster, namespace) (mattermost_http_websockets_total{${C}})`, legend: "{{cluster}}/{{namespace}}" },
        { title: "Pod restarts (1h)", expr: `sum by (cluster, namespace) (increase(kube_pod_container_status_restarts_total{container="mattermost",${C}}[1h]))`, legend: "{{cluster}}/{{namespace}}" },
      ],
    },
    alerting: {
      title: "Alerting",
      variables: ["cluster"],
      panels: [
        { title: "Firing alerts by severity", expr: 'sum by (severity) (ALERTS{alertstate="firing",alertname!="Watchdog"})', legend: "{{severity}}" },
        { title: "Firing alerts", expr: 'sum by (alertname, cluster, severity) (ALERTS{alertstate="firing",alertname!="Watchdog"})', type: "table" },
        { title: "Notifications sent", expr: "sum by (integration) (rate(alertmanager_notifications_total[5m]))", unit: "ops", legend: "{{integration}}" },
        { title: "Notifications failed", expr: "sum by (integration) (rate(alertmanager_notifications_failed_total[5m]))", unit: "ops", legend: "{{integration}}", thresholds: [{ value: 0.001, color: "red" }] },
        { title: "Global rule evaluation failures", expr: 'sum(rate(prometheus_rule_evaluation_failures_total{job=~"thanos.*"}[5m]))', unit: "ops" },
        { title: "Silences active", expr: 'max(alertmanager_silences{state="active"})', type: "stat" },
      ],
    },
    uptime: {
      title: "Installation uptime",
      variables: ["installation"],
      panels: [
        { title: "Up now", expr: 'probe_success{job="installation-probes",installation=~"$installation"}', type: "state-timeline", legend: "{{installation}}" },
        { title: "Availability (30 days)", expr: 'avg_over_time(probe_success{job="installation-probes",installation=~"$installation"}[30d])', unit: "percentunit", type: "table", legend: "{{installation}}" },
        { title: "Ping duration", expr: 'probe_duration_seconds{job="installation-probes",installation=~"$installation"}', unit: "s", legend: "{{installation}}" },
        { title: "HTTP status", expr: 'probe_http_status_code{job="installation-probes",installation=~"$installation"}', legend: "{{installation}}" },
        { title: "Certificate expires in", expr: 'probe_ssl_earliest_cert_expiry{job="installation-probes",installation=~"$installation"} - time()', unit: "s", legend: "{{installation}}" },
      ],
    },
    rds: {
      title: "RDS",
      variables: [],
      panels: [
        { title: "CPU", unit: "percent", cloudwatch: { namespace: "AWS/RDS", metricName: "CPUUtilization", dimensions: { DBInstanceIdentifier: "*" }, statistic: "Average" } },
        { title: "Free storage", unit: "bytes", cloudwatch: { namespace: "AWS/RDS", metricName: "FreeStorageSpace", dimensions: { DBInstanceIdentifier: "*" }, statistic: "Minimum" } },
        { title: "Connections", cloudwatch: { namespace: "AWS/RDS", metricName: "DatabaseConnections", dimensions: { DBInstanceIdentifier: "*" }, statistic: "Maximum" } },
        { title: "Freeable memory", unit: "bytes", cloudwatch: { namespace: "AWS/RDS", metricName: "FreeableMemory", dimensions: { DBInstanceIdentifier: "*" }, statistic: "Minimum" } },
        { title: "Read latency", unit: "s", cloudwatch: { namespace: "AWS/RDS", metricName: "ReadLatency", dimensions: { DBInstanceIdentifier: "*" }, statistic: "Average" } },
        { title: "Write latency", unit: "s", cloudwatch: { namespace: "AWS/RDS", metricName: "WriteLatency", dimensions: { DBInstanceIdentifier: "*" }, statistic: "Average" } },
      ],
    },
    "go-runtime": {
      title: "Go runtime (provisioner, Mattermost, Thanos)",
      variables: ["cluster"],
      panels: [
        { title: "Goroutines", expr: `sum by (cluster, job) (go_goroutines{${C}})`, legend: "{{cluster}} {{job}}" },
        { title: "Heap in use", expr: `sum by (cluster, job) (go_memstats_heap_inuse_bytes{${C}})`, unit: "bytes", legend: "{{cluster}} {{job}}" },
        { title: "GC pause p99", expr: `max by (cluster, job) (go_gc_duration_seconds{quantile="1",${C}})`, unit: "s", legend: "{{cluster}} {{job}}" },
        { title: "Allocation rate", expr: `sum by (cluster, job) (rate(go_memstats_alloc_bytes_total{${C}}[5m]))`, unit: "Bps", legend: "{{cluster}} {{job}}" },
      ],
    },
    "performance-api": {
      title: "Performance: API",
      variables: ["cluster"],
      panels: [
        { title: "API latency p50", expr: `histogram_quantile(0.5, sum by (cluster, namespace, le) (rate(mattermost_api_time_bucket{${C}}[5m])))`, unit: "s", legend: "{{cluster}}/{{namespace}}" },
        { title: "API latency p95", expr: `histogram_quantile(0.95, sum by (cluster, namespace, le) (rate(mattermost_api_time_bucket{${C}}[5m])))`, unit: "s", legend: "{{cluster}}/{{namespace}}" },
        { title: "Slowest handlers p95", expr: `topk(10, histogram_quantile(0.95, sum by (cluster, handler, le) (rate(mattermost_api_time_bucket{${C}}[5m]))))`, unit: "s", type: "table" },
        { title: "Posts per second", expr: `sum by (cluster, namespace) (rate(mattermost_post_total{${C}}[5m]))`, unit: "ops", legend: "{{cluster}}/{{namespace}}" },
      ],
    },
    "performance-database": {
      title: "Performance: database",
      variables: ["cluster"],
      panels: [
        { title: "Store calls p95", expr: `histogram_quantile(0.95, sum by (cluster, namespace, le) (rate(mattermost_db_store_time_bucket{${C}}[5m])))`, unit: "s", legend: "{{cluster}}/{{namespace}}" },
        { title: "Slowest store methods p95", expr: `topk(10, histogram_quantile(0.95, sum by (cluster, method, le) (rate(mattermost_db_store_time_bucket{${C}}[5m]))))`, unit: "s", type: "table" },
        { title: "Connections in use", expr: `sum by (cluster, namespace) (mattermost_db_master_connections_total{${C}})`, legend: "{{cluster}}/{{namespace}}" },
        { title: "Replica lag", expr: `max by (cluster, namespace) (mattermost_db_replica_lag_time{${C}})`, unit: "s", legend: "{{cluster}}/{{namespace}}" },
        { title: "Search errors", expr: `sum by (cluster) (rate(mattermost_search_errors_total{${C}}[5m]))`, unit: "ops", legend: "{{cluster}}" },
      ],
    },
    "account-quotas": {
      title: "Account quotas",
      variables: [],
      panels: [
        {
          title: "EC2 on-demand vCPUs (standard), % of the quota",
          unit: "percent",
          type: "stat",
          thresholds: [{ value: 70, color: "orange" }, { value: 90, color: "red" }],
          cloudwatch: { namespace: "AWS/Usage", metricName: "ResourceCount", dimensions: { Service: "EC2", Type: "Resource", Resource: "vCPU", Class: "Standard/OnDemand" }, statistic: "Maximum", expression: "m1 / SERVICE_QUOTA(m1) * 100", label: "vCPU" },
        },
        {
          title: "Elastic IPs, % of the quota",
          unit: "percent",
          type: "stat",
          thresholds: [{ value: 70, color: "orange" }, { value: 90, color: "red" }],
          cloudwatch: { namespace: "AWS/Usage", metricName: "ResourceCount", dimensions: { Service: "EC2", Type: "Resource", Resource: "ElasticIPs", Class: "None" }, statistic: "Maximum", expression: "m1 / SERVICE_QUOTA(m1) * 100", label: "EIPs" },
        },
        { title: "EKS clusters", expr: "count(count by (cluster) (kube_node_info))", type: "stat" },
        { title: "Persistent volume usage", expr: "max by (cluster, persistentvolumeclaim) (kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes)", unit: "percentunit", legend: "{{cluster}}/{{persistentvolumeclaim}}" },
      ],
    },
    thanos: {
      title: "Thanos",
      variables: [],
      panels: [
        { title: "Store endpoints up", expr: "sum(thanos_store_nodes_grpc_connections)", type: "stat" },
        { title: "Query duration p95", expr: 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job=~"thanos.*query.*",handler="query_range"}[5m])))', unit: "s" },
        { title: "Compactor halted", expr: "max(thanos_compact_halted)", type: "stat", thresholds: [{ value: 1, color: "red" }] },
        { title: "Blocks uploaded by sidecars (1h)", expr: "sum by (cluster) (increase(thanos_shipper_uploads_total[1h]))", legend: "{{cluster}}" },
      ],
    },
  };
}

/** Every dashboard's JSON model, by ConfigMap name. */
export function dashboards(ctx: DashboardContext): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(dashboardPanels()).map(([uid, d]) => [uid, dashboard(uid, d.title, d.panels, d.variables, ctx)]));
}
