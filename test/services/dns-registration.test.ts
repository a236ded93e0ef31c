import { Route53Client } from "@aws-sdk/client-route-53";
import { CreateSecretCommand, DeleteSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { readConfig } from "../../lambdas/dns-registration/config";
import { handler, resetForTests, webhookFromSecret } from "../../lambdas/dns-registration/index";
import { probeTargetsFromRecords, renderFileSd, targetsFromRecords } from "../../lambdas/dns-registration/targets";
import { eksToken } from "../../lambdas/dns-registration/token";
import { KubeApiStandIn, WebhookReceiver } from "../support/kube-api";
import { clientOptions, startMoto, type Moto } from "../support/moto";
import { a, aaaa, alias, cname, createZone, txt, upsert } from "../support/zone";

const DOMAIN = "internal.lambda.example.com";
let moto: Moto;
let route53: Route53Client;
let secrets: SecretsManagerClient;
let kube: KubeApiStandIn;
let hook: WebhookReceiver;
const savedEnv = { ...process.env };
/** What the handler logged in the current test (a sink, so the run prints no service log lines). */
const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];

beforeAll(async () => {
  [moto, kube, hook] = await Promise.all([startMoto(), new KubeApiStandIn().start(), new WebhookReceiver().start()]);
  route53 = new Route53Client(clientOptions(moto));
  secrets = new SecretsManagerClient(clientOptions(moto));
  await secrets.send(new CreateSecretCommand({ Name: "test/alerts-webhook", SecretString: JSON.stringify({ url: hook.url }) }));
});
afterAll(async () => {
  process.env = savedEnv;
  await Promise.all([moto?.stop(), kube?.stop(), hook?.stop()]);
});

let zoneCounter = 0;
async function setup(records: (d: string) => any[], extraEnv: Record<string, string> = {}): Promise<string> {
  const domain = `z${++zoneCounter}.${DOMAIN}`;
  const zone = await createZone(route53, domain);
  const recs = records(domain);
  if (recs.length) await upsert(route53, zone, recs);
  logs.length = 0;
  resetForTests({ log: (level, message, fields) => logs.push({ level, message, fields }) });
  kube.reset();
  hook.posts.length = 0;
  hook.status = 200;
  process.env = {
    ...savedEnv,
    ...moto.env,
    PRIVATE_HOSTED_ZONE_ID: zone,
    PRIVATE_DOMAIN: domain,
    CLUSTER_NAME: "test-cnc",
    CLUSTER_ENDPOINT: kube.url,
    K8S_SKIP_TLS_VERIFY: "true",
    ALERTS_SECRET_ID: "test/alerts-webhook",
    ENVIRONMENT_NAME: "test",
    ...extraEnv,
  };
  return domain;
}

const targetsDoc = () => (kube.get("configmaps", "monitoring", "prometheus-federation-targets") as any)?.data?.["federation-targets.json"];

describe("records -> file-SD targets", () => {
  it("keeps A/AAAA/CNAME records named <one label>.prometheus.<domain>, one group per cluster, sorted", () => {
    const suffix = ".prometheus.internal.example.com";
    const groups = targetsFromRecords(
      [
        a("beta.prometheus.internal.example.com."),
        aaaa("beta.prometheus.internal.example.com."),
        cname("Alpha.Prometheus.internal.example.com.", "lb"),
        alias("gamma.prometheus.internal.example.com.", "internal-nlb.elb.amazonaws.com"),
        txt("delta.prometheus.internal.example.com."),
        a("x.epsilon.prometheus.internal.example.com."), // two labels before the suffix
        a("prometheus.internal.example.com."),
        a("zeta.prometheus.other.example.com."),
      ],
      suffix,
      9090,
    );
    expect(renderFileSd(groups)).toBe(
      `${JSON.stringify(
        [
          { targets: ["alpha.prometheus.internal.example.com:9090"], labels: { clusterID: "alpha" } },
          { targets: ["beta.prometheus.internal.example.com:9090"], labels: { clusterID: "beta" } },
          { targets: ["gamma.prometheus.internal.example.com:9090"], labels: { clusterID: "gamma" } },
        ],
        null,
        2,
      )}\n`,
    );
  });

  it("turns installation records of the public zone into probe targets on /api/v4/system/ping, skipping the platform's apps", () => {
    const groups = probeTargetsFromRecords(
      [
        cname("acme.cloud.example.com.", "lb-1.elb.amazonaws.com"),
        alias("Globex.cloud.example.com.", "lb-2.elb.amazonaws.com"),
        a("grafana.cloud.example.com."), // a platform app, not an installation
        cname("_0123abcd.acme.cloud.example.com.", "_x.acm-validations.aws."), // certificate validation
        txt("initech.cloud.example.com."),
        a("cloud.example.com."),
        a("acme.other.example.com."),
      ],
      "cloud.example.com",
      new Set(["grafana", "prometheus"]),
    );
    expect(groups).toEqual([
      { targets: ["https://acme.cloud.example.com/api/v4/system/ping"], labels: { installation: "acme" } },
      { targets: ["https://globex.cloud.example.com/api/v4/system/ping"], labels: { installation: "globex" } },
    ]);
  });

  it("reads the webhook from a plain or JSON secret", () => {
    expect(webhookFromSecret("https://chat/hooks/a")).toBe("https://chat/hooks/a");
    expect(webhookFromSecret('{"url":"https://chat/hooks/b"}')).toBe("https://chat/hooks/b");
  });

  it("names a missing or malformed variable", () => {
    expect(() => readConfig({ PRIVATE_HOSTED_ZONE_ID: "Z1" })).toThrow(/PRIVATE_DOMAIN is not set/);
    expect(() => readConfig({ PRIVATE_HOSTED_ZONE_ID: "Z1", PRIVATE_DOMAIN: "x.com", CLUSTER_NAME: "c", CLUSTER_ENDPOINT: "ftp://x" })).toThrow(/CLUSTER_ENDPOINT="ftp:\/\/x" is malformed/);
  });
});

