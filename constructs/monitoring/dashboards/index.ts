/**
 * Grafana dashboards as code: account, clusters, installations, databases and account quotas.
 * Each is a small, real dashboard over the central Thanos query (datasource uid `thanos`),
 * loaded by the Grafana sidecar from a labelled ConfigMap.
 */
type Panel = { title: string; expr: string; unit?: string; type?: "timeseries" | "stat" | "table"; legend?: string };

function dashboard(uid: string, title: string, panels: Panel[], variables: string[] = []): object {
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
        datasource: { type: "prometheus", uid: "thanos" },
        query: { query: `label_values(up, ${name})`, refId: name },
        includeAll: true,
        multi: true,
        refresh: 2,
      })),
    },
    panels: panels.map((p, i) => ({
      id: i + 1,
      type: p.type ?? "timeseries",
      title: p.title,
      datasource: { type: "prometheus", uid: "thanos" },
      gridPos: { h: 8, w: p.type === "stat" ? 6 : 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit ?? "short" }, overrides: [] },
      targets: [{ refId: "A", expr: p.expr, legendFormat: p.legend ?? "" }],
    })),
  };
}

export const DASHBOARDS: Record<string, object> = {
  "account-overview": dashboard("account-overview", "Account overview", [
    { title: "Clusters reporting", expr: "count(count by (cluster) (up))", type: "stat" },
    { title: "Mattermost installations", expr: 'count(count by (namespace) (kube_pod_labels{label_app="mattermost"}))', type: "stat" },
    { title: "Targets down by cluster", expr: "sum by (cluster) (up == 0)", legend: "{{cluster}}" },
    { title: "CPU used by cluster", expr: 'sum by (cluster) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))', unit: "cores", legend: "{{cluster}}" },
  ]),
  clusters: dashboard(
    "clusters",
    "Clusters",
    [
      { title: "Nodes ready", expr: 'sum by (cluster) (kube_node_status_condition{condition="Ready",status="true",cluster=~"$cluster"})', legend: "{{cluster}}" },
      { title: "CPU requested / allocatable", expr: 'sum by (cluster) (kube_pod_container_resource_requests{resource="cpu",cluster=~"$cluster"}) / sum by (cluster) (kube_node_status_allocatable{resource="cpu",cluster=~"$cluster"})', unit: "percentunit", legend: "{{cluster}}" },
      { title: "Memory requested / allocatable", expr: 'sum by (cluster) (kube_pod_container_resource_requests{resource="memory",cluster=~"$cluster"}) / sum by (cluster) (kube_node_status_allocatable{resource="memory",cluster=~"$cluster"})', unit: "percentunit", legend: "{{cluster}}" },
      { title: "Pods not running", expr: 'sum by (cluster) (kube_pod_status_phase{phase!~"Running|Succeeded",cluster=~"$cluster"})', legend: "{{cluster}}" },
    ],
    ["cluster"],
  ),
  installations: dashboard(
    "installations",
    "Installations",
    [
      { title: "Requests per second", expr: 'sum by (namespace) (rate(mattermost_http_requests_total{cluster=~"$cluster"}[5m]))', unit: "reqps", legend: "{{namespace}}" },
      { title: "API latency p95", expr: 'histogram_quantile(0.95, sum by (namespace, le) (rate(mattermost_api_time_bucket{cluster=~"$cluster"}[5m])))', unit: "s", legend: "{{namespace}}" },
      { title: "Active WebSocket connections", expr: 'sum by (namespace) (mattermost_http_websockets_total{cluster=~"$cluster"})', legend: "{{namespace}}" },
      { title: "Pod restarts (1h)", expr: 'sum by (namespace) (increase(kube_pod_container_status_restarts_total{container="mattermost",cluster=~"$cluster"}[1h]))', legend: "{{namespace}}" },
    ],
    ["cluster"],
  ),
  databases: dashboard("databases", "Databases", [
    { title: "Database connections in use", expr: "sum by (namespace) (mattermost_db_master_connections_total)", legend: "{{namespace}}" },
    { title: "Query time p95", expr: "histogram_quantile(0.95, sum by (le) (rate(mattermost_db_store_time_bucket[5m])))", unit: "s" },
    { title: "Replica lag", expr: "max by (namespace) (mattermost_db_replica_lag_time)", unit: "s", legend: "{{namespace}}" },
    { title: "Search (bleve/opensearch) errors", expr: "sum(rate(mattermost_search_errors_total[5m]))" },
  ]),
  "account-quotas": dashboard("account-quotas", "Account quotas", [
    { title: "EC2 vCPU used in the region (of the quota)", expr: 'max(aws_ec2_running_on_demand_vcpus) / max(aws_service_quota{quota_code="L-1216C47A"})', unit: "percentunit", type: "stat" },
    { title: "EKS clusters", expr: "count(count by (cluster) (kube_node_info))", type: "stat" },
    { title: "Persistent volume usage", expr: "max by (cluster, persistentvolumeclaim) (kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes)", unit: "percentunit", legend: "{{cluster}}/{{persistentvolumeclaim}}" },
    { title: "Load balancers per cluster", expr: 'count by (cluster) (kube_service_spec_type{type="LoadBalancer"})', legend: "{{cluster}}" },
  ]),
};
