/**
 * Alerting as code: every global rule parses with Prometheus' own grammar and carries its labels
 * and annotations; the Alertmanager tree is checked for unknown receivers, unreachable routes and
 * severities that reach nobody; the deployed values are exactly what was checked.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { alertmanagerConfig, globalRuleGroups, overdueAfterSeconds, REPLACED_DEFAULT_ALERTS, renderRuleFile, type AlertRule } from "../../constructs/monitoring/alerting";
import { aggregationGroupings, alertmanagerProblems, promqlErrors, receiversFor, ruleProblems } from "../../scripts/verify/alert-checks";
import { resourcesOf, synthShipped } from "../support/synth";

const groups = globalRuleGroups({ cncCluster: "prod-cnc", storeDiscoveryCronJob: "thanos-store-discovery", provisionerNamespace: "provisioner", opensearchSnapshots: { cronJob: "opensearch-snapshots", schedule: "30 2 * * *" } });
const rules = groups.flatMap((g) => g.rules);
const valuesOf = (stack: any, name: string): any => load(resourcesOf(stack, "helm_release").find((r) => r.name === name).values[0]);
const rule = (over: Partial<AlertRule>): AlertRule => ({ ...rules[0], ...over });

describe("the global alert rules", () => {
  it.each(rules.map((r) => [r.alert, r] as const))("%s parses, keeps its scope's labels and is documented", (_name, r) => {
    expect(ruleProblems(r, "https://github.com/example/cnc-platform/blob/main/docs/runbooks.md")).toEqual([]);
  });

  it("cover cluster, installation and platform health, each alert once, every severity used", () => {
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(rules.map((r) => r.scope))).toEqual(new Set(["cluster", "installation", "platform"]));
    expect(new Set(rules.map((r) => r.severity))).toEqual(new Set(["critical", "warning", "{{ $labels.severity }}"]));
    for (const expected of ["ClusterNodeNotReady", "ClusterPodCrashLooping", "ClusterVolumeFillingUp", "ClusterNodeCPUHigh", "ClusterNodeMemoryHigh", "InstallationDown", "InstallationServerErrors", "InstallationDatabaseConnectionsHigh", "ThanosComponentDown", "StoreDiscoveryNotReporting", "OpenSearchSnapshotsNotSucceeding"]) {
      expect(names).toContain(expected);
    }
  });

  it("each have a runbook section in docs/runbooks.md, where their runbook_url points", () => {
    const runbooks = readFileSync(join(__dirname, "..", "..", "docs", "runbooks.md"), "utf8");
    const doc = load(renderRuleFile(groups, "https://example.com/runbooks.md")) as any;
    for (const r of doc.groups.flatMap((g: any) => g.rules)) {
      expect(r.labels.severity).toBeTruthy();
      expect(Object.keys(r.annotations).sort()).toEqual(["description", "runbook_url", "summary"]);
      expect(r.annotations.runbook_url).toBe(`https://example.com/runbooks.md#${r.alert.toLowerCase()}`);
      expect(runbooks).toContain(`\n### ${r.alert}\n`);
    }
  });

  it("are refused when they do not parse, drop the cluster or installation label, or lack text", () => {
    expect(promqlErrors("sum by (cluster (rate(x[5m]))")).not.toEqual([]);
    expect(promqlErrors("rate(x[5m]) >")).not.toEqual([]);
    expect(aggregationGroupings("sum by (cluster) (count without (pod) (x))")).toEqual([
      { op: "sum", by: ["cluster"] },
      { op: "count", without: ["pod"] },
    ]);
    expect(ruleProblems(rule({ expr: "sum(rate(x[5m])) > 1" }))).toEqual(["sum by () drops cluster"]);
    expect(ruleProblems(rule({ expr: "avg without (cluster) (x) > 1" }))).toEqual(["avg without (...) drops cluster"]);
    expect(ruleProblems(rule({ scope: "installation", expr: "max by (cluster) (probe_success) == 0" }))).toEqual(["max by (cluster) drops installation"]);
    expect(ruleProblems(rule({ expr: "up == ", summary: " " }))).toEqual(expect.arrayContaining([expect.stringMatching(/^expr: syntax error/), "no summary"]));
    expect(ruleProblems(rule({ severity: "page" as never }))).toEqual(["severity page is not critical, warning or info"]);
  });

  it("replace the kube-prometheus-stack alerts they cover, in every cluster, so nothing fires twice", () => {
    const s = synthShipped("prod").json;
    for (const [stack, release] of [["prod-post-install", "kps"], ["prod-workload-alpha-apps", "kps"]]) {
      const disabled = valuesOf(s[stack], release).defaultRules.disabled;
      expect(Object.keys(disabled).sort()).toEqual([...REPLACED_DEFAULT_ALERTS].sort());
    }
  });

  it("re-raise only workload clusters' own alerts, never the ruler's (which carry a scope label), so nothing latches", () => {
    const reraise = rules.find((r) => r.alert === "ClusterAlertFiring")!;
    expect(reraise.expr).toMatch(/ALERTS\{[^}]*scope=""[^}]*cluster!="prod-cnc"/);
    expect(rules.filter((r) => r.alert !== "ClusterAlertFiring").every((r) => r.scope)).toBe(true);
  });

  it("never see the C&C's federated copies of workload series: those are renamed federate:<name>", () => {
    const kps = valuesOf(synthShipped("prod").json["prod-post-install"], "kps");
    const federate = kps.prometheus.prometheusSpec.additionalScrapeConfigs.find((j: any) => j.job_name === "federate-workload-clusters");
    expect(federate.metric_relabel_configs).toEqual([
      { source_labels: ["cluster"], target_label: "federated_cluster" },
      { regex: "cluster", action: "labeldrop" },
      { source_labels: ["__name__"], regex: "(.+)", target_label: "__name__", replacement: "federate:$1" },
    ]);
    for (const r of rules) expect(r.expr).not.toMatch(/federate:/);
  });

  it("watch the log snapshots' last success against their schedule, only where snapshots are on", () => {
    expect(rules.find((r) => r.alert === "OpenSearchSnapshotsNotSucceeding")!.expr).toBe('time() - max by (cluster) (kube_cronjob_status_last_successful_time{cronjob="opensearch-snapshots"}) > 93600');
    expect([overdueAfterSeconds("30 2 * * *"), overdueAfterSeconds("0 */6 * * *"), overdueAfterSeconds("15 4 * * 0"), overdueAfterSeconds("0 3 1 * *")]).toEqual([93600, 93600, 8 * 86400, 32 * 86400]);
    const off = globalRuleGroups({ cncCluster: "prod-cnc", storeDiscoveryCronJob: "thanos-store-discovery", provisionerNamespace: "provisioner" });
    expect(off.flatMap((g) => g.rules).some((r) => r.alert === "OpenSearchSnapshotsNotSucceeding")).toBe(false);
  });

  it("are what the Thanos ruler loads, with runbook links into the repository", () => {
    const thanos = valuesOf(synthShipped("prod").json["prod-post-install"], "thanos");
    const loaded = load(thanos.rule.rules.value) as any;
    expect(loaded.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert))).toEqual(rules.map((r) => r.alert));
    expect(loaded.groups[0].rules[0].annotations.runbook_url).toBe("https://github.com/example/cnc-platform/blob/main/docs/runbooks.md#clusternodenotready");
  });
});

