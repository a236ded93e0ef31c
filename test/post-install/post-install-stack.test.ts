import { load } from "js-yaml";
import { HELM_CHARTS } from "../../config/versions";
import { HelmAddon } from "../../constructs/helm/addon";
import { parsePolicy, resourcesOf, rejection, synthShipped } from "../support/synth";

const releases = (stack: any) => resourcesOf(stack, "helm_release");
const valuesOf = (stack: any, name: string): any => load(releases(stack).find((r) => r.name === name).values[0]);

describe("the post-install stack (prod)", () => {
  let stack: any;
  let all: Record<string, any>;
  beforeAll(() => {
    const s = synthShipped("prod");
    stack = s.json["prod-post-install"];
    all = s.json;
  });

  it("pins every chart to the version table and its repository", () => {
    // The in-repo manifests chart (custom resources) ships as an asset of the stack.
    const local = releases(stack).filter((r) => String(r.chart).startsWith("assets/"));
    expect(local.map((r) => `${r.namespace}/${r.name}`).sort()).toEqual([
      "dashboard/external-secrets-objects",
      "external-secrets/external-secrets-monitoring",
      "kube-system/aws-load-balancer-controller-crds",
      "logging/external-secrets-objects",
      "monitoring/external-secrets-objects",
      "provisioner/provisioner-monitoring",
    ]);
    expect(releases(stack).filter((r) => !local.includes(r))).toHaveLength(8);
    for (const r of releases(stack).filter((r) => !local.includes(r))) {
      const pinned = Object.values(HELM_CHARTS).find((c) => c.chart === r.chart)!;
      expect(pinned).toBeDefined();
      expect(r.repository).toBe(pinned.repository);
      expect(pinned.versions).toContain(r.version);
      expect(r).toMatchObject({ atomic: true, create_namespace: false, wait: true });
    }
  });

  it("finds the cluster of layer 1 by name, so the stack plans on its own", () => {
    expect(Object.values(stack.data.aws_eks_cluster)[0]).toMatchObject({ name: "prod-cnc" });
    expect(stack.terraform.backend.s3.key).toBe("prod/prod-post-install.tfstate");
    expect(JSON.stringify(stack)).not.toContain("terraform_remote_state");
  });

  it("gives Prometheus unique external labels and a Thanos sidecar with keyless object storage", () => {
    const v = valuesOf(stack, "kps");
    expect(v.prometheus.prometheusSpec.externalLabels).toEqual({ cluster: "prod-cnc", environment: "prod" });
    expect(v.prometheus.prometheusSpec.thanos.objectStorageConfig.existingSecret).toEqual({ name: "thanos-objstore", key: "objstore.yml" });
    expect(v.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage).toBe("100Gi");
    const objstore = resourcesOf(stack, "kubernetes_secret_v1").find((s) => s.metadata.name === "thanos-objstore");
    const config: any = load(objstore.data["objstore.yml"]);
    expect(config).toEqual({
      type: "S3",
      config: { bucket: "cloud-prod-metrics-111111111111", endpoint: "s3.us-east-1.amazonaws.com", region: "us-east-1", aws_sdk_auth: true },
    });
  });

  it("routes Alertmanager to the Mattermost webhook read from a mounted Secret, never a literal", () => {
    const am = valuesOf(stack, "kps").alertmanager;
    const receiver = am.config.receivers.find((r: any) => r.name === "mattermost");
    expect(receiver.slack_configs[0].api_url_file).toBe("/etc/alertmanager/secrets/alertmanager-mattermost-webhook/url");
    expect(receiver.slack_configs[0].api_url).toBeUndefined();
    expect(am.alertmanagerSpec.secrets).toEqual(["alertmanager-mattermost-webhook", "alertmanager-pager-key"]);
    // Both Secrets are written in the cluster by the External Secrets Operator, not by Terraform.
    expect(resourcesOf(stack, "kubernetes_secret_v1").map((s) => s.metadata.name)).not.toContain("alertmanager-mattermost-webhook");
    const objects: any = load(releases(stack).find((r) => r.name === "external-secrets-objects" && r.namespace === "monitoring").values[0]);
    const synced = Object.fromEntries(objects.manifests.filter((m: any) => m.kind === "ExternalSecret").map((m: any) => [m.spec.target.name, m.spec.data]));
    expect(synced["alertmanager-mattermost-webhook"]).toEqual([{ secretKey: "url", remoteRef: { key: "prod/cnc/mattermost-alerts-webhook" } }]);
    expect(synced["alertmanager-pager-key"]).toEqual([{ secretKey: "key", remoteRef: { key: "prod/cnc/pagerduty-routing-key" } }]);
    // Alertmanager waits for them.
    const kps = Object.entries<any>(stack.resource.helm_release).find(([, r]) => r.name === "kps")![1];
    const objectsId = Object.entries<any>(stack.resource.helm_release).find(([, r]) => r.name === "external-secrets-objects" && r.namespace === "monitoring")![0];
    expect(kps.depends_on).toContain(`helm_release.${objectsId}`);
  });

  it("has no secret literal anywhere in any synthesized stack", () => {
    for (const [name, json] of Object.entries(all)) {
      const text = JSON.stringify(json);
      expect({ name, hooks: /https?:\/\/[^"$]*\/hooks\//.test(text) }).toEqual({ name, hooks: false });
      expect(text).not.toMatch(/AKIA[0-9A-Z]{16}/);
      expect(text).not.toMatch(/"(password|clientSecret|client_secret|secret_key|access_key)"\s*:\s*"(?!\$\{)[^"]+"/i);
    }
    for (const s of resourcesOf(stack, "kubernetes_secret_v1").filter((x) => x.metadata.name !== "thanos-objstore")) {
      // Either a value read at deploy time, or a DSN whose user and password are read at deploy time.
      for (const value of Object.values(s.data)) expect(value).toMatch(/^(\$\{.*\}|postgres:\/\/\$\{urlencode\([^}]+\)\}:\$\{urlencode\([^}]+\)\}@.*)$/);
    }
    expect(JSON.stringify(stack.output ?? {})).not.toMatch(/secret_string/);
  });

  it("keeps every resolution longer than 10 days in the singleton compactor", () => {
    const thanos = valuesOf(stack, "thanos");
    expect(thanos.compact.enabled).toBe(true);
    expect(thanos.compact.replicas).toBeUndefined(); // the chart fixes the compactor at one replica
    expect(thanos.compact.extraArgs).toEqual(["--retention.resolution-raw=30d", "--retention.resolution-5m=90d", "--retention.resolution-1h=1y"]);
    expect(thanos.compact.extraArgs.join(" ")).not.toMatch(/downsampling\.disable/);
    // Replicas sample at different moments: deduplicate with the penalty function, not the default (identical samples only).
    expect(thanos.compact.deduplication).toEqual({ enabled: true, func: "penalty" });
    expect(thanos.rule.configReloader.resources.limits).toEqual({ cpu: "100m", memory: "64Mi" });
  });

  it("mounts the store-endpoint file as a whole ConfigMap volume (no subPath) and reads it with --store.sd-files", () => {
    const q = valuesOf(stack, "thanos").query;
    expect(q.extraVolumes).toEqual([{ name: "store-endpoints", configMap: { name: "thanos-store-endpoints" } }]);
    expect(q.extraVolumeMounts).toEqual([{ name: "store-endpoints", mountPath: "/etc/thanos/sd", readOnly: true }]);
    expect(q.extraArgs).toContain("--store.sd-files=/etc/thanos/sd/servicediscovery.yml");
    const cron = resourcesOf(stack, "kubernetes_cron_job_v1").find((c) => c.metadata.name === "thanos-store-discovery");
    const env = Object.fromEntries(cron.spec.job_template.spec.template.spec.container[0].env.map((e: any) => [e.name, e.value ?? e.value_from]));
    expect(env).toMatchObject({ THANOS_CONFIGMAP_NAME: "thanos-store-endpoints", THANOS_CONFIGMAP_KEY: "servicediscovery.yml", THANOS_NAMESPACE: "monitoring", THANOS_DEPLOYMENT_NAME: "thanos-query" });
  });

  it("sets requests and limits on every Thanos component, and a PDB where there is more than one replica", () => {
    const v = valuesOf(stack, "thanos");
    for (const c of ["query", "storeGateway", "compact", "rule"]) {
      expect(v[c].resources.requests).toBeDefined();
      expect(v[c].resources.limits.memory).toBeDefined();
      if ((v[c].replicas ?? 1) > 1) expect(v[c].podDisruptionBudget).toMatchObject({ enabled: true });
    }
    expect(v.rule.alertmanagersConfig.value).toContain("dnssrv+_http-web._tcp.alertmanager-operated.monitoring.svc.cluster.local");
    const kps = valuesOf(stack, "kps");
    expect(kps.prometheus.podDisruptionBudget.enabled).toBe(true);
    expect(kps.alertmanager.podDisruptionBudget.enabled).toBe(true);
  });

  it("pins each IRSA role to the service account its chart creates", () => {
    const roles = resourcesOf(stack, "aws_iam_role");
    const trustOf = (name: string) => {
      const role = roles.find((r) => r.name === name);
      expect(role).toBeDefined();
      const st = parsePolicy(role.assume_role_policy).Statement[0];
      const sub = Object.entries(st.Condition.StringEquals).find(([k]) => k.endsWith(":sub"))![1];
      const aud = Object.entries(st.Condition.StringEquals).find(([k]) => k.endsWith(":aud"))![1];
      expect(aud).toBe("sts.amazonaws.com");
      expect(st.Principal.Federated).toMatch(/^\$\{data\.aws_iam_openid_connect_provider\./);
      return sub;
    };
    const thanos = valuesOf(stack, "thanos");
    expect(trustOf("prod-cnc-thanos-compact")).toBe(`system:serviceaccount:monitoring:${thanos.compact.serviceAccount.name}`);
    expect(trustOf("prod-cnc-thanos-store-gateway")).toBe(`system:serviceaccount:monitoring:${thanos.storeGateway.serviceAccount.name}`);
    expect(trustOf("prod-cnc-thanos-rule")).toBe(`system:serviceaccount:monitoring:${thanos.rule.serviceAccount.name}`);
    expect(trustOf("prod-cnc-thanos-sidecar")).toBe(`system:serviceaccount:monitoring:${valuesOf(stack, "kps").prometheus.serviceAccount.name}`);
    expect(trustOf("prod-cnc-fluent-bit")).toBe(`system:serviceaccount:logging:${valuesOf(stack, "fluent-bit").serviceAccount.name}`);
    expect(trustOf("prod-cnc-load-balancer-controller")).toBe(`system:serviceaccount:kube-system:${valuesOf(stack, "aws-load-balancer-controller").serviceAccount.name}`);
    expect(trustOf("prod-cnc-store-discovery")).toBe("system:serviceaccount:monitoring:thanos-store-discovery");
    // The annotation on each ServiceAccount names the role that trusts it.
    expect(thanos.compact.serviceAccount.annotations["eks.amazonaws.com/role-arn"]).toMatch(/^\$\{aws_iam_role\./);
  });

  it("lets store discovery list exactly one zone and touch only its own ConfigMap", () => {
    const policy = JSON.parse(resourcesOf(stack, "aws_iam_role_policy").find((p) => p.role.includes("store-discovery")).policy);
    expect(policy.Statement).toEqual([{ Sid: "ListTheZone", Effect: "Allow", Action: "route53:ListResourceRecordSets", Resource: "arn:aws:route53:::hostedzone/${data.aws_route53_zone.private-zone.zone_id}" }]);
    expect(Object.values(stack.data.aws_route53_zone).map((z: any) => z.zone_id)).toContain("Z0PRIVATEPLACEHOLDER1");
    const role = resourcesOf(stack, "kubernetes_role_v1").find((r) => r.metadata.name === "thanos-store-discovery");
    expect(role.rule).toEqual([
      { api_groups: [""], resources: ["configmaps"], resource_names: ["thanos-store-endpoints"], verbs: ["get", "update"] },
      { api_groups: [""], resources: ["configmaps"], verbs: ["create"] },
    ]);
  });

  it("runs the CronJob one at a time, non-root, read-only, on a pinned stock Node.js image", () => {
    const cron = resourcesOf(stack, "kubernetes_cron_job_v1").find((c) => c.metadata.name === "thanos-store-discovery");
    expect(cron.spec).toMatchObject({ schedule: "*/5 * * * *", concurrency_policy: "Forbid", successful_jobs_history_limit: 2, failed_jobs_history_limit: 5, starting_deadline_seconds: 120 });
    const job = cron.spec.job_template.spec;
    expect(job).toMatchObject({ backoff_limit: 0, active_deadline_seconds: 240, ttl_seconds_after_finished: "86400" });
    const pod = job.template.spec;
    expect(pod.security_context).toMatchObject({ run_as_non_root: true });
    const c = pod.container[0];
    expect(c.image).toMatch(/^public\.ecr\.aws\/docker\/library\/node:\d+\.\d+\.\d+-alpine[\d.]+@sha256:[0-9a-f]{64}$/);
    expect(c.security_context).toMatchObject({ read_only_root_filesystem: true, allow_privilege_escalation: false, capabilities: { drop: ["ALL"] } });
    // The webhook URL arrives as a mounted file, never as an environment variable.
    expect(c.env.some((e: any) => e.value_from)).toBe(false);
    const hookFile = c.env.find((e: any) => e.name === "MATTERMOST_ALERTS_HOOK_FILE").value;
    const mount = c.volume_mount.find((m: any) => hookFile.startsWith(`${m.mount_path}/`));
    expect(mount.read_only).toBe(true);
    expect(pod.volume.find((v: any) => v.name === mount.name).secret).toMatchObject({ secret_name: "alertmanager-mattermost-webhook", items: [{ key: "url", path: hookFile.slice(mount.mount_path.length + 1) }], default_mode: "0440" });
    // The files belong to the pod's fsGroup, which the (non-root) job runs in: it can read them, others cannot.
    // A high UID like every other pod here (the image's own user 1000 could collide with a host user).
    expect(pod.security_context).toMatchObject({ run_as_user: "10001", run_as_group: "10001", fs_group: "10001" });
    const code = resourcesOf(stack, "kubernetes_config_map_v1").find((m) => m.metadata.name === "thanos-store-discovery-code");
    expect(code.binary_data["main.js.gz"]).toMatch(/^\$\{filebase64\("assets\/.+main\.js\.gz"\)\}$/);
  });

  it("lets the DNS-registration Lambda's group write only the federation ConfigMap, which Prometheus reads through file_sd", () => {
    const role = resourcesOf(stack, "kubernetes_role_v1").find((r) => r.metadata.name === "dns-registration");
    expect(role.rule[0]).toEqual({ api_groups: [""], resources: ["configmaps"], resource_names: ["prometheus-federation-targets"], verbs: ["get", "update"] });
    const binding = resourcesOf(stack, "kubernetes_role_binding_v1").find((b) => b.metadata.name === "dns-registration");
    expect(binding.subject).toEqual([{ kind: "Group", name: "platform:dns-registration", api_group: "rbac.authorization.k8s.io" }]);
    const spec = valuesOf(stack, "kps").prometheus.prometheusSpec;
    expect(spec.configMaps).toEqual(["prometheus-federation-targets"]);
    expect(spec.additionalScrapeConfigs[0].file_sd_configs[0].files).toEqual(["/etc/prometheus/configmaps/prometheus-federation-targets/federation-targets.json"]);
  });

  it("keeps the metrics bucket versioned, KMS-encrypted, private, TLS-only, with unfinished uploads cleaned", () => {
    const bucket = Object.entries(stack.resource.aws_s3_bucket).find(([, b]: any) => b.bucket === "cloud-prod-metrics-111111111111")![0];
    const of = (type: string) => resourcesOf(stack, type).find((r) => r.bucket === `\${aws_s3_bucket.${bucket}.id}`);
    expect(of("aws_s3_bucket_versioning").versioning_configuration.status).toBe("Enabled");
    expect(of("aws_s3_bucket_server_side_encryption_configuration").rule[0].apply_server_side_encryption_by_default.sse_algorithm).toBe("aws:kms");
    expect(of("aws_s3_bucket_public_access_block")).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
    expect(JSON.parse(of("aws_s3_bucket_policy").policy).Statement[0].Condition).toEqual({ Bool: { "aws:SecureTransport": "false" } });
    expect(of("aws_s3_bucket_lifecycle_configuration").rule[0].abort_incomplete_multipart_upload[0].days_after_initiation).toBe(2);
  });

  it("locks the OpenSearch domain down: encrypted, HTTPS with a modern policy, fine-grained access, three zones, logs", () => {
    const [d] = resourcesOf(stack, "aws_opensearch_domain");
    expect(d.encrypt_at_rest.enabled).toBe(true);
    expect(d.encrypt_at_rest.kms_key_id).toMatch(/^\$\{aws_kms_key\./);
    expect(d.node_to_node_encryption.enabled).toBe(true);
    expect(d.domain_endpoint_options).toEqual({ enforce_https: true, tls_security_policy: "Policy-Min-TLS-1-2-PFS-2023-10" });
    expect(d.advanced_security_options).toMatchObject({ enabled: true, anonymous_auth_enabled: false, internal_user_database_enabled: false });
    expect(d.cluster_config).toMatchObject({ zone_awareness_enabled: true, zone_awareness_config: { availability_zone_count: 3 } });
    expect(d.vpc_options.security_group_ids).toHaveLength(1);
    expect(d.log_publishing_options.map((o: any) => o.log_type).sort()).toEqual(["AUDIT_LOGS", "ES_APPLICATION_LOGS", "INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS"]);
    const mappings = resourcesOf(stack, "opensearch_roles_mapping");
    expect(mappings.filter((m) => m.role_name !== "log_writer").map((m) => [m.role_name, m.backend_roles]).sort()).toEqual([
      ["kibana_user", ["arn:aws:iam::111111111111:role/prod-cnc-opensearch-dashboards"]],
      ["manage_snapshots", ["arn:aws:iam::111111111111:role/prod-cnc-opensearch-snapshots"]],
      ["readall", ["arn:aws:iam::111111111111:role/prod-cnc-opensearch-dashboards"]],
    ]);
    const mapping = mappings.find((m) => m.role_name === "log_writer");
    expect(mapping.backend_roles).toEqual([
      "arn:aws:iam::111111111111:role/prod-cnc-fluent-bit",
      "arn:aws:iam::111111111111:role/prod-alpha-fluent-bit",
      "arn:aws:iam::111111111111:role/prod-beta-fluent-bit",
    ]);
  });

  it("puts every UI behind OIDC login on an HTTPS-only load balancer with a modern TLS policy", () => {
    const uis = [
      valuesOf(stack, "grafana").ingress.annotations,
      valuesOf(stack, "kps").prometheus.ingress.annotations,
      valuesOf(stack, "kps").alertmanager.ingress.annotations,
      valuesOf(stack, "thanos").query.ingress.annotations,
      valuesOf(stack, "headlamp").ingress.annotations,
    ];
    for (const a of uis) {
      expect(a["alb.ingress.kubernetes.io/auth-type"]).toBe("oidc");
      expect(JSON.parse(a["alb.ingress.kubernetes.io/auth-idp-oidc"])).toMatchObject({ issuer: "https://idp.example.com", secretName: "alb-oidc-client" });
      expect(a["alb.ingress.kubernetes.io/ssl-policy"]).toBe("ELBSecurityPolicy-TLS13-1-2-2021-06");
      expect(a["alb.ingress.kubernetes.io/certificate-arn"]).toMatch(/^\$\{aws_acm_certificate_validation\./);
    }
    // grafana is the one public app in prod; the rest stay internal
    expect(valuesOf(stack, "grafana").ingress.annotations["alb.ingress.kubernetes.io/scheme"]).toBe("internet-facing");
    expect(valuesOf(stack, "headlamp").ingress.annotations["alb.ingress.kubernetes.io/scheme"]).toBe("internal");
    expect(resourcesOf(stack, "aws_acm_certificate").map((c) => [c.domain_name, c.validation_method])).toEqual([
      ["*.internal.cloud.example.com", "DNS"],
      ["*.cloud.example.com", "DNS"],
    ]);
  });

  it("keeps the dashboard read-only by default", () => {
    expect(valuesOf(stack, "headlamp").clusterRoleBinding).toEqual({ create: true, clusterRoleName: "view" });
  });

  it("lets only the intended callers into the monitoring namespace", () => {
    const [np] = resourcesOf(stack, "kubernetes_network_policy_v1");
    expect(np.spec.pod_selector).toEqual({});
    expect(np.spec.ingress[0].from[0].namespace_selector.match_labels).toEqual({ "kubernetes.io/metadata.name": "monitoring" });
    expect(np.spec.ingress[1].from[0].ip_block.cidr).toBe("10.10.0.0/16");
  });

  it("orders the add-ons: the load balancer controller and Prometheus (CRDs) before their users", () => {
    const addons = releases(stack);
    const address = (name: string) => `helm_release.${Object.entries(stack.resource.helm_release).find(([, r]: any) => r.name === name)![0]}`;
    expect(addons.find((r) => r.name === "thanos").depends_on).toContain(address("kps"));
    expect(addons.find((r) => r.name === "kps").depends_on).toContain(address("aws-load-balancer-controller"));
    expect(addons.find((r) => r.name === "grafana").depends_on).toEqual(expect.arrayContaining([address("thanos"), address("aws-load-balancer-controller")]));
  });
});

describe("the Helm add-on base", () => {
  it("merges the user's values last and refuses a dependency from outside the stack", () => {
    const s = synthShipped("prod");
    const [kps] = HelmAddon.registryOf(s.stacks.postInstall).filter((a) => a.app === "kube-prometheus-stack");
    // the stack passes ingress values as user values: they landed on top of the add-on's own
    expect((kps.values as any).prometheus.ingress.enabled).toBe(true);
    expect((kps.values as any).prometheus.serviceAccount.name).toBe("prometheus");
    const { App } = require("cdktf");
    const { TerraformStack } = require("cdktf");
    const app = new App();
    const other = new TerraformStack(app, "other");
    expect(() => new HelmAddon(other, "thanos", { app: "thanos", version: "1.24.1", namespace: "monitoring", values: {}, dependsOn: [kps] })).toThrow(
      /HelmAddon thanos needs kube-prometheus-stack installed first, but kube-prometheus-stack is not part of this stack/,
    );
    expect(() => new HelmAddon(other, "bad", { app: "thanos", version: "9.9.9", namespace: "monitoring", values: {} })).toThrow(/version 9\.9\.9 is not pinned; use one of 1\.24\.1/);
  });
});

describe("bad layer-2 input fails at synth with a sentence naming the field", () => {
  const reject = rejection;
  it("a retention of 10 days or less for raw or 5m data", () => {
    expect(reject((e) => (e.monitoring.retention.raw = "7d"))).toMatch(/monitoring\.retention\.raw: expected a duration longer than 10 days, got "7d"/);
    expect(reject((e) => (e.monitoring.retention.fiveMinutes = "10d"))).toMatch(/monitoring\.retention\.fiveMinutes: expected a duration longer than 10 days, got "10d"/);
  });
  it("a missing IdP setting while auth is on", () => {
    expect(reject((e) => delete e.auth.oidc.tokenEndpoint)).toMatch(/auth\.oidc\.tokenEndpoint: is required when auth\.enabled is true/);
  });
  it("an app version that is not in the pinned table", () => {
    expect(reject((e) => (e.versions = { grafana: "10.5.15" }))).toMatch(/versions\.grafana: expected a pinned grafana chart version \(12\.11\.1 in config\/versions\.ts\), got "10\.5\.15"/);
  });
});

describe("what a real cluster needs from the charts' values", () => {
  const { postInstall, workloadApps } = synthShipped("prod").stacks;
  const addon = (stack: any, app: string) => HelmAddon.registryOf(stack).find((a) => a.app === app)!.values as any;

  it("serves a public app on its public name (with both certificates) and its private one, with a root URL that is public", () => {
    const grafana = addon(postInstall, "grafana");
    expect(grafana.ingress.hosts).toEqual(["grafana.cloud.example.com", "grafana.internal.cloud.example.com"]);
    expect(grafana.ingress.annotations["alb.ingress.kubernetes.io/group.name"]).toBe("prod-public");
    expect(grafana.ingress.annotations["alb.ingress.kubernetes.io/certificate-arn"].split(",")).toHaveLength(2);
    expect(grafana["grafana.ini"].server.root_url).toBe("https://grafana.cloud.example.com");
    // An internal app keeps one name and one certificate.
    const kps = addon(postInstall, "kube-prometheus-stack");
    expect(kps.prometheus.ingress.hosts).toEqual(["prometheus.internal.cloud.example.com"]);
    expect(kps.prometheus.ingress.annotations["alb.ingress.kubernetes.io/certificate-arn"]).not.toContain(",");
  });

  it("recreates Grafana (one ReadWriteOnce volume) and health-checks paths that answer 200", () => {
    const grafana = addon(postInstall, "grafana");
    expect(grafana.deploymentStrategy).toEqual({ type: "Recreate" });
    expect(grafana.ingress.annotations["alb.ingress.kubernetes.io/healthcheck-path"]).toBe("/api/health");
    const kps = addon(postInstall, "kube-prometheus-stack");
    expect(kps.prometheus.ingress.annotations["alb.ingress.kubernetes.io/healthcheck-path"]).toBe("/-/ready");
    expect(kps.alertmanager.ingress.annotations["alb.ingress.kubernetes.io/healthcheck-path"]).toBe("/-/ready");
    expect(addon(postInstall, "thanos").query.ingress.annotations["alb.ingress.kubernetes.io/healthcheck-path"]).toBe("/-/ready");
  });

  it("turns off the control-plane monitors EKS cannot serve, and their rules, on every cluster", () => {
    for (const stack of [postInstall, workloadApps[0]]) {
      const kps = addon(stack, "kube-prometheus-stack");
      for (const k of ["kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"]) expect(kps[k]).toEqual({ enabled: false });
      expect(kps.defaultRules.rules).toMatchObject({ etcd: false, kubeControllerManager: false, kubeProxy: false, kubeSchedulerAlerting: false });
    }
  });

  it("scrapes Thanos, and ships the kubelet journal as well as container logs", () => {
    expect(addon(postInstall, "thanos").serviceMonitor).toEqual({ enabled: true });
    const outputs = addon(postInstall, "fluent-bit").config.outputs as string;
    expect(outputs.match(/Match +\S+/g)).toEqual(["Match              kube.*", "Match              host.*"]);
  });

  it("runs Headlamp as its restricted namespace demands", () => {
    const h = addon(postInstall, "headlamp");
    expect(h.podSecurityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(h.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true });
  });

  it("has the VPC CNI enforce NetworkPolicies", () => {
    const cni = resourcesOf(synthShipped("prod").json["prod-cluster"], "aws_eks_addon").find((a) => a.addon_name === "vpc-cni");
    expect(JSON.parse(cni.configuration_values)).toEqual({ enableNetworkPolicy: "true" });
  });
});

describe("the load balancer controller and the OIDC client secret", () => {
  it("may read exactly that Secret in each namespace with an authenticated Ingress, and nothing else", () => {
    const stack = synthShipped("prod").json["prod-post-install"];
    const roles = resourcesOf(stack, "kubernetes_role_v1").filter((r) => r.metadata.name === "aws-load-balancer-controller-oidc");
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(["dashboard", "logging", "monitoring"]);
    for (const r of roles) expect(r.rule).toEqual([{ api_groups: [""], resources: ["secrets"], resource_names: ["alb-oidc-client"], verbs: ["get", "list", "watch"] }]);
    const bindings = resourcesOf(stack, "kubernetes_role_binding_v1").filter((b) => b.metadata.name === "aws-load-balancer-controller-oidc");
    expect(bindings).toHaveLength(3);
    for (const b of bindings) expect(b.subject).toEqual([{ kind: "ServiceAccount", name: "aws-load-balancer-controller", namespace: "kube-system" }]);
    const lbc = load(releases(stack).find((r) => r.chart === "aws-load-balancer-controller").values[0]) as any;
    expect(lbc.clusterSecretsPermissions?.allowAllSecrets ?? false).toBe(false);
  });
});
