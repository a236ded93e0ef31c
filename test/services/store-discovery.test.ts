import { Route53Client } from "@aws-sdk/client-route-53";
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readConfig, type StoreDiscoveryConfig } from "../../cronjobs/store-discovery/config";
import { endpointsFromRecords, parseEndpointFile, renderEndpointFile } from "../../cronjobs/store-discovery/endpoints";
import { runStoreDiscovery, type StoreDiscoveryDeps } from "../../cronjobs/store-discovery/run";
import { ConfigError } from "../../lib/discovery/env";
import { listAllRecords } from "../../lib/discovery/route53";
import { mattermostNotifier } from "../../lib/discovery/webhook";
import { KubeApiStandIn, WebhookReceiver } from "../support/kube-api";
import { clientOptions, startMoto, type Moto } from "../support/moto";
import { a, aaaa, alias, cname, createZone, txt, upsert } from "../support/zone";

const REPO = resolve(__dirname, "..", "..");
const BUNDLE = join(REPO, "dist", "cronjobs", "store-discovery", "main.js");
const DOMAIN = "internal.test.example.com";

let moto: Moto;
let route53: Route53Client;
let kube: KubeApiStandIn;
let hook: WebhookReceiver;
let core: CoreV1Api;
let apps: AppsV1Api;
const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];

beforeAll(async () => {
  [moto, kube, hook] = await Promise.all([startMoto(), new KubeApiStandIn().start(), new WebhookReceiver().start()]);
  route53 = new Route53Client(clientOptions(moto));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "standin", server: kube.url, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "c", cluster: "standin", user: "u" }],
    currentContext: "c",
  });
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
});
afterAll(async () => Promise.all([moto?.stop(), kube?.stop(), hook?.stop()]));
beforeEach(() => {
  kube.reset();
  hook.posts.length = 0;
  hook.status = 200;
  logs.length = 0;
});

function config(zoneId: string, extra: Partial<StoreDiscoveryConfig> = {}): StoreDiscoveryConfig {
  return {
    ...readConfig({
      PRIVATE_HOSTED_ZONE_ID: zoneId,
      THANOS_NAMESPACE: "monitoring",
      THANOS_DEPLOYMENT_NAME: "thanos-query",
      THANOS_CONFIGMAP_NAME: "thanos-store-endpoints",
      MATTERMOST_ALERTS_HOOK: hook.url,
      ENVIRONMENT_NAME: "test",
    }),
    ...extra,
  };
}

function deps(): StoreDiscoveryDeps {
  return {
    route53,
    configMaps: core,
    deployments: apps,
    notify: mattermostNotifier(hook.url),
    log: (level, message, fields) => logs.push({ level, message, fields }),
  };
}

const currentEndpoints = () => parseEndpointFile((kube.get("configmaps", "monitoring", "thanos-store-endpoints") as any)?.data?.["servicediscovery.yml"]);

describe("reading configuration", () => {
  const good = { PRIVATE_HOSTED_ZONE_ID: "Z123", THANOS_NAMESPACE: "monitoring", THANOS_DEPLOYMENT_NAME: "q", THANOS_CONFIGMAP_NAME: "cm", MATTERMOST_ALERTS_HOOK: "https://chat/hooks/x" };

  it("uses the upstream variables with safe defaults", () => {
    expect(readConfig(good)).toMatchObject({ zoneId: "Z123", grpcPort: 10901, configMapKey: "servicediscovery.yml", rotate: false, allowMassRemoval: false, developerMode: false });
  });

  it.each([
    ["PRIVATE_HOSTED_ZONE_ID", undefined, /PRIVATE_HOSTED_ZONE_ID is not set/],
    ["PRIVATE_HOSTED_ZONE_ID", "zone one", /PRIVATE_HOSTED_ZONE_ID="zone one" is malformed/],
    ["THANOS_NAMESPACE", "Monitoring!", /THANOS_NAMESPACE="Monitoring!" is malformed/],
    ["THANOS_CONFIGMAP_NAME", "", /THANOS_CONFIGMAP_NAME is not set/],
    ["MATTERMOST_ALERTS_HOOK", "chat.example.com", /MATTERMOST_ALERTS_HOOK="chat.example.com" is malformed; expected an http\(s\) URL/],
    ["DEVELOPER_MODE", "maybe", /DEVELOPER_MODE="maybe" is malformed; expected true or false/],
    ["THANOS_GRPC_PORT", "70000", /THANOS_GRPC_PORT=70000 is malformed/],
  ])("refuses %s=%s with a sentence naming it", (name, value, message) => {
    expect(() => readConfig({ ...good, [name]: value })).toThrow(ConfigError);
    expect(() => readConfig({ ...good, [name]: value })).toThrow(message);
  });
});

