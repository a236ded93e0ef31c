import { CNC_APPS } from "../../config/schema";
import { checkDeployOrder } from "../../scripts/verify/deploy-order";
import { environment, resourcesOf, synthEnvironment, rejection, synthShipped } from "../support/synth";

describe("the route53 stack (prod)", () => {
  let stack: any;
  beforeAll(() => {
    stack = synthShipped("prod").json["prod-route53"];
  });
  const records = () => resourcesOf(stack, "aws_route53_record");
  const lbAddress = (group: string) => {
    const purpose = group === "thanos-grpc" ? "nlb-thanos-grpc" : `alb-${group}`;
    const [name] = Object.entries(stack.data.aws_lb).find(([, lb]: any) => lb.tags["platform/load-balancer"] === `prod/prod-cnc/${purpose}`)!;
    return `data.aws_lb.${name}`;
  };

  it("names every app exactly once in the private zone", () => {
    const priv = records().filter((r) => r.name.endsWith(".internal.cloud.example.com"));
    expect(priv.map((r) => r.name).sort()).toEqual(CNC_APPS.map((a) => `${a}.internal.cloud.example.com`).sort());
    expect(new Set(priv.map((r) => r.name)).size).toBe(priv.length);
    expect(priv.every((r) => r.zone_id.includes("data.aws_route53_zone"))).toBe(true);
  });

  it("aliases each app to the right load balancer group, and uses a 300 s CNAME only where no alias exists", () => {
    const byName = (n: string) => records().find((r) => r.name === n);
    for (const app of ["prometheus", "alertmanager", "thanos", "dashboard", "provisioner", "kibana"]) {
      const r = byName(`${app}.internal.cloud.example.com`);
      expect(r.type).toBe("A");
      expect(r.alias.name).toBe(`\${${lbAddress("internal")}.dns_name}`);
      expect(r.alias.zone_id).toBe(`\${${lbAddress("internal")}.zone_id}`);
      expect(r.ttl).toBeUndefined();
    }
    expect(byName("thanos-grpc.internal.cloud.example.com").alias.name).toBe(`\${${lbAddress("thanos-grpc")}.dns_name}`);
    expect(byName("opensearch.internal.cloud.example.com")).toMatchObject({ type: "CNAME", ttl: 300 });
    const pub = byName("grafana.cloud.example.com");
    expect(pub.alias.name).toBe(`\${${lbAddress("public")}.dns_name}`);
    // A public app's Ingress lives on the public load balancer only, so its private name goes there too.
    expect(byName("grafana.internal.cloud.example.com").alias.name).toBe(`\${${lbAddress("public")}.dns_name}`);
  });

  it("finds the load balancers by the tags layer 2 gives them", () => {
    expect(Object.values(stack.data.aws_lb).map((lb: any) => lb.tags)).toEqual(
      expect.arrayContaining([
        { "elbv2.k8s.aws/cluster": "prod-cnc", "platform/load-balancer": "prod/prod-cnc/alb-internal" },
        { "elbv2.k8s.aws/cluster": "prod-cnc", "platform/load-balancer": "prod/prod-cnc/alb-public" },
        { "elbv2.k8s.aws/cluster": "prod-cnc", "platform/load-balancer": "prod/prod-cnc/nlb-thanos-grpc" },
      ]),
    );
  });

  it("uses lookup tags that layer 2 puts on exactly one load balancer each", () => {
    const post = synthShipped("prod").json["prod-post-install"];
    const grpc = Object.values(post.resource.kubernetes_service_v1).find((s: any) => s.metadata.name === "thanos-query-grpc") as any;
    expect(grpc.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"]).toBe("platform/load-balancer=prod/prod-cnc/nlb-thanos-grpc");
    // The ALB groups' tag is not on the NLB, so the internal lookup cannot also find it.
    expect(JSON.stringify(post)).toContain("platform/load-balancer=prod/prod-cnc/alb-internal");
    expect(grpc.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"]).not.toContain("alb-internal");
  });

  it("publishes only the listed apps, each with a health check and an alarm to the alert topic", () => {
    const pub = records().filter((r) => r.name.endsWith(".cloud.example.com") && !r.name.includes(".internal."));
    expect(pub.map((r) => r.name)).toEqual(["grafana.cloud.example.com"]);
    const [check] = resourcesOf(stack, "aws_route53_health_check");
    expect(check).toMatchObject({ fqdn: "grafana.cloud.example.com", type: "HTTPS", port: 443 });
    const [alarm] = resourcesOf(stack, "aws_cloudwatch_metric_alarm");
    expect(alarm).toMatchObject({ namespace: "AWS/Route53", metric_name: "HealthCheckStatus", comparison_operator: "LessThanThreshold" });
    expect(alarm.alarm_actions[0]).toMatch(/^\$\{data\.aws_sns_topic\./);
  });

  it("outputs every URL", () => {
    expect(stack.output.urls.value).toContain("https://grafana.cloud.example.com");
    expect(stack.output.urls.value).toContain("https://kibana.internal.cloud.example.com/_dashboards");
    expect(stack.output.urls.value).toHaveLength(CNC_APPS.length + 1);
  });
});

describe("public names need authentication", () => {
  const reject = rejection;
  it("refuses a public name for an app without login, naming the app", () => {
    expect(reject((e) => (e.dns.publicApps = ["grafana", "thanos-grpc"]))).toMatch(/dns\.publicApps\[1\]: "thanos-grpc" cannot have a public name: gRPC on a network load balancer has no login/);
    expect(reject((e) => (e.dns.publicApps = ["provisioner"]))).toMatch(/"provisioner" cannot have a public name/);
  });
  it("refuses any public name when authentication is off", () => {
    expect(reject((e) => (e.auth = { enabled: false }))).toMatch(/dns\.publicApps: lists grafana as public while auth\.enabled is false/);
  });
  it("allows none at all, with auth off", () => {
    // The provisioner's API keeps its own token check when the UI login is off.
    const apiAuth = (e: any) => ({ ...e.provisioner.apiAuth, issuer: "https://idp.example.com", tokenEndpoint: "https://idp.example.com/oauth2/token" });
    const s = synthEnvironment(
      environment("prod", (e: any) => Object.assign(e, { auth: { enabled: false }, dns: { ...e.dns, publicApps: [] }, provisioner: { ...e.provisioner, apiAuth: apiAuth(e) } })),
    ).json["prod-route53"];
    expect(resourcesOf(s, "aws_route53_health_check")).toHaveLength(0);
    expect(resourcesOf(s, "aws_route53_record")).toHaveLength(CNC_APPS.length);
  });
});

describe("declared installations", () => {
  const withAcme = (dns = "acme.cloud.example.com") =>
    environment("prod", (e: any) => (e.workloads[0].installations = [{ name: "acme", dns, size: "1000users", version: "10.11.2" }]));

  it("get a public name aliased to their cluster's installations load balancer, found by its own tag", () => {
    const { json } = synthEnvironment(withAcme());
    const stack = json["prod-route53"];
    const rec = resourcesOf(stack, "aws_route53_record").find((r) => r.name === "acme.cloud.example.com");
    expect(rec.zone_id).toMatch(/data\.aws_route53_zone\.public-zone/);
    expect(rec.alias.name).toMatch(/^\$\{data\.aws_lb\.lb-installations-alpha\.dns_name\}$/);
    expect(stack.data.aws_lb["lb-installations-alpha"].tags).toEqual({ "elbv2.k8s.aws/cluster": "prod-alpha", "platform/load-balancer": "prod/prod-alpha/alb-installations" });
    // That lookup matches exactly one load balancer: the one the Mattermost resource's Ingress makes.
    expect(checkDeployOrder(Object.entries(json).map(([name, j]) => ({ name, json: j })))).toEqual([]);
  });

  it("must be one label under the public domain, which the public wildcard certificate covers", () => {
    expect(rejection((e) => (e.workloads[0].installations = [{ name: "acme", dns: "acme.example.org", size: "1000users", version: "10.11.2" }]))).toMatch(
      /workloads\[0\]\.installations\[0\]\.dns: must be one label under the public domain, such as acme\.cloud\.example\.com/,
    );
    expect(rejection((e) => (e.workloads[0].installations = [{ name: "acme", dns: "a.b.cloud.example.com", size: "1000users", version: "10.11.2" }]))).toMatch(/must be one label under the public domain/);
  });
});
