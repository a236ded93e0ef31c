import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { DataAwsLb } from "@cdktf/provider-aws/lib/data-aws-lb";
import { DataAwsOpensearchDomain } from "@cdktf/provider-aws/lib/data-aws-opensearch-domain";
import { DataAwsSnsTopic } from "@cdktf/provider-aws/lib/data-aws-sns-topic";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { Route53HealthCheck } from "@cdktf/provider-aws/lib/route53-health-check";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { APP_FRONTS, type Front } from "../config/apps";
import { LOAD_BALANCER_TAG, alertsForwarderFunctionName, alertsTopicName, cncClusterName, loadBalancerId, workloadClusterName } from "../config/names";
import { CNC_APPS, type CncApp, type Environment } from "../config/schema";
import { lookupPrivateZone, lookupPublicZone } from "../constructs/dns/zones";
import { PlatformKey } from "../constructs/security/kms-key";
import { PlatformStack } from "./platform-stack";

/**
 * How layer 2's load balancers are found: the controller's cluster tag plus the one lookup tag each
 * load balancer alone carries (config/names.ts LOAD_BALANCER_TAG), so every lookup matches exactly
 * one load balancer.
 */
export function loadBalancerTags(env: Environment, group: "internal" | "public" | "thanos-grpc"): Record<string, string> {
  const cluster = cncClusterName(env);
  return { "elbv2.k8s.aws/cluster": cluster, [LOAD_BALANCER_TAG]: loadBalancerId(env, cluster, group === "thanos-grpc" ? "nlb-thanos-grpc" : `alb-${group}`) };
}

/**
 * `<env>-route53` (C&C layer 3): one DNS name per C&C app in the private zone, and a public name
 * for the few apps the environment lists (each must be behind login; refused at synth
 * otherwise). Names are alias A records to the load balancers that layer 2's controller created,
 * found by their tags, so `cdktf diff` of this stack needs nothing but the deployed load
 * balancers; the OpenSearch domain has no alias target, so its names are CNAMEs with TTL 300.
 * Each public name has a Route53 health check and an alarm to the environment's alert topic.
 * It comes last in the deploy order: it also names each declared installation in the public zone,
 * pointing at its workload cluster's installations load balancer.
 */
export class Route53Stack extends PlatformStack {
  readonly urls: string[] = [];