describe("reading the webhook from a mounted file (the CronJob's Secret volume)", () => {
  const base = { PRIVATE_HOSTED_ZONE_ID: "Z123", THANOS_NAMESPACE: "monitoring", THANOS_DEPLOYMENT_NAME: "q", THANOS_CONFIGMAP_NAME: "cm" };
  const dir = mkdtempSync(join(tmpdir(), "hook-"));

  it("uses the file's content, trimmed, as the webhook", () => {
    writeFileSync(join(dir, "hook"), "https://chat.example.com/hooks/abc\n");
    expect(readConfig({ ...base, MATTERMOST_ALERTS_HOOK_FILE: join(dir, "hook") }).alertsHook).toBe("https://chat.example.com/hooks/abc");
  });

  it("refuses an unreadable file, an empty one, and both ways at once, before any API call", () => {
    expect(() => readConfig({ ...base, MATTERMOST_ALERTS_HOOK_FILE: join(dir, "missing") })).toThrow(/MATTERMOST_ALERTS_HOOK_FILE=".+missing" cannot be read .*check that the webhook Secret is mounted there/);
    writeFileSync(join(dir, "empty"), "  \n");
    expect(() => readConfig({ ...base, MATTERMOST_ALERTS_HOOK_FILE: join(dir, "empty") })).toThrow(ConfigError);
    expect(() => readConfig({ ...base, MATTERMOST_ALERTS_HOOK_FILE: join(dir, "hook"), MATTERMOST_ALERTS_HOOK: "https://other/hooks/x" })).toThrow(/both set; set only one/);
  });
});

describe("filtering records into endpoints", () => {
  it("keeps only address records whose first label ends in -grpc, normalised, sorted, de-duplicated", () => {
    const endpoints = endpointsFromRecords(
      [
        a("beta-grpc.internal.example.com."),
        aaaa("beta-grpc.internal.example.com."), // same name twice: one endpoint
        cname("Alpha-GRPC.internal.example.com.", "lb.amazonaws.com"),
        alias("gamma-grpc.internal.example.com.", "internal-lb.elb.amazonaws.com"),
        txt("delta-grpc.internal.example.com."), // ownership record: ignored
        a("epsilon-grpc-old.internal.example.com."), // -grpc not at the end of the label
        a("x.zeta-grpc.internal.example.com."), // -grpc not in the first label
        a("grpc.internal.example.com."),
        a("-grpc.internal.example.com."),
        { Name: "eta-grpc.internal.example.com.", Type: "MX", TTL: 300, ResourceRecords: [{ Value: "10 mail" }] },
      ],
      10901,
    );
    expect(endpoints).toEqual([
      "alpha-grpc.internal.example.com:10901",
      "beta-grpc.internal.example.com:10901",
      "gamma-grpc.internal.example.com:10901",
    ]);
  });

  it("writes the file-SD document the Thanos query reads, and reads it back", () => {
    const text = renderEndpointFile(["a-grpc.x:10901", "b-grpc.x:10901"]);
    expect(text).toBe("- targets:\n    - a-grpc.x:10901\n    - b-grpc.x:10901\n");
    expect(parseEndpointFile(text)).toEqual(["a-grpc.x:10901", "b-grpc.x:10901"]);
    expect(parseEndpointFile("- targets: [c:1]\n- targets: [a:1]\n")).toEqual(["a:1", "c:1"]); // upstream layout
    expect(() => parseEndpointFile("targets: nope")).toThrow(/not a YAML list/);
  });
});