describe("Alertmanager routing", () => {
  const webhookFile = "/etc/alertmanager/secrets/w/url";

  it("sends every severity to a person, critical to the pager as well when there is one, Watchdog nowhere", () => {
    const plain = alertmanagerConfig({ webhookFile });
    expect(alertmanagerProblems(plain)).toEqual([]);
    expect(receiversFor(plain.route, { severity: "critical" })).toEqual(["mattermost-critical"]);
    expect(receiversFor(plain.route, { severity: "warning" })).toEqual(["mattermost"]);
    expect(receiversFor(plain.route, { severity: "info" })).toEqual(["mattermost"]);
    expect(receiversFor(plain.route, {})).toEqual(["mattermost"]);
    expect(receiversFor(plain.route, { alertname: "Watchdog", severity: "none" })).toEqual(["null"]);

    const paged = alertmanagerConfig({ webhookFile, pager: { service: "pagerduty", keyFile: "/k" } });
    expect(alertmanagerProblems(paged)).toEqual([]);
    expect(receiversFor(paged.route, { severity: "critical" })).toEqual(["pager", "mattermost-critical"]);
    expect(receiversFor(paged.route, { severity: "warning" })).toEqual(["mattermost"]);
    expect(paged.receivers.find((r) => r.name === "pager")).toEqual(expect.objectContaining({ pagerduty_configs: [expect.objectContaining({ routing_key_file: "/k" })] }));
    const opsgenie = alertmanagerConfig({ webhookFile, pager: { service: "opsgenie", keyFile: "/k" } });
    expect(opsgenie.receivers.find((r) => r.name === "pager")).toEqual(expect.objectContaining({ opsgenie_configs: [expect.objectContaining({ api_key_file: "/k" })] }));
  });

  it("is refused with an unknown receiver, an unreachable route, or a severity that reaches nobody", () => {
    const good = alertmanagerConfig({ webhookFile });
    expect(alertmanagerProblems({ ...good, route: { ...good.route, routes: [...good.route.routes!, { receiver: "nobody-here", matchers: ['team = "x"'] }] } })).toEqual([
      `route.routes[${good.route.routes!.length}]: unknown receiver "nobody-here"`,
    ]);
    expect(alertmanagerProblems({ ...good, route: { ...good.route, routes: [{ receiver: "mattermost" }, ...good.route.routes!] } })).toEqual(
      expect.arrayContaining(["route.routes[1]: unreachable (an earlier sibling takes every alert it would match)"]),
    );
    expect(alertmanagerProblems({ ...good, route: { ...good.route, receiver: "null", routes: [{ receiver: "null", matchers: ['severity = "critical"'] }] } })).toEqual([
      "an alert of severity critical reaches nobody (receivers: null)",
      "an alert of severity warning reaches nobody (receivers: null)",
      "an alert of severity info reaches nobody (receivers: null)",
    ]);
  });

  it("is exactly what the C&C's Alertmanager gets, with the webhook (and a pager key, when configured) mounted from Secrets", () => {
    const am = valuesOf(synthShipped("prod").json["prod-post-install"], "kps").alertmanager;
    expect(am.config).toEqual(alertmanagerConfig({ webhookFile: "/etc/alertmanager/secrets/alertmanager-mattermost-webhook/url", pager: { service: "pagerduty", keyFile: "/etc/alertmanager/secrets/alertmanager-pager-key/key" } }));
    expect(alertmanagerProblems(am.config)).toEqual([]);
    expect(am.alertmanagerSpec.secrets).toEqual(["alertmanager-mattermost-webhook", "alertmanager-pager-key"]);
  });
});