  constructor(scope: Construct, id: string, env: Environment) {
    super(scope, id, { env });
    const privateZone = lookupPrivateZone(this, "private-zone", env);
    const installations = env.workloads.flatMap((w) => w.installations.map((inst) => ({ workload: w.name, inst })));
    const publicZone = env.dns.publicApps.length || installations.length ? lookupPublicZone(this, "public-zone", env) : undefined;
    for (const app of env.dns.publicApps) {
      const spec = APP_FRONTS[app];
      if (!spec.authenticatedAtLoadBalancer || !env.auth.enabled) {
        throw new Error(`${env.name}: "${app}" is listed in dns.publicApps but is not behind authentication (${spec.why ?? "auth is off"}); remove it from publicApps.`);
      }
    }

    const lbs = new Map<string, DataAwsLb>();
    const lb = (group: "internal" | "public" | "thanos-grpc") => {
      if (!lbs.has(group)) lbs.set(group, new DataAwsLb(this, `lb-${group}`, { tags: loadBalancerTags(env, group) }));
      return lbs.get(group)!;
    };
    let opensearch: DataAwsOpensearchDomain | undefined;
    const target = (front: Front, group: "internal" | "public") => {
      if (front === "opensearch") {
        opensearch ??= new DataAwsOpensearchDomain(this, "opensearch", { domainName: `${env.name}-logs` });
        return { cname: opensearch.endpoint };
      }
      const balancer = lb(front === "thanos-grpc-nlb" ? "thanos-grpc" : group);
      return { alias: { name: balancer.dnsName, zoneId: balancer.zoneId, evaluateTargetHealth: true } };
    };

    const record = (app: CncApp, zoneId: string, domain: string, group: "internal" | "public", zone: "internal" | "public" = group) => {
      const t = target(APP_FRONTS[app].front, group);
      const name = `${app}.${domain}`;
      new Route53Record(this, `${zone}-${app}`, {
        zoneId,
        name,
        type: t.alias ? "A" : "CNAME",
        ...(t.alias ? { alias: t.alias } : { ttl: 300, records: [t.cname!] }),
      });
      this.urls.push(`https://${name}${app === "kibana" ? "/_dashboards" : ""}`);
      return name;
    };

    // A public app's private name goes to the public load balancer too: that is where its Ingress is.
    for (const app of CNC_APPS) record(app, privateZone.zoneId, env.dns.privateDomain, env.dns.publicApps.includes(app) ? "public" : "internal", "internal");

    if (publicZone && env.dns.publicDomain) {
      // Route53 health-check metrics exist only in us-east-1, so the alarms (and their topic) live there.
      const usEast1 = env.region === "us-east-1" ? undefined : this.providerIn("us-east-1");
      const topicArn = usEast1
        ? new SnsTopic(this, "health-topic", {
            provider: usEast1,
            name: `${alertsTopicName(env)}-health`,
            // A topic's key must be in the topic's region.
            kmsMasterKeyId: new PlatformKey(this, "health-topic-key", { provider: usEast1, alias: `${alertsTopicName(env)}-health`, description: "Health-check alarm topic", servicePrincipals: ["cloudwatch.amazonaws.com"] }).arn,
          }).arn
        : new DataAwsSnsTopic(this, "alerts-topic", { name: alertsTopicName(env) }).arn;
      if (usEast1) {
        // The us-east-1 topic reaches people through the same forwarder as the main topic.
        const forwarder = `arn:aws:lambda:${env.region}:${env.accountId}:function:${alertsForwarderFunctionName(env)}`;
        const permission = new LambdaPermission(this, "health-topic-invoke", { statementId: "sns-health-alerts", action: "lambda:InvokeFunction", functionName: forwarder, principal: "sns.amazonaws.com", sourceArn: topicArn });
        new SnsTopicSubscription(this, "health-topic-subscription", { provider: usEast1, topicArn, protocol: "lambda", endpoint: forwarder, dependsOn: [permission] });
      }
      for (const app of env.dns.publicApps) {
        const fqdn = record(app, publicZone.zoneId, env.dns.publicDomain, "public");
        const check = new Route53HealthCheck(this, `health-${app}`, {
          fqdn,
          type: "HTTPS",
          port: 443,
          resourcePath: "/",
          failureThreshold: 3,
          requestInterval: 30,
          measureLatency: false,
          tags: { Name: `${env.name}-${app}` },
        });
        new CloudwatchMetricAlarm(this, `health-alarm-${app}`, {
          provider: usEast1,
          alarmName: `${env.name}-${app}-public-health`,
          alarmDescription: `https://${fqdn} fails Route53 health checks`,
          namespace: "AWS/Route53",
          metricName: "HealthCheckStatus",
          dimensions: { HealthCheckId: check.id },
          statistic: "Minimum",
          period: 60,
          evaluationPeriods: 3,
          threshold: 1,
          comparisonOperator: "LessThanThreshold",
          treatMissingData: "breaching",
          alarmActions: [topicArn],
          okActions: [topicArn],
        });
      }
    }

    // Declared installations: their cluster's installations ALB (one per workload cluster, made by
    // the controller from the Mattermost resources' Ingresses, found by its own lookup tag).
    const installationLbs = new Map<string, DataAwsLb>();
    for (const { workload, inst } of installations) {
      const cluster = workloadClusterName(env, workload);
      if (!installationLbs.has(workload)) {
        installationLbs.set(workload, new DataAwsLb(this, `lb-installations-${workload}`, { tags: { "elbv2.k8s.aws/cluster": cluster, [LOAD_BALANCER_TAG]: loadBalancerId(env, cluster, "alb-installations") } }));
      }
      const lb = installationLbs.get(workload)!;
      new Route53Record(this, `installation-${workload}-${inst.name}`, {
        zoneId: publicZone!.zoneId,
        name: inst.dns,
        type: "A",
        alias: { name: lb.dnsName, zoneId: lb.zoneId, evaluateTargetHealth: true },
      });
      this.urls.push(`https://${inst.dns}`);
    }

    new TerraformOutput(this, "urls", { value: this.urls });
  }
}