describe("against moto and the Kubernetes API stand-in", () => {
  it("follows Route53 pagination to the last page", async () => {
    const zone = await createZone(route53, `pages.${DOMAIN}`);
    const records = Array.from({ length: 1000 }, (_, i) => a(`host-${String(i).padStart(4, "0")}.pages.${DOMAIN}`));
    records.push(a(`last-grpc.pages.${DOMAIN}`), a(`zzz-grpc.pages.${DOMAIN}`));
    await upsert(route53, zone, records);
    const listing = await listAllRecords(route53, zone);
    // 1002 records + SOA + NS, 300 a page
    expect(listing.records).toHaveLength(1004);
    expect(listing.calls).toBe(Math.ceil(1004 / 300));
    const result = await runStoreDiscovery(config(zone), deps());
    expect(result.exitCode).toBe(0);
    expect(result.route53Calls).toBe(4);
    expect(currentEndpoints()).toEqual([`last-grpc.pages.${DOMAIN}:10901`, `zzz-grpc.pages.${DOMAIN}:10901`]);
  });

  it("creates, then does nothing when nothing changed, then updates in place keeping other keys, labels and annotations", async () => {
    const zone = await createZone(route53, `cycle.${DOMAIN}`);
    await upsert(route53, zone, [a(`alpha-grpc.cycle.${DOMAIN}`), a(`beta-grpc.cycle.${DOMAIN}`)]);

    let result = await runStoreDiscovery(config(zone), deps());
    expect(result).toMatchObject({ exitCode: 0, write: { action: "created" } });
    expect(kube.writes().map((w) => w.method)).toEqual(["POST"]);

    // Someone adds their own key, label and annotation.
    const cm = kube.get("configmaps", "monitoring", "thanos-store-endpoints")!;
    kube.put("configmaps", { ...cm, metadata: { ...cm.metadata, labels: { team: "observability" }, annotations: { note: "keep me" } }, data: { ...(cm as any).data, "other.yml": "x: 1\n" } } as any);

    kube.requests.length = 0;
    result = await runStoreDiscovery(config(zone), deps());
    expect(result).toMatchObject({ exitCode: 0, write: { action: "unchanged" }, kubernetesCalls: 1 });
    expect(kube.writes()).toHaveLength(0);

    await upsert(route53, zone, [a(`gamma-grpc.cycle.${DOMAIN}`)]);
    kube.requests.length = 0;
    result = await runStoreDiscovery(config(zone), deps());
    expect(result).toMatchObject({ exitCode: 0, write: { action: "updated" } });
    expect(kube.writes().map((w) => w.method)).toEqual(["PUT"]);
    const after = kube.get("configmaps", "monitoring", "thanos-store-endpoints") as any;
    expect(after.metadata.labels).toMatchObject({ team: "observability", "app.kubernetes.io/managed-by": "thanos-store-discovery" });
    expect(after.metadata.annotations).toEqual({ note: "keep me" });
    expect(after.data["other.yml"]).toBe("x: 1\n");
    expect(currentEndpoints()).toEqual([`alpha-grpc.cycle.${DOMAIN}:10901`, `beta-grpc.cycle.${DOMAIN}:10901`, `gamma-grpc.cycle.${DOMAIN}:10901`]);
    expect(hook.posts).toHaveLength(0);
  });

  it("retries a conflicting write on a fresh read, keeping what the other writer added", async () => {
    const zone = await createZone(route53, `conflict.${DOMAIN}`);
    await upsert(route53, zone, [a(`alpha-grpc.conflict.${DOMAIN}`)]);
    kube.put("configmaps", { metadata: { name: "thanos-store-endpoints", namespace: "monitoring" }, data: { "servicediscovery.yml": renderEndpointFile([]) } } as any);
    kube.conflictsToInject = 2;
    const result = await runStoreDiscovery(config(zone), deps());
    expect(result).toMatchObject({ exitCode: 0, write: { action: "updated", attempts: 3 } });
    expect(kube.writes().filter((w) => w.method === "PUT")).toHaveLength(3);
    const after = kube.get("configmaps", "monitoring", "thanos-store-endpoints") as any;
    expect(after.data["written-by-someone-else"]).toBeDefined();
    expect(currentEndpoints()).toEqual([`alpha-grpc.conflict.${DOMAIN}:10901`]);
  });

  it("writes nothing, alerts and fails when listing fails", async () => {
    kube.put("configmaps", { metadata: { name: "thanos-store-endpoints", namespace: "monitoring" }, data: { "servicediscovery.yml": renderEndpointFile(["keep-grpc.x:10901"]) } } as any);
    const result = await runStoreDiscovery(config("ZNOSUCHZONE0001"), deps());
    expect(result.exitCode).toBe(1);
    expect(kube.requests).toHaveLength(0);
    expect(currentEndpoints()).toEqual(["keep-grpc.x:10901"]);
    expect(hook.posts).toHaveLength(1);
    expect(hook.posts[0].username).toBe("Thanos Store Discovery");
    expect(hook.posts[0].attachments[0].title).toMatch(/Listing hosted zone ZNOSUCHZONE0001 failed/);
    expect(hook.posts[0].attachments[0].fields).toEqual(expect.arrayContaining([expect.objectContaining({ title: "Environment", value: "test" })]));
  });

  it("refuses to remove more than half of the endpoints (all of them included) unless overridden", async () => {
    const zone = await createZone(route53, `guard.${DOMAIN}`);
    const four = ["a", "b", "c", "d"].map((n) => `${n}-grpc.guard.${DOMAIN}:10901`);
    const seed = () => kube.put("configmaps", { metadata: { name: "thanos-store-endpoints", namespace: "monitoring" }, data: { "servicediscovery.yml": renderEndpointFile(four) } } as any);
    seed();
    await upsert(route53, zone, [a(`a-grpc.guard.${DOMAIN}`)]); // 3 of 4 would go
    let result = await runStoreDiscovery(config(zone), deps());
    expect(result.exitCode).toBe(1);
    expect(result.write?.action).toBe("refused");
    expect(currentEndpoints()).toEqual(four);
    expect(kube.writes()).toHaveLength(0);
    expect(hook.posts[0].attachments[0].fields[1].value).toMatch(/removing 3 .* ALLOW_MASS_REMOVAL=true/);

    // An empty zone would remove all of them: refused too.
    const empty = await createZone(route53, `guard-empty.${DOMAIN}`);
    result = await runStoreDiscovery(config(empty), deps());
    expect(result.exitCode).toBe(1);
    expect(currentEndpoints()).toEqual(four);

    // Exactly half is allowed.
    await upsert(route53, zone, [a(`b-grpc.guard.${DOMAIN}`)]);
    result = await runStoreDiscovery(config(zone), deps());
    expect(result).toMatchObject({ exitCode: 0, write: { action: "updated" } });

    seed();
    result = await runStoreDiscovery(config(empty, { allowMassRemoval: true }), deps());
    expect(result).toMatchObject({ exitCode: 0, write: { action: "updated" } });
    expect(currentEndpoints()).toEqual([]);
  });

  it("is a quiet no-op for an empty zone and no current endpoints", async () => {
    const zone = await createZone(route53, `quiet.${DOMAIN}`);
    const result = await runStoreDiscovery(config(zone), deps());
    expect(result).toMatchObject({ exitCode: 0, write: { action: "unchanged" } });
    expect(kube.writes()).toHaveLength(0);
    expect(hook.posts).toHaveLength(0);
  });

  it("fails (and says so) when the API errors, and still fails when the webhook answers with an error", async () => {
    const zone = await createZone(route53, `apierr.${DOMAIN}`);
    await upsert(route53, zone, [a(`a-grpc.apierr.${DOMAIN}`)]);
    kube.failures = { status: 500, count: 1 };
    hook.status = 503;
    const result = await runStoreDiscovery(config(zone), deps());
    expect(result.exitCode).toBe(1);
    expect(hook.posts).toHaveLength(1);
    expect(logs.find((l) => l.message === "could not deliver the alert")?.fields?.error).toMatch(/HTTP 503/);
  });

  it("rolls the query Deployment (rollout restart) only when rotation is on and something changed", async () => {
    const zone = await createZone(route53, `rotate.${DOMAIN}`);
    await upsert(route53, zone, [a(`a-grpc.rotate.${DOMAIN}`)]);
    kube.put("deployments", { metadata: { name: "thanos-query", namespace: "monitoring" }, spec: { template: { metadata: { labels: { app: "q" } } } } } as any);
    await runStoreDiscovery(config(zone), deps());
    expect((kube.get("deployments", "monitoring", "thanos-query") as any).spec.template.metadata.annotations).toBeUndefined();
    await upsert(route53, zone, [a(`b-grpc.rotate.${DOMAIN}`)]);
    const result = await runStoreDiscovery(config(zone, { rotate: true }), deps());
    expect(result.exitCode).toBe(0);
    const d = kube.get("deployments", "monitoring", "thanos-query") as any;
    expect(d.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(kube.requests.some((r) => r.method === "DELETE")).toBe(false); // no pod deletion
  });
});

describe("the bundle, run as the CronJob runs it", () => {
  function run(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolvePromise) => {
      const child = spawn(process.execPath, [BUNDLE], { env: { PATH: process.env.PATH!, ...env } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    });
  }

  it("exists (built by npm run build before the tests)", () => {
    expect(existsSync(BUNDLE)).toBe(true);
  });

  it("exits 2 before any API call when a variable is missing", async () => {
    const out = await run({ ...moto.env, THANOS_NAMESPACE: "monitoring" });
    expect(out.code).toBe(2);
    expect(JSON.parse(out.stderr.trim().split("\n")[0])).toMatchObject({ level: "error", message: expect.stringMatching(/PRIVATE_HOSTED_ZONE_ID is not set/) });
    expect(kube.requests).toHaveLength(0);
  });

  it("runs against moto and the stand-in with DEVELOPER_MODE and a kubeconfig, logging JSON lines", async () => {
    const zone = await createZone(route53, `process.${DOMAIN}`);
    await upsert(route53, zone, [a(`alpha-grpc.process.${DOMAIN}`), txt(`alpha-grpc.process.${DOMAIN}`)]);
    const kubeconfig = kube.writeKubeconfig(join(mkdtempSync(join(tmpdir(), "kc-")), "config"));
    const out = await run({
      ...moto.env,
      PRIVATE_HOSTED_ZONE_ID: zone,
      THANOS_NAMESPACE: "monitoring",
      THANOS_DEPLOYMENT_NAME: "thanos-query",
      THANOS_CONFIGMAP_NAME: "thanos-store-endpoints",
      MATTERMOST_ALERTS_HOOK: hook.url,
      DEVELOPER_MODE: "true",
      KUBECONFIG: kubeconfig,
    });
    expect(out.stderr).not.toMatch(/"level":"(error|warn)"/); // (Node 20 prints an AWS SDK deprecation notice here)
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.message)).toEqual(["listed the private zone", "endpoints changed", "endpoint ConfigMap created"]);
    expect(kube.requests[0].authorization).toBe("Bearer developer-token");
    expect(currentEndpoints()).toEqual([`alpha-grpc.process.${DOMAIN}:10901`]);
  });

  it("exits 1 and alerts when the zone cannot be listed", async () => {
    const out = await run({
      ...moto.env,
      PRIVATE_HOSTED_ZONE_ID: "ZMISSING",
      THANOS_NAMESPACE: "monitoring",
      THANOS_DEPLOYMENT_NAME: "thanos-query",
      THANOS_CONFIGMAP_NAME: "thanos-store-endpoints",
      MATTERMOST_ALERTS_HOOK: hook.url,
      DEVELOPER_MODE: "true",
      KUBECONFIG: kube.writeKubeconfig(join(mkdtempSync(join(tmpdir(), "kc-")), "config")),
    });
    expect(out.code).toBe(1);
    expect(hook.posts).toHaveLength(1);
    expect(kube.requests).toHaveLength(0);
  });
});
