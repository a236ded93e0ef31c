import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load } from "js-yaml";
import { environment, parsePolicy, resourcesOf, synthEnvironment, rejection, synthShipped } from "../support/synth";

describe("a workload cluster (prod-workload-alpha, then prod-workload-alpha-apps)", () => {
  let stack: any;
  let apps: any;
  let names: string[];
  beforeAll(() => {
    const s = synthShipped("prod");
    stack = s.json["prod-workload-alpha"];
    apps = s.json["prod-workload-alpha-apps"];
    names = Object.keys(s.json);
  });

  it("is an AWS phase and a Kubernetes phase for each workload in the environment, and only those", () => {
    expect(names.filter((n) => n.startsWith("prod-workload-"))).toEqual(["prod-workload-alpha", "prod-workload-alpha-apps", "prod-workload-beta", "prod-workload-beta-apps"]);
    // The AWS phase creates the cluster and has no Kubernetes provider or object.
    expect(stack.provider.kubernetes).toBeUndefined();
    expect(stack.provider.helm).toBeUndefined();
    expect(Object.keys(stack.resource).filter((t) => t.startsWith("kubernetes_") || t.startsWith("helm_"))).toEqual([]);
    // The apps phase finds that cluster by name and creates none.
    expect(apps.resource.aws_eks_cluster).toBeUndefined();
    expect(Object.values(apps.data.aws_eks_cluster)[0]).toMatchObject({ name: "prod-alpha" });
  });

  it("applies the TargetGroupBindings through Helm after the controller, never as kubernetes_manifest", () => {
    expect(resourcesOf(apps, "kubernetes_manifest")).toEqual([]);
    const release = resourcesOf(apps, "helm_release").find((r) => r.name === "monitoring-target-groups");
    const manifests = (load(release.values[0]) as any).manifests;
    expect(manifests.map((m: any) => [m.kind, m.metadata.name, m.spec.targetType])).toEqual([
      ["TargetGroupBinding", "thanos-grpc", "ip"],
      ["TargetGroupBinding", "prometheus", "ip"],
    ]);
    for (const m of manifests) expect(m.spec.targetGroupARN).toMatch(/^\$\{data\.aws_lb_target_group\.[^.]+\.arn\}$/);
    const lbc = Object.entries(apps.resource.helm_release).find(([, r]: any) => r.chart === "aws-load-balancer-controller")![0];
    expect(release.depends_on).toContain(`helm_release.${lbc}`);
    // The names it looks up are the AWS phase's target groups.
    const tgNames = resourcesOf(stack, "aws_lb_target_group").map((t) => t.name).sort();
    expect(Object.values(apps.data.aws_lb_target_group).map((t: any) => t.name).sort()).toEqual(tgNames);
  });

  it("builds the cluster with the same secure defaults as the C&C", () => {
    const [eks] = resourcesOf(stack, "aws_eks_cluster");
    expect(eks.name).toBe("prod-alpha");
    expect(eks.vpc_config).toMatchObject({ endpoint_private_access: true, endpoint_public_access: false });
    expect(eks.encryption_config.resources).toEqual(["secrets"]);
    expect(eks.access_config).toEqual({ authentication_mode: "API", bootstrap_cluster_creator_admin_permissions: false });
    expect(resourcesOf(stack, "aws_launch_template")[0].metadata_options.http_tokens).toBe("required");
    expect(resourcesOf(stack, "aws_eks_node_group").map((g) => g.scaling_config)).toEqual(Array(3).fill({ min_size: 1, max_size: 4, desired_size: 1 }));
  });

  it("lets the C&C provisioner's role administer it through an access entry", () => {
    const assoc = resourcesOf(stack, "aws_eks_access_policy_association").map((a) => a.principal_arn);
    expect(assoc).toContain("arn:aws:iam::111111111111:role/prod-cnc-provisioner");
  });

  it("peers with the C&C VPC, with routes both ways, and joins the private zone", () => {
    const [pcx] = resourcesOf(stack, "aws_vpc_peering_connection");
    expect(pcx.auto_accept).toBe(true);
    expect(pcx.peer_vpc_id).toMatch(/^\$\{data\.aws_vpc\./);
    const routes = resourcesOf(stack, "aws_route").filter((r) => r.vpc_peering_connection_id);
    expect(routes.filter((r) => r.destination_cidr_block === "10.10.0.0/16")).toHaveLength(3);
    const back = routes.find((r) => r.destination_cidr_block === "10.20.0.0/16");
    expect(back.for_each).toMatch(/data\.aws_route_tables\./);
    expect(resourcesOf(stack, "aws_route53_zone_association")[0].vpc_id).toMatch(/^\$\{aws_vpc\./);
  });

  it("admits Thanos gRPC (10901) and Prometheus (9090) only from the C&C VPC", () => {
    const sgName = Object.entries(stack.resource.aws_security_group).find(([, g]: any) => g.name === "prod-alpha-monitoring-nlb")![0];
    const rules = resourcesOf(stack, "aws_vpc_security_group_ingress_rule").filter((r) => r.security_group_id === `\${aws_security_group.${sgName}.id}`);
    expect(rules.map((r) => [r.cidr_ipv4, r.from_port, r.to_port]).sort()).toEqual([
      ["10.10.0.0/16", 10901, 10901],
      ["10.10.0.0/16", 9090, 9090],
    ]);
    const [nlb] = resourcesOf(stack, "aws_lb");
    expect(nlb).toMatchObject({ load_balancer_type: "network", internal: true });
  });

  it("publishes <name>-grpc and <name>.prometheus in the private zone, pointing at the NLB, in the same apply", () => {
    const records = resourcesOf(stack, "aws_route53_record");
    expect(records.map((r) => r.name).sort()).toEqual(["alpha-grpc.internal.cloud.example.com", "alpha.prometheus.internal.cloud.example.com"]);
    for (const r of records) expect(r.alias.name).toMatch(/^\$\{aws_lb\.[^.]+\.dns_name\}$/);
  });

  it("labels its Prometheus with its own cluster name and the environment, and uploads through IRSA", () => {
    const kps: any = load(resourcesOf(apps, "helm_release").find((r) => r.name === "kps").values[0]);
    expect(kps.prometheus.prometheusSpec.externalLabels).toEqual({ cluster: "alpha", environment: "prod" });
    expect(kps.alertmanager.enabled).toBe(false);
    const role = resourcesOf(apps, "aws_iam_role").find((r) => r.name === "prod-alpha-thanos-sidecar");
    const trust = parsePolicy(role.assume_role_policy).Statement[0].Condition.StringEquals;
    expect(Object.values(trust)).toEqual(expect.arrayContaining(["system:serviceaccount:monitoring:prometheus", "sts.amazonaws.com"]));
  });

  it("ships logs with a role the C&C's domain maps as a backend role", () => {
    expect(resourcesOf(apps, "aws_iam_role").find((r) => r.name === "prod-alpha-fluent-bit")).toBeDefined();
  });

  it("keeps installations' data encrypted and private, with optional Redis and EFS", () => {
    const [db] = resourcesOf(stack, "aws_db_instance");
    expect(db).toMatchObject({ storage_encrypted: true, publicly_accessible: false, manage_master_user_password: true, deletion_protection: true, skip_final_snapshot: false, performance_insights_enabled: true });
    expect(db.password).toBeUndefined();
    const files = Object.entries(stack.resource.aws_s3_bucket).find(([, b]: any) => b.bucket === "cloud-prod-alpha-files-111111111111")![0];
    expect(resourcesOf(stack, "aws_s3_bucket_public_access_block").find((p) => p.bucket === `\${aws_s3_bucket.${files}.id}`)).toBeDefined();
    const [redis] = resourcesOf(stack, "aws_elasticache_replication_group");
    expect(redis).toMatchObject({ at_rest_encryption_enabled: "true", transit_encryption_enabled: true });
    expect(redis.auth_token).toMatch(/^\$\{data\.aws_secretsmanager_secret_version\./);
    expect(resourcesOf(stack, "aws_efs_file_system")[0].encrypted).toBe(true);
  });

  it("backs up its database and EFS daily with AWS Backup, in a vault encrypted with the platform's key, kept the environment's retention", () => {
    const key = (s: any, description: string) => `\${aws_kms_key.${Object.entries(s.resource.aws_kms_key).find(([, k]: any) => k.description === description)![0]}.arn}`;
    const [vault] = resourcesOf(stack, "aws_backup_vault");
    expect(vault).toMatchObject({ name: "prod-alpha-backups", kms_key_arn: key(stack, "Mattermost files of prod-alpha") });
    const [plan] = resourcesOf(stack, "aws_backup_plan");
    expect(plan.rule).toEqual([expect.objectContaining({ schedule: "cron(0 3 * * ? *)", lifecycle: { delete_after: 35 } })]);
    const [selection] = resourcesOf(stack, "aws_backup_selection");
    const addressOf = (type: string) => Object.keys(stack.resource[type])[0];
    expect([...selection.resources].sort()).toEqual([`\${aws_db_instance.${addressOf("aws_db_instance")}.arn}`, `\${aws_efs_file_system.${addressOf("aws_efs_file_system")}.arn}`].sort());
    const attached = resourcesOf(stack, "aws_iam_role_policy_attachment").filter((a) => a.role.includes("backups_role")).map((a) => a.policy_arn).sort();
    expect(attached).toEqual(["arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup", "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores"]);
    // The provisioner's database in the C&C, too; and a cluster without EFS backs up its database only.
    const post = synthShipped("prod").json["prod-post-install"];
    expect(resourcesOf(post, "aws_backup_selection")[0].resources).toEqual([`\${aws_db_instance.${Object.keys(post.resource.aws_db_instance)[0]}.arn}`]);
    expect(resourcesOf(synthShipped("prod").json["prod-workload-beta"], "aws_backup_selection")[0].resources).toHaveLength(1);
  });

  it("takes its backup schedule and retention from the environment, refuses a schedule AWS Backup cannot read, and can be turned off", () => {
    const custom = synthEnvironment(environment("prod", (e) => ((e as any).backups = { schedule: "cron(30 1 * * ? *)", retentionDays: 90 }))).json["prod-workload-alpha"];
    expect(resourcesOf(custom, "aws_backup_plan")[0].rule[0]).toMatchObject({ schedule: "cron(30 1 * * ? *)", lifecycle: { delete_after: 90 } });
    expect(rejection((e) => ((e as any).backups = { schedule: "0 3 * * *" }))).toMatch(/backups\.schedule: expected an AWS Backup cron expression such as "cron\(0 3 \* \* \? \*\)", got "0 3 \* \* \*"/);
    const off = synthEnvironment(environment("prod", (e) => ((e as any).backups = { enabled: false }))).json["prod-workload-alpha"];
    expect(resourcesOf(off, "aws_backup_plan")).toHaveLength(0);
  });

  it("leaves Redis and EFS out unless the cluster asks for them", () => {
    const beta = synthShipped("prod").json["prod-workload-beta"];
    expect(resourcesOf(beta, "aws_elasticache_replication_group")).toHaveLength(0);
    expect(resourcesOf(beta, "aws_efs_file_system")).toHaveLength(0);
  });

  it("creates declared installations wired to the database and filestore, each with its own IRSA role", () => {
    const s = synthEnvironment(
      environment("prod", (e: any) => (e.workloads[0].installations = [{ name: "acme", dns: "acme.cloud.example.com", size: "1000users", version: "10.11.2" }])),
    ).json["prod-workload-alpha-apps"];
    const release = resourcesOf(s, "helm_release").find((r) => r.name === "installation-acme");
    const [mm] = (load(release.values[0]) as any).manifests;
    expect(mm).toMatchObject({ apiVersion: "installation.mattermost.com/v1beta1", kind: "Mattermost", metadata: { name: "acme", namespace: "mm-acme" } });
    expect(mm.spec).toMatchObject({ size: "1000users", version: "10.11.2", fileStore: { external: { useServiceAccount: true } } });
    expect(mm.spec.database.external.secret).toBe("acme-database");
    const operator = Object.entries(s.resource.helm_release).find(([, r]: any) => r.chart === "mattermost-operator")![0];
    const job = Object.entries(s.resource.kubernetes_job_v1).find(([, j]: any) => j.metadata.namespace === "mm-acme")!;
    expect(release.depends_on).toEqual(expect.arrayContaining([`helm_release.${operator}`, `kubernetes_job_v1.${job[0]}`]));
    const role = resourcesOf(s, "aws_iam_role").find((r) => r.name === "prod-alpha-acme-files");
    expect(Object.values(parsePolicy(role.assume_role_policy).Statement[0].Condition.StringEquals)).toContain("system:serviceaccount:mm-acme:acme");
    // Its own DSN never passes through Terraform: no read of the secret, no Secret resource holding it.
    expect(JSON.stringify(s.data?.aws_secretsmanager_secret_version ?? {})).not.toContain("installations/acme/database");
    expect(resourcesOf(s, "kubernetes_secret_v1").filter((x) => x.metadata.name === "acme-database")).toEqual([]);
    // A Job (then a CronJob) copies it in the cluster, with a role that reads exactly that secret.
    const [, body]: any = job;
    expect(body.wait_for_completion).toBe(true);
    const c = body.spec.template.spec.container[0];
    expect(Object.fromEntries(c.env.map((e: any) => [e.name, e.value]))).toMatchObject({ SOURCE_SECRET: "prod/alpha/installations/acme/database", TARGET_SECRET: "acme-database" });
    expect(c.command[2]).toContain("kubectl apply --server-side");
    expect(c.command[2]).toMatch(/\[ -n "\$dsn" \]/);
    const sync = resourcesOf(s, "aws_iam_role").find((r) => r.name === "prod-alpha-acme-db-sync");
    expect(Object.values(parsePolicy(sync.assume_role_policy).Statement[0].Condition.StringEquals)).toContain("system:serviceaccount:mm-acme:db-secret-sync");
    const policy = parsePolicy(resourcesOf(s, "aws_iam_role_policy").find((p) => String(p.role).includes("db-sync")).policy);
    expect(policy.Statement).toEqual([
      expect.objectContaining({ Action: ["secretsmanager:GetSecretValue"], Resource: "arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/alpha/installations/acme/database-*" }),
      // The source is encrypted with the environment's secrets key: decrypt only through Secrets Manager, only that key.
      expect.objectContaining({ Action: "kms:Decrypt", Condition: { StringEquals: { "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com" }, "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/prod-secrets" } } }),
    ]);
    expect(resourcesOf(s, "kubernetes_cron_job_v1").find((x) => x.metadata.namespace === "mm-acme").spec.schedule).toBe("*/15 * * * *");
    expect(JSON.stringify(s)).not.toMatch(/master_user_secret\[0\]/);
    // Served by an internet-facing ALB over HTTPS, health-checked on Mattermost's ping route.
    expect(mm.spec.ingress.annotations).toMatchObject({
      "alb.ingress.kubernetes.io/scheme": "internet-facing",
      "alb.ingress.kubernetes.io/target-type": "ip",
      "alb.ingress.kubernetes.io/ssl-redirect": "443",
      "alb.ingress.kubernetes.io/healthcheck-path": "/api/v4/system/ping",
      "alb.ingress.kubernetes.io/tags": "platform/load-balancer=prod/prod-alpha/alb-installations",
    });
    // Every field exists in the operator's CRD (v1beta1 openAPIV3Schema of the pinned chart).
    expect(unknownFields(mm, mattermostSchema())).toEqual([]);
    expect(unknownFields({ spec: { ingress: { hostz: "x" } } }, mattermostSchema())).toEqual(["spec.ingress.hostz"]);
  });
});

describe("the installation DSN sync, run by a real shell", () => {
  let cached: string[] | undefined;
  const script = () => {
    if (cached) return cached;
    const s = synthEnvironment(environment("prod", (e: any) => (e.workloads[0].installations = [{ name: "acme", dns: "acme.cloud.example.com", size: "1000users", version: "10.11.2" }]))).json["prod-workload-alpha-apps"];
    return (cached = (Object.values(s.resource.kubernetes_job_v1)[0] as any).spec.template.spec.container[0].command as string[]);
  };
  const run = (command: string[], dsn: string) => {
    const dir = mkdtempSync(join(tmpdir(), "dsn-sync-"));
    writeFileSync(join(dir, "aws"), `#!/bin/sh\nprintf '%s\\n' '${dsn}'\n`, { mode: 0o755 });
    // kubectl stand-in: records its arguments and what it was given on stdin.
    writeFileSync(join(dir, "kubectl"), `#!/bin/sh\necho "$*" >> "${dir}/calls"\nif [ "$1" = create ]; then cat "$(echo "$*" | sed -E 's/.*--from-file=[A-Z_]+=([^ ]+).*/\\1/')" > "${dir}/value"; echo manifest; else cat > /dev/null; fi\n`, { mode: 0o755 });
    const tmp = join(dir, "tmp");
    mkdirSync(tmp);
    let code = 0;
    try {
      execFileSync(command[0], [command[1], command[2].replaceAll("/tmp/dsn", join(tmp, "dsn"))], { env: { PATH: `${dir}:${process.env.PATH}`, SOURCE_SECRET: "s", TARGET_SECRET: "acme-database" }, stdio: "ignore" });
    } catch (err: any) {
      code = err.status;
    }
    const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : "");
    const out = { code, calls: read("calls"), value: read("value"), leftOver: existsSync(join(tmp, "dsn")) };
    rmSync(dir, { recursive: true, force: true });
    return out;
  };

  it("writes the DSN by server-side apply and leaves no copy behind", () => {
    const r = run(script(), "postgres://acme:pw@db:5432/acme?sslmode=require");
    expect(r.code).toBe(0);
    expect(r.value).toBe("postgres://acme:pw@db:5432/acme?sslmode=require");
    // The two ends of the pipe run side by side: either may be recorded first.
    expect(r.calls.trim().split("\n").sort()).toEqual([
      "apply --server-side --field-manager=db-secret-sync --force-conflicts -f -",
      expect.stringMatching(/^create secret generic acme-database --from-file=DB_CONNECTION_STRING=\S+ --dry-run=client -o yaml$/),
    ]);
    expect(r.leftOver).toBe(false);
  });

  it("never writes an empty value over a good Secret", () => {
    for (const empty of ["", "None"]) {
      const r = run(script(), empty);
      expect(r.code).not.toBe(0);
      expect(r.calls).toBe("");
    }
  });
});

describe("workload input is checked at synth", () => {
  const reject = rejection;
  it("rejects overlapping CIDRs and names that are not DNS labels", () => {
    expect(reject((e) => (e.workloads[1].cidr = "10.20.128.0/17"))).toMatch(/workloads\[1\]\.cidr: 10\.20\.128\.0\/17 overlaps workloads\[0\] \("alpha", 10\.20\.0\.0\/16\)/);
    expect(reject((e) => (e.workloads[0].name = "alpha.one"))).toMatch(/workloads\[0\]\.name: expected a lower-case DNS label/);
    expect(reject((e) => (e.workloads[0].name = "alpha-apps"))).toMatch(/workloads\[0\]\.name: must not end in "-apps"/);
  });
  it("needs only an entry in the environment to get a new stack", () => {
    const s = synthEnvironment(
      environment("prod", (e: any) => e.workloads.push({ name: "gamma", cidr: "10.22.0.0/16", nodeGroups: [{ name: "general", instanceTypes: ["m6i.large"], minSize: 1, maxSize: 3, desiredSize: 1 }] })),
    );
    expect(Object.keys(s.json)).toEqual(expect.arrayContaining(["prod-workload-gamma", "prod-workload-gamma-apps"]));
    expect(resourcesOf(s.json["prod-workload-gamma"], "aws_route53_record").map((r) => r.name)).toContain("gamma-grpc.internal.cloud.example.com");
  });
});

/** The openAPIV3Schema of the `Mattermost` kind from the pinned operator chart's crds/. */
function mattermostSchema(): any {
  const crd = load(readFileSync(join(__dirname, "..", "..", "..", "shared", "charts", "mattermost-operator", "1.0.5", "chart", "crds", "crd-mattermosts.yaml"), "utf8")) as any;
  return crd.spec.versions.find((v: any) => v.name === "v1beta1").schema.openAPIV3Schema;
}

/** Paths of `value` that `schema` does not declare (free-form maps and preserved fields excepted). */
function unknownFields(value: any, schema: any, path = ""): string[] {
  if (!value || typeof value !== "object" || Array.isArray(value) || !schema) return [];
  if (schema["x-kubernetes-preserve-unknown-fields"] || (schema.additionalProperties && !schema.properties)) return [];
  const props = schema.properties ?? {};
  return Object.entries(value).flatMap(([k, v]) => {
    const p = path ? `${path}.${k}` : k;
    if (!path && ["apiVersion", "kind", "metadata"].includes(k)) return [];
    return k in props ? unknownFields(v, props[k], p) : [p];
  });
}