describe("the EKS token", () => {
  it("is k8s-aws-v1. + base64url of a presigned STS GetCallerIdentity URL bound to the cluster", async () => {
    const token = await eksToken({ clusterName: "prod-cnc", region: "eu-west-1", credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }, now: new Date("2026-01-01T00:00:00Z") });
    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/); // base64url, no padding
    const url = new URL(Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString());
    expect(url.origin).toBe("https://sts.eu-west-1.amazonaws.com");
    expect(url.searchParams.get("Action")).toBe("GetCallerIdentity");
    expect(url.searchParams.get("Version")).toBe("2011-06-15");
    expect(url.searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    expect(url.searchParams.get("X-Amz-Expires")).toBe("60");
    expect(url.searchParams.get("X-Amz-Date")).toBe("20260101T000000Z");
    expect(url.searchParams.get("X-Amz-Credential")).toBe("AKIDEXAMPLE/20260101/eu-west-1/sts/aws4_request");
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host;x-k8s-aws-id");
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("the handler against moto and the Kubernetes API stand-in", () => {
  it("lists every page, writes the exact document, and sends the bearer token", async () => {
    const domain = await setup((d) => [
      ...Array.from({ length: 700 }, (_, i) => a(`node-${i}.${d}`)),
      a(`beta.prometheus.${d}`),
      cname(`alpha.prometheus.${d}`, "internal-nlb.example"),
      txt(`alpha.prometheus.${d}`),
    ]);
    const result = await handler({ source: "aws.events", "detail-type": "Scheduled Event" });
    expect(result).toEqual({ clusters: 2, action: "created" });
    expect(logs.find((l) => l.message === "listed the private zone")?.fields).toMatchObject({ records: 705, pages: 3, clusters: 2 });
    expect(targetsDoc()).toBe(
      `${JSON.stringify(
        [
          { targets: [`alpha.prometheus.${domain}:9090`], labels: { clusterID: "alpha" } },
          { targets: [`beta.prometheus.${domain}:9090`], labels: { clusterID: "beta" } },
        ],
        null,
        2,
      )}\n`,
    );
    const auth = kube.requests[0].authorization!;
    expect(auth).toMatch(/^Bearer k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    expect(Buffer.from(auth.slice("Bearer k8s-aws-v1.".length), "base64url").toString()).toMatch(/^https:\/\/sts\.us-east-1\.amazonaws\.com\/\?Action=GetCallerIdentity/);
  });

  it("writes nothing when nothing changed, and keeps other keys and labels on update", async () => {
    const domain = await setup((d) => [a(`alpha.prometheus.${d}`)]);
    await handler({});
    const cm = kube.get("configmaps", "monitoring", "prometheus-federation-targets") as any;
    kube.put("configmaps", { ...cm, metadata: { ...cm.metadata, labels: { app: "prometheus" }, annotations: { a: "b" } }, data: { ...cm.data, "rules.yml": "groups: []\n" } });
    kube.requests.length = 0;
    expect(await handler({})).toEqual({ clusters: 1, action: "unchanged" });
    expect(kube.writes()).toHaveLength(0);
    expect(kube.requests).toHaveLength(1);

    await upsert(route53, process.env.PRIVATE_HOSTED_ZONE_ID!, [a(`beta.prometheus.${domain}`)]);
    expect(await handler({})).toEqual({ clusters: 2, action: "updated" });
    const after = kube.get("configmaps", "monitoring", "prometheus-federation-targets") as any;
    expect(after.metadata.labels).toMatchObject({ app: "prometheus" });
    expect(after.metadata.annotations).toEqual({ a: "b" });
    expect(after.data["rules.yml"]).toBe("groups: []\n");
  });

  it("retries a conflict", async () => {
    await setup((d) => [a(`alpha.prometheus.${d}`)]);
    kube.put("configmaps", { metadata: { name: "prometheus-federation-targets", namespace: "monitoring" }, data: { "federation-targets.json": "[]" } } as any);
    kube.conflictsToInject = 1;
    expect(await handler({})).toEqual({ clusters: 1, action: "updated" });
    expect(JSON.parse(targetsDoc())).toHaveLength(1);
  });

  it("refuses to drop most targets, alerts through the webhook read from Secrets Manager, and fails the invocation", async () => {
    await setup(() => []);
    const existing = renderFileSd(["a", "b", "c"].map((c) => ({ targets: [`${c}.prometheus.x:9090`], labels: { clusterID: c } })));
    kube.put("configmaps", { metadata: { name: "prometheus-federation-targets", namespace: "monitoring" }, data: { "federation-targets.json": existing } } as any);
    await expect(handler({})).rejects.toThrow(/removing 3 in one run is refused/);
    expect(targetsDoc()).toBe(existing);
    expect(hook.posts).toHaveLength(1);
    expect(hook.posts[0]).toMatchObject({ username: "Prometheus DNS Registration" });
    expect(hook.posts[0].attachments[0].title).toBe("DNS registration refused to remove most Prometheus targets");
    expect(logs.filter((l) => l.level === "error")).toEqual([
      expect.objectContaining({ message: "DNS registration refused to remove most Prometheus targets", fields: expect.objectContaining({ trigger: "direct" }) }),
    ]);

    process.env.ALLOW_MASS_REMOVAL = "true";
    expect(await handler({})).toEqual({ clusters: 0, action: "updated" });
  });

  it("writes nothing when listing fails, and reuses the cached webhook on a warm container", async () => {
    await setup(() => [], { PRIVATE_HOSTED_ZONE_ID: "ZNOSUCHZONE" });
    await expect(handler({})).rejects.toThrow();
    expect(kube.requests).toHaveLength(0);
    expect(hook.posts).toHaveLength(1);
    // The secret disappears; the warm container still knows where to alert.
    await secrets.send(new DeleteSecretCommand({ SecretId: "test/alerts-webhook", ForceDeleteWithoutRecovery: true }));
    await expect(handler({})).rejects.toThrow();
    expect(hook.posts).toHaveLength(2);
    await secrets.send(new CreateSecretCommand({ Name: "test/alerts-webhook", SecretString: hook.url }));
  });

  it("writes the installation probe targets as a second document of the same ConfigMap, guarded like the first", async () => {
    const publicDomain = `pub${++zoneCounter}.cloud.example.com`;
    const publicZone = await createZone(route53, publicDomain);
    await upsert(route53, publicZone, [cname(`acme.${publicDomain}`, "lb-1.example"), cname(`globex.${publicDomain}`, "lb-2.example"), a(`grafana.${publicDomain}`)]);
    const probesEnv = { PUBLIC_HOSTED_ZONE_ID: publicZone, PUBLIC_DOMAIN: publicDomain, EXCLUDED_NAMES: "grafana,prometheus", PROBES_KEY: "installation-probes.json" };
    await setup((d) => [a(`alpha.prometheus.${d}`)], probesEnv);
    expect(await handler({})).toEqual({ clusters: 1, installations: 2, action: "created,updated" });
    const probes = () => (kube.get("configmaps", "monitoring", "prometheus-federation-targets") as any).data["installation-probes.json"];
    expect(JSON.parse(probes())).toEqual([
      { targets: [`https://acme.${publicDomain}/api/v4/system/ping`], labels: { installation: "acme" } },
      { targets: [`https://globex.${publicDomain}/api/v4/system/ping`], labels: { installation: "globex" } },
    ]);
    expect(JSON.parse(targetsDoc())).toHaveLength(1);

    // Both installations vanish from the zone at once: refused, both documents kept, people told.
    await upsert(route53, publicZone, [cname(`acme.${publicDomain}`, "lb-1.example"), cname(`globex.${publicDomain}`, "lb-2.example")], "DELETE");
    const before = probes();
    await expect(handler({})).rejects.toThrow(/installation probe target\(s\) but 2 are configured in installation-probes\.json; removing 2 in one run is refused/);
    expect(probes()).toBe(before);
    expect(hook.posts.at(-1).attachments[0].title).toBe("DNS registration refused to remove most installation probe targets");

    // A public zone that cannot be listed changes neither document.
    process.env.PUBLIC_HOSTED_ZONE_ID = "ZNOSUCHZONE";
    kube.requests.length = 0;
    await expect(handler({})).rejects.toThrow(/No hosted zone/);
    expect(kube.writes()).toHaveLength(0);
    expect(hook.posts.at(-1).attachments[0].title).toBe("Listing hosted zone ZNOSUCHZONE (public) failed; the Prometheus targets were left as they are");
  });

  it("fails the invocation when the Kubernetes API errors", async () => {
    await setup((d) => [a(`alpha.prometheus.${d}`)]);
    kube.failures = { status: 403, count: 5 };
    await expect(handler({})).rejects.toThrow();
    expect(hook.posts[0].attachments[0].title).toMatch(/Updating ConfigMap monitoring\/prometheus-federation-targets failed/);
    expect(hook.posts[0].attachments[0].fields[1].value).toBe("Kubernetes API answered HTTP 403: injected failure");
  });
});
