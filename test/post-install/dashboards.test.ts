/**
 * Dashboards and uptime probes: every PromQL query parses with Prometheus' own grammar (after
 * Grafana's variable substitution), AWS panels are well-formed CloudWatch queries, the quota panel
 * reads a real source (CloudWatch usage metrics against SERVICE_QUOTA), and the probe job, the
 * exporter and the uptime alert agree with each other.
 */
import { load } from "js-yaml";
import { PROBE_JOB } from "../../constructs/monitoring/alerting";
import { dashboardPanels, isCloudWatch } from "../../constructs/monitoring/dashboards";
import { BLACKBOX_CONFIG, PROBE_MODULE } from "../../constructs/monitoring/uptime";
import { promqlErrors } from "../../scripts/verify/alert-checks";
import { resourcesOf, synthShipped } from "../support/synth";

/** What Grafana does before it sends a query: variables become values. */
const substituted = (expr: string) => expr.replace(/\$__(rate_)?interval/g, "5m").replace(/\$\w+/g, "x");
const all = Object.entries(dashboardPanels()).flatMap(([uid, d]) => d.panels.map((p) => [uid, p] as const));

describe("the Grafana dashboards", () => {
  it("reach parity with upstream's ten (account, clusters, installations, alerting, uptime, RDS, Go runtime, two performance views) and more", () => {
    expect(Object.keys(dashboardPanels()).sort()).toEqual(
      ["account-overview", "account-quotas", "alerting", "clusters", "go-runtime", "installations", "performance-api", "performance-database", "rds", "thanos", "uptime"].sort(),
    );
  });

  it.each(all.filter(([, p]) => !isCloudWatch(p)).map(([uid, p]) => [`${uid}: ${p.title}`, p] as const))("%s parses", (_name, p) => {
    expect(promqlErrors(substituted((p as { expr: string }).expr))).toEqual([]);
  });

  it("catches a query that does not parse", () => {
    expect(promqlErrors(substituted('sum by (cluster (rate(x{cluster=~"$cluster"}[5m]))'))).not.toEqual([]);
  });

  it("read AWS metrics through CloudWatch, the quota panels as usage over SERVICE_QUOTA", () => {
    const aws = all.filter(([, p]) => isCloudWatch(p)).map(([uid, p]) => [uid, p] as const);
    expect(new Set(aws.map(([uid]) => uid))).toEqual(new Set(["rds", "account-quotas"]));
    for (const [, p] of aws) {
      if (!isCloudWatch(p)) continue;
      expect(p.cloudwatch.namespace).toMatch(/^AWS\//);
      expect(p.cloudwatch.metricName).toMatch(/^[A-Za-z]+$/);
      if (p.cloudwatch.expression) expect(p.cloudwatch.expression).toMatch(/\bm1\b/);
    }
    const vcpu = all.find(([uid, p]) => uid === "account-quotas" && isCloudWatch(p) && p.cloudwatch.dimensions.Resource === "vCPU")![1];
    expect(isCloudWatch(vcpu) && vcpu.cloudwatch).toMatchObject({ namespace: "AWS/Usage", metricName: "ResourceCount", expression: "m1 / SERVICE_QUOTA(m1) * 100" });
  });

  it("are loaded from ConfigMaps, with a CloudWatch datasource that authenticates through Grafana's IRSA role", () => {
    const stack = synthShipped("prod").json["prod-post-install"];
    const maps = resourcesOf(stack, "kubernetes_config_map_v1").filter((m) => m.metadata.labels?.grafana_dashboard === "1");
    expect(maps).toHaveLength(Object.keys(dashboardPanels()).length);
    const quotas = JSON.parse(maps.find((m) => m.metadata.name === "dashboard-account-quotas").data["account-quotas.json"]);
    expect(quotas.panels[0].targets.map((t: any) => [t.refId, t.datasource.uid, t.region])).toEqual([["A", "cloudwatch", "us-east-1"], ["B", "cloudwatch", "us-east-1"]]);
    const values = load(resourcesOf(stack, "helm_release").find((r) => r.name === "grafana").values[0]) as any;
    expect(values.datasources["datasources.yaml"].datasources.find((d: any) => d.uid === "cloudwatch")).toEqual({ name: "CloudWatch", uid: "cloudwatch", type: "cloudwatch", access: "proxy", jsonData: { authType: "default", defaultRegion: "us-east-1" } });
    expect(values.serviceAccount.annotations["eks.amazonaws.com/role-arn"]).toMatch(/^\$\{aws_iam_role\.grafana_role_[0-9A-F]+\.arn\}$/);
    const policy = JSON.parse(resourcesOf(stack, "aws_iam_role_policy").find((p) => String(p.role).includes("grafana")).policy);
    const actions = policy.Statement.flatMap((s: any) => s.Action);
    expect(actions).toContain("cloudwatch:GetMetricData");
    expect(actions.every((a: string) => /^(cloudwatch|ec2|tag|servicequotas):(Get|List|Describe)/.test(a))).toBe(true);
  });
});

describe("installation uptime probes", () => {
  it("are scraped through the blackbox exporter from the Lambda's probe document, with the module the exporter defines", () => {
    const stack = synthShipped("prod").json["prod-post-install"];
    const kps = load(resourcesOf(stack, "helm_release").find((r) => r.name === "kps").values[0]) as any;
    const job = kps.prometheus.prometheusSpec.additionalScrapeConfigs.find((j: any) => j.job_name === PROBE_JOB);
    expect(job).toMatchObject({ metrics_path: "/probe", params: { module: [PROBE_MODULE] }, file_sd_configs: [{ files: ["/etc/prometheus/configmaps/prometheus-federation-targets/installation-probes.json"] }] });
    expect(job.relabel_configs).toEqual([
      { source_labels: ["__address__"], target_label: "__param_target" },
      { source_labels: ["__param_target"], target_label: "instance" },
      { target_label: "__address__", replacement: "blackbox-exporter.monitoring.svc:9115" },
    ]);
    expect(Object.keys(BLACKBOX_CONFIG.modules)).toEqual([PROBE_MODULE]);
    const config = resourcesOf(stack, "kubernetes_config_map_v1").find((m) => m.metadata.name === "blackbox-exporter");
    expect(load(config.data["blackbox.yml"])).toEqual(BLACKBOX_CONFIG);
    expect(BLACKBOX_CONFIG.modules[PROBE_MODULE].http).toMatchObject({ valid_status_codes: [200], fail_if_not_ssl: true });
    // The ConfigMap exists with both documents before the Lambda first writes.
    const targets = resourcesOf(stack, "kubernetes_config_map_v1").find((m) => m.metadata.name === "prometheus-federation-targets");
    expect(Object.keys(targets.data).sort()).toEqual(["federation-targets.json", "installation-probes.json"]);
    const exporter = resourcesOf(stack, "kubernetes_deployment_v1").find((d) => d.metadata.name === "blackbox-exporter");
    expect(exporter.spec.template.spec.container[0].image).toBe("quay.io/prometheus/blackbox-exporter:v0.28.0");
  });
});
