import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load } from "js-yaml";
import CLOUD_FLAGS from "../../config/provisioner/cloud-flags-v0.90.0.json";
import { PROVISIONER_ACTIONS, provisionerFeatures, type ProvisionerFeature } from "../../config/provisioner/iam-actions";
import { API_PROBE, LIVENESS_PROBE, START_WITH_DATABASE, serverFlags } from "../../constructs/provisioner/provisioner";
import { environment, parsePolicy, resourcesOf, rejection, synthEnvironment, synthShipped } from "../support/synth";

/** prod-post-install with one provisioner setting changed, synthesized once per file. */
const variants = new Map<string, any>();
function postInstallWith(key: "rdsDatabases" | "s3Filestores", value: boolean): any {
  const id = `${key}=${value}`;
  if (!variants.has(id)) variants.set(id, synthEnvironment(environment("prod", (e: any) => (e.provisioner[key] = value))).json["prod-post-install"]);
  return variants.get(id);
}

/** Actions that accept resource ARNs (checked against the service authorization reference). */
const ACCEPTS_ARNS = /^(route53:(ChangeResourceRecordSets|ListResourceRecordSets|GetHostedZone)|ec2:(RunInstances|TerminateInstances|Create(Tags|Volume|NetworkInterface|RouteTable|Route)|Delete\w+|Attach\w+|Detach\w+|Authorize\w+|Revoke\w+)|rds:(?!Describe)\w+|s3:\w+|secretsmanager:(?!ListSecrets)\w+|kms:(?!CreateKey|ListAliases)\w+|acm:(Describe|Get|ListTags)\w*|iam:(?!List)\w+|autoscaling:(?!Describe)\w+|elasticloadbalancing:(?!Describe)\w+|dynamodb:(?!ListTables)\w+)$/;

describe("the provisioner (prod)", () => {
  let stack: any;
  beforeAll(() => {
    stack = synthShipped("prod").json["prod-post-install"];
  });
  const deployment = (name: string) => resourcesOf(stack, "kubernetes_deployment_v1").find((d) => d.metadata.name === name);

  it("trusts exactly the provisioner's ServiceAccount, with no IAM user or access key anywhere", () => {
    const role = resourcesOf(stack, "aws_iam_role").find((r) => r.name === "prod-cnc-provisioner");
    const st = parsePolicy(role.assume_role_policy).Statement[0];
    expect(Object.values(st.Condition.StringEquals).sort()).toEqual(["sts.amazonaws.com", "system:serviceaccount:provisioner:provisioner"]);
    expect(resourcesOf(stack, "aws_iam_user")).toHaveLength(0);
    expect(resourcesOf(stack, "aws_iam_access_key")).toHaveLength(0);
    const sa = resourcesOf(stack, "kubernetes_service_account_v1").find((s) => s.metadata.name === "provisioner");
    expect(sa.metadata.annotations["eks.amazonaws.com/role-arn"]).toMatch(/^\$\{aws_iam_role\./);
  });

  const policyOf = (st: any) => JSON.parse(resourcesOf(st, "aws_iam_role_policy").find((p) => JSON.stringify(p.policy).includes("LookupsWithoutResourceArns")).policy);

  it("never grants '*' on an action that accepts resource ARNs, and scopes the rest to this account", () => {
    const policy = policyOf(stack);
    for (const st of policy.Statement) {
      const actions: string[] = [].concat(st.Action);
      const resources: string[] = [].concat(st.Resource);
      if (resources.includes("*")) {
        const scoped = actions.filter((a) => ACCEPTS_ARNS.test(a));
        expect({ sid: st.Sid, scoped }).toEqual({ sid: st.Sid, scoped: [] });
      }
      for (const r of resources) expect(r === "*" || r.includes("111111111111") || r.startsWith("arn:aws:s3:::") || r.startsWith("arn:aws:route53:::") || r.startsWith("${")).toBe(true);
    }
    // The platform's own buckets are out of reach of the installation-bucket grant.
    const deny = policy.Statement.find((s: any) => s.Effect === "Deny");
    expect(deny.Resource).toEqual(expect.arrayContaining(["arn:aws:s3:::cloud-prod-tfstate-*", "arn:aws:s3:::cloud-prod-metrics-*/*"]));
    expect(policy.Statement.find((s: any) => s.Sid === "InstallationRecords").Resource).toEqual(["arn:aws:route53:::hostedzone/${data.aws_route53_zone.private-zone.zone_id}", "arn:aws:route53:::hostedzone/${data.aws_route53_zone.public-zone.zone_id}"]);
  });

  it("covers the reference's core set (startup, EKS and external clusters, installation work), read independently of the data", () => {
    // ../shared/reference/mattermost-cloud-v0.90.0.md, section (e), "Core set ... required by the bar".
    const core = [
      "iam:ListAccountAliases", "route53:ListHostedZones", "route53:ListTagsForResource",
      "eks:CreateCluster", "eks:DescribeCluster", "eks:DeleteCluster", "eks:UpdateClusterVersion", "eks:DescribeUpdate", "eks:CreateNodegroup", "eks:DescribeNodegroup", "eks:DeleteNodegroup", "eks:CreateAddon",
      "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeImages", "ec2:DescribeLaunchTemplates", "ec2:CreateTags", "ec2:DeleteTags",
      "ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion", "ec2:DeleteLaunchTemplate", "iam:PassRole",
      "secretsmanager:GetSecretValue", "secretsmanager:CreateSecret", "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret",
      "route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets",
      "rds:DescribeDBClusters", "rds:DescribeDBInstances", "rds:DescribeDBClusterEndpoints", "rds:AddTagsToResource",
      "acm:ListCertificates", "acm:ListTagsForCertificate", "tag:GetResources", "elasticloadbalancing:AddTags", "elasticloadbalancing:DescribeLoadBalancers", "s3:ListBucket", "s3:DeleteObject",
    ];
    for (const rds of [true, false]) {
      const st = rds ? stack : postInstallWith("rdsDatabases", false);
      const allowed = new Set(policyOf(st).Statement.filter((s: any) => s.Effect === "Allow").flatMap((s: any) => [].concat(s.Action)));
      expect(core.filter((a) => !allowed.has(a))).toEqual([]);
    }
  });

  it("scopes each grant to the names v0.90.0 gives its resources (tools/aws/helpers.go)", () => {
    const st = (sid: string) => policyOf(stack).Statement.find((s: any) => s.Sid === sid);
    const secretArn = (n: string) => `arn:aws:secretsmanager:us-east-1:111111111111:secret:${n}`;
    expect(st("InstallationSecrets").Resource).toEqual(["cloud-*", "rds-multitenant-*", "perseus-iam-*"].map(secretArn));
    // Secrets it only reads (external databases' and the multitenant clusters' masters): read only.
    expect(st("SecretsItReads")).toMatchObject({ Action: ["secretsmanager:GetSecretValue"], Resource: ["prod/external-databases/*", "rds-cluster-multitenant-*"].map(secretArn) });
    // Tagged creates need TagResource; RDS needs a grant on the key, for AWS services only.
    expect(st("InstallationSecrets").Action).toContain("secretsmanager:TagResource");
    expect(st("InstallationDatabaseKeys").Action).toEqual(expect.arrayContaining(["kms:TagResource"]));
    expect(st("InstallationDatabaseKeyGrants")).toMatchObject({ Action: ["kms:CreateGrant"], Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } } });
    // ... never the platform's own secrets.
    for (const own of ["prod/cnc/grafana-admin", "prod/cnc/oidc-client", "prod/cnc/mattermost-alerts-webhook"]) {
      expect(st("InstallationSecrets").Resource.some((r: string) => new RegExp(`^${r.replace(/[.*+?^${}()|[\]\\]/g, (c) => (c === "*" ? ".*" : `\\${c}`))}$`).test(secretArn(own)))).toBe(false);
    }
    expect(st("RegisteredClusterKubeconfigs")).toMatchObject({ Action: ["secretsmanager:GetSecretValue"], Resource: secretArn("prod/provisioner/clusters/*") });
    // Buckets: cloud-<26-character installation id>, the multitenant one; the platform's denied.
    expect(st("InstallationFilestores").Resource).toContain(`arn:aws:s3:::cloud-${"?".repeat(26)}`);
    expect(st("NotThePlatformBuckets")).toMatchObject({ Effect: "Deny", Action: ["s3:*"] });
    expect(st("NotThePlatformBuckets").Resource).toEqual(expect.arrayContaining(["arn:aws:s3:::cloud-prod-*-files-*", "arn:aws:s3:::cloud-prod-tfstate-*/*"]));
    // Filestore users: off by default (IAM admin in effect); when on, only cloud-<id> users and policies.
    expect(st("FilestoreUsers")).toBeUndefined();
    const withFiles = (sid: string) => policyOf(postInstallWith("s3Filestores", true)).Statement.find((s: any) => s.Sid === sid);
    expect(withFiles("FilestoreUsers").Resource).toBe("arn:aws:iam::111111111111:user/cloud-*");
    expect(withFiles("FilestorePolicies").Resource).toBe("arn:aws:iam::111111111111:policy/cloud-*");
    expect(withFiles("FilestorePolicyAttachments").Condition).toEqual({ ArnLikeIfExists: { "iam:PolicyARN": "arn:aws:iam::111111111111:policy/cloud-*" } });
    // Database migrations touch only the installation databases' security groups.
    expect(st("DatabaseMigrationRules")).toMatchObject({ Action: ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"], Condition: { Null: { "ec2:ResourceTag/MattermostCloudInstallationDatabase": "false" } } });
    // By default, no IAM user rights at all.
    expect(JSON.stringify(policyOf(stack))).not.toMatch(/iam:CreateUser|iam:CreateAccessKey/);
  });

  it("allows exactly the actions the v0.90.0 server calls for the features on (the list kept as data)", () => {
    const allowed = (p: any) => new Set(p.Statement.filter((s: any) => s.Effect === "Allow").flatMap((s: any) => [].concat(s.Action)));
    // The platform's own additions: its state key, its database credentials, its SSH key.
    const own = ["kms:Decrypt", "kms:GenerateDataKey", "secretsmanager:DescribeSecret"];
    const expected = (features: ProvisionerFeature[]) => new Set([...features.flatMap((f) => [...PROVISIONER_ACTIONS[f]]), ...own]);
    expect([...allowed(policyOf(stack))].sort()).toEqual([...expected(provisionerFeatures({ rdsDatabases: true, s3Filestores: false }))].sort());
    // Turning the RDS database backends off takes their RDS and KMS rights away.
    const noRds = postInstallWith("rdsDatabases", false);
    const without = allowed(policyOf(noRds));
    expect([...without].sort()).toEqual([...expected(provisionerFeatures({ rdsDatabases: false, s3Filestores: false }))].sort());
    expect(without.has("rds:CreateDBCluster")).toBe(false);
    expect(without.has("kms:CreateKey")).toBe(false);
    for (const a of ["eks:CreateCluster", "eks:CreateNodegroup", "route53:ListTagsForResource", "iam:ListAccountAliases", "secretsmanager:CreateSecret"]) expect(without.has(a)).toBe(true);
  });

  it("runs its PostgreSQL encrypted, private, deletion-protected with a final snapshot in prod, password managed by RDS", () => {
    const db = resourcesOf(stack, "aws_db_instance").find((d) => d.identifier === "prod-provisioner");
    expect(db).toMatchObject({
      engine: "postgres",
      engine_version: "17",
      auto_minor_version_upgrade: true,
      storage_encrypted: true,
      publicly_accessible: false,
      deletion_protection: true,
      skip_final_snapshot: false,
      final_snapshot_identifier: "prod-provisioner-final",
      manage_master_user_password: true,
      backup_retention_period: 30,
      performance_insights_enabled: true,
    });
    expect(db.password).toBeUndefined();
    const sgName = /aws_security_group\.([^.]+)\.id/.exec(db.vpc_security_group_ids[0])![1];
    const rules = resourcesOf(stack, "aws_vpc_security_group_ingress_rule").filter((r) => r.security_group_id === `\${aws_security_group.${sgName}.id}`);
    expect(rules.every((r) => r.from_port === 5432 && r.to_port === 5432)).toBe(true);
    expect(rules.map((r) => r.referenced_security_group_id ?? r.cidr_ipv4)).toEqual(expect.arrayContaining([expect.stringMatching(/data\.aws_security_group\./), "10.200.0.0/16"]));
    expect(rules).toHaveLength(2);
  });

  it("keeps its state store versioned, KMS-encrypted, private and TLS-only", () => {
    const name = Object.entries(stack.resource.aws_s3_bucket).find(([, b]: any) => b.bucket === "cloud-prod-kops-state-111111111111")![0];
    const of = (type: string) => resourcesOf(stack, type).find((r) => r.bucket === `\${aws_s3_bucket.${name}.id}`);
    expect(of("aws_s3_bucket_versioning").versioning_configuration.status).toBe("Enabled");
    expect(of("aws_s3_bucket_server_side_encryption_configuration").rule[0].apply_server_side_encryption_by_default.sse_algorithm).toBe("aws:kms");
    expect(of("aws_s3_bucket_public_access_block").restrict_public_buckets).toBe(true);
  });

  it("migrates the schema in an init container before the server starts", () => {
    const server = deployment("provisioner-server");
    const [init] = server.spec.template.spec.init_container;
    // The binary is not on the image's PATH; the wrapper puts the DSN in CP_DATABASE first.
    expect(init.command).toEqual(["/bin/sh", "-ec", START_WITH_DATABASE, "start-with-database"]);
    expect(init.args).toEqual(["/mattermost-cloud/cloud", "schema", "migrate"]);
    expect(server.spec.template.spec.container[0].args.slice(0, 2)).toEqual(["/mattermost-cloud/cloud", "server"]);
    expect(deployment("provisioner-supervisor").spec.template.spec.init_container).toBeUndefined();
  });

  it("runs the installation supervisor without the cluster supervisor, replicas from the environment", () => {
    const sup = deployment("provisioner-supervisor");
    expect(sup.spec.replicas).toBe("3");
    expect(sup.spec.template.spec.container[0].args).toContain("--cluster-supervisor=false");
    expect(resourcesOf(stack, "kubernetes_pod_disruption_budget_v1").find((p) => p.metadata.name === "provisioner-supervisor")).toBeDefined();
  });

  it("runs the pinned binary with flags that all exist in v0.90.0, the required ones set, and API auth on", () => {
    const c = deployment("provisioner-server").spec.template.spec.container[0];
    expect(c.image).toBe("mattermost/mattermost-cloud:v0.90.0");
    expect(c.args.slice(0, 2)).toEqual(["/mattermost-cloud/cloud", "server"]);
    const flags = c.args.slice(2).map((a: string) => /^--([a-z0-9-]+)=/.exec(a)![1]);
    for (const f of flags) expect(Object.keys(CLOUD_FLAGS.server)).toContain(f);
    for (const f of Object.keys(CLOUD_FLAGS.requiredAtStart).filter((f) => f !== "database")) expect(flags).toContain(f);
    expect(c.args).toEqual(
      expect.arrayContaining([
        "--state-store=cloud-prod-kops-state-111111111111",
        "--utilities-git-url=https://gitlab.example.com",
        "--utilities-git-path=/gitops/gitops.git",
        "--installation-enable-route53=true",
        "--allow-list-cidr-range=10.10.0.0/16",
        "--vpn-list-cidr=10.200.0.0/16",
        "--issuer=https://idp.example.com",
        "--audience=api://prod-provisioner",
        "--jwks-url=https://idp.example.com/.well-known/jwks.json",
        "--machine-readable-logs=true",
      ]),
    );
    expect(c.args.join(" ")).not.toContain("--private-dns");
  });

  it("gets HOME, a writable work directory and its SSH key; probes a real API route; metrics on 8076", () => {
    const spec = deployment("provisioner-server").spec.template.spec;
    const c = spec.container[0];
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
    expect(env.HOME).toBe("/home/cloud");
    expect(env.SSH_PUBLIC_KEY_SECRET).toBe("prod/cnc/provisioner-ssh-public-key");
    expect(c.volume_mount.map((m: any) => m.mount_path).sort()).toEqual(["/home/cloud", "/mattermost-cloud/clusters", "/tmp"]);
    expect(spec.volume.every((v: any) => v.empty_dir)).toBe(true);
    expect(START_WITH_DATABASE).toContain('> "$HOME/.ssh/id_rsa.pub"');
    expect(c.readiness_probe.exec.command).toEqual(API_PROBE);
    // Liveness also restarts it when RDS has rotated the password it started with.
    expect(c.liveness_probe.exec.command).toEqual(LIVENESS_PROBE);
    expect(LIVENESS_PROBE[2]).toContain(API_PROBE[2]);
    expect(LIVENESS_PROBE[2]).toMatch(/get-secret-value --secret-id "\$DB_SECRET_ARN" --query VersionId .*\[ "\$v" = "\$\(cat \/tmp\/db-secret-version\)" \]/);
    expect(START_WITH_DATABASE).toContain('open("/tmp/db-secret-version", "w").write(r["VersionId"])');
    expect(API_PROBE.join(" ")).toContain("http://127.0.0.1:8075/api/clusters?page=0&per_page=1");
    expect(API_PROBE.join(" ")).toMatch(/\(200\|401\)/);
    expect(c.port.map((p: any) => [p.name, p.container_port])).toEqual([["api", 8075], ["metrics", 8076]]);
    expect(c.security_context).toMatchObject({ run_as_non_root: true, run_as_user: "10001", read_only_root_filesystem: true, allow_privilege_escalation: false });
    expect(c.resources.limits.memory).toBeDefined();
    expect(c.env_from).toBeUndefined();
  });

  it("reads its database password at start with its IRSA role: never in Terraform state or a Kubernetes Secret", () => {
    // No Terraform read of the RDS-managed secret, and no Secret holding a DSN.
    expect(JSON.stringify(stack.data.aws_secretsmanager_secret_version ?? {})).not.toContain("master_user_secret");
    expect(resourcesOf(stack, "kubernetes_secret_v1").filter((s) => s.metadata.namespace === "provisioner")).toEqual([]);
    for (const name of ["provisioner-server", "provisioner-supervisor"]) {
      const c = deployment(name).spec.template.spec.container[0];
      expect(c.command).toEqual(["/bin/sh", "-ec", START_WITH_DATABASE, "start-with-database"]);
      const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
      expect(env.DB_SECRET_ARN).toMatch(/^\$\{aws_db_instance\.[^.]+\.master_user_secret\[0\]\.secret_arn\}$/);
      expect(env.DB_ENDPOINT).toMatch(/^\$\{aws_db_instance\.[^.]+\.endpoint\}$/);
    }
    expect(START_WITH_DATABASE).toContain('aws secretsmanager get-secret-value --secret-id "$DB_SECRET_ARN"');
    expect(START_WITH_DATABASE).toContain("sslmode=require");
    expect(START_WITH_DATABASE.split("\n").pop()).toBe('exec "$@"');
    // The role may read exactly that secret (and decrypt with the instance's key).
    const role = resourcesOf(stack, "aws_iam_role_policy").find((p) => p.name?.includes("provisioner") || String(p.role).includes("provisioner"));
    const creds = parsePolicy(role.policy).Statement.find((s: any) => s.Sid === "DatabaseCredentials");
    expect(creds.Action).toEqual(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]);
    expect(creds.Resource).toMatch(/master_user_secret\[0\]\.secret_arn/);
  });

  it("serves the API and metrics on a Service scraped by a ServiceMonitor, behind an internal-only ingress", () => {
    const svc = resourcesOf(stack, "kubernetes_service_v1").find((s) => s.metadata.name === "provisioner");
    expect(svc.spec.port.map((p: any) => [p.name, p.port])).toEqual([["api", 8075], ["metrics", 8076]]);
    // Through the in-repo manifests chart, after the Prometheus operator's release (no kubernetes_manifest).
    expect(resourcesOf(stack, "kubernetes_manifest")).toEqual([]);
    const release = resourcesOf(stack, "helm_release").find((r) => r.name === "provisioner-monitoring");
    const [sm] = (load(release.values[0]) as any).manifests;
    expect(sm).toMatchObject({ apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { namespace: "provisioner" } });
    expect(sm.spec.endpoints).toEqual([{ port: "metrics", interval: "30s" }]);
    const kps = Object.entries(stack.resource.helm_release).find(([, r]: any) => r.chart === "kube-prometheus-stack")![0];
    expect(release.depends_on).toContain(`helm_release.${kps}`);
    const ing = resourcesOf(stack, "kubernetes_ingress_v1").find((i) => i.metadata.name === "provisioner");
    expect(ing.metadata.annotations["alb.ingress.kubernetes.io/scheme"]).toBe("internal");
    expect(ing.spec.rule[0].host).toBe("provisioner.internal.cloud.example.com");
  });
});

describe("the server's command line is checked against the pinned flag set", () => {
  const required = { "utilities-git-url": "https://git", "utilities-git-path": "/g.git", "installation-enable-route53": "true" };
  it("refuses a flag v0.90.0 does not have (cobra would exit at start)", () => {
    expect(() => serverFlags({ ...required, "private-dns": "internal.example.com" })).toThrow(/--private-dns is not a flag of cloud server v0\.90\.0 \(the server would exit at start\)/);
  });
  it("refuses to leave out a flag the server will not start without", () => {
    expect(() => serverFlags({ "utilities-git-url": "https://git", "installation-enable-route53": "true" })).toThrow(/refuses to start without --utilities-git-path \(server\.go:129/);
    expect(() => serverFlags({ "utilities-git-url": "https://git", "utilities-git-path": "/g.git" })).toThrow(/--installation-enable-route53 .*invalid DNS providers configuration/);
  });
  it("refuses a non-boolean value for a boolean flag, and writes --flag=value for the rest", () => {
    expect(() => serverFlags({ ...required, "installation-enable-route53": "yes" })).toThrow(/--installation-enable-route53 takes true or false/);
    expect(serverFlags({ ...required, issuer: undefined })).toEqual(["--utilities-git-url=https://git", "--utilities-git-path=/g.git", "--installation-enable-route53=true"]);
  });
  it("agrees with the reference read from the same tag: every flag in the data is one it lists", () => {
    const ref = readFileSync(join(__dirname, "..", "..", "..", "shared", "reference", "mattermost-cloud-v0.90.0.md"), "utf8");
    const section = ref.slice(ref.indexOf("Flags (type, default)"), ref.indexOf("No `--private-dns`"));
    // Expand the reference's shorthand: cluster-resource-threshold-{scale-value,cpu-override} -> two names.
    const expand = (t: string): string[] => {
      const m = /([a-z0-9-]*)\{([^}]*)\}([a-z0-9-]*)/.exec(t);
      return m ? m[2].split(",").flatMap((alt) => expand(t.slice(0, m.index) + m[1] + alt + m[3] + t.slice(m.index + m[0].length))) : [t];
    };
    const words = new Set(expand(section).join(" ").match(/[a-z][a-z0-9]*(?:-[a-z0-9]+)*/g));
    expect(Object.keys(CLOUD_FLAGS.server).filter((f) => !words.has(f))).toEqual([]);
    for (const f of ["installation-enable-route53", "utilities-git-path", "jwks-url", "cluster-resource-threshold-pod-count-override"]) expect(words.has(f)).toBe(true);
  });

  it("is the flag set of the tag: the flags this platform relies on are in it, and --private-dns is not", () => {
    expect(CLOUD_FLAGS.commit).toBe("5606e24c27cab05dcf735ee9ada5ed79ccaa77d3");
    for (const f of ["database", "listen", "metrics-port", "state-store", "issuer", "audience", "jwks-url", "cluster-supervisor"]) expect(CLOUD_FLAGS.server).toHaveProperty([f]);
    expect(CLOUD_FLAGS.server).not.toHaveProperty(["private-dns"]);
    expect(Object.keys(CLOUD_FLAGS.server)).toHaveLength(73);
  });
});

describe("bad provisioner input fails at synth with a clear sentence", () => {
  const reject = rejection;
  it("an image tag of latest", () => expect(reject((e) => (e.provisioner.imageTag = "latest"))).toMatch(/provisioner\.imageTag: must be a pinned tag, not "latest"/));
  it("a replica count below 1", () => expect(reject((e) => (e.provisioner.supervisorReplicas = 0))).toMatch(/provisioner\.supervisorReplicas: must be at least 1/));
  it("no API authentication (the API would be open to anyone who reaches it)", () => {
    expect(reject((e) => delete e.provisioner.apiAuth)).toMatch(/provisioner\.apiAuth: /);
    expect(reject((e) => (e.provisioner.apiAuth.jwksUrl = "not a url"))).toMatch(/provisioner\.apiAuth\.jwksUrl: expected the IdP's JWKS URL/);
    expect(reject((e) => delete e.provisioner.utilitiesGitPath)).toMatch(/provisioner\.utilitiesGitPath: /);
  });
  it("an unsupported database version", () => expect(reject((e) => (e.provisioner.postgresVersion = "11.22"))).toMatch(/provisioner\.postgresVersion: expected one of "16", "17", got "11\.22"/));
});

describe("the start wrapper, run by a real shell", () => {
  it("writes the SSH key, builds a URL-encoded DSN from the secret, records its version, and execs the command", () => {
    const dir = mkdtempSync(join(tmpdir(), "wrapper-"));
    // A stand-in `aws` that answers the two calls the wrapper makes.
    writeFileSync(
      join(dir, "aws"),
      `#!/bin/sh
case "$*" in
  *ssh-key*) echo "ssh-ed25519 AAAATEST provisioner" ;;
  *--output\\ json*) echo '{"VersionId":"v-42","SecretString":"{\\\\"username\\\\":\\\\"platform_admin\\\\",\\\\"password\\\\":\\\\"p@ss:w/rd%\\\\"}"}' ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
`,
      { mode: 0o755 },
    );
    const home = join(dir, "home");
    const out = execFileSync("/bin/sh", ["-ec", START_WITH_DATABASE.replace("/tmp/db-secret-version", join(dir, "version")), "start-with-database", "/bin/sh", "-c", 'echo "$CP_DATABASE"'], {
      env: { PATH: `${dir}:${process.env.PATH}`, HOME: home, SSH_PUBLIC_KEY_SECRET: "t/ssh-key", DB_SECRET_ARN: "arn:db", DB_ENDPOINT: "db.example:5432" },
      encoding: "utf8",
    });
    expect(out.trim()).toBe("postgres://platform_admin:p%40ss%3Aw%2Frd%25@db.example:5432/cloud?sslmode=require&connect_timeout=10");
    expect(readFileSync(join(home, ".ssh", "id_rsa.pub"), "utf8")).toMatch(/^ssh-ed25519 /);
    expect(readFileSync(join(dir, "version"), "utf8")).toBe("v-42");
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("the probes, run by a real shell", () => {
  const run = (probe: string[], answers: { status: string; version: string | null }) => {
    const dir = mkdtempSync(join(tmpdir(), "probe-"));
    writeFileSync(join(dir, "wget"), `#!/bin/sh\necho "  HTTP/1.1 ${answers.status}" >&2\n`, { mode: 0o755 });
    writeFileSync(join(dir, "aws"), answers.version === null ? "#!/bin/sh\nexit 255\n" : `#!/bin/sh\necho ${answers.version}\n`, { mode: 0o755 });
    writeFileSync(join(dir, "version"), "v-42");
    try {
      execFileSync(probe[0], [probe[1], probe[2].replace("/tmp/db-secret-version", join(dir, "version"))], { env: { PATH: `${dir}:${process.env.PATH}`, DB_SECRET_ARN: "arn:db" }, stdio: "ignore" });
      return "pass";
    } catch {
      return "fail";
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  it("readiness passes on 200 or 401 (API auth on), fails on anything else", () => {
    expect(run(API_PROBE, { status: "200 OK", version: "v-42" })).toBe("pass");
    expect(run(API_PROBE, { status: "401 Unauthorized", version: "v-42" })).toBe("pass");
    expect(run(API_PROBE, { status: "500 Internal Server Error", version: "v-42" })).toBe("fail");
  });
  it("liveness fails once the database password was rotated, not when the lookup itself fails", () => {
    expect(run(LIVENESS_PROBE, { status: "401 Unauthorized", version: "v-42" })).toBe("pass");
    expect(run(LIVENESS_PROBE, { status: "401 Unauthorized", version: "v-43" })).toBe("fail");
    expect(run(LIVENESS_PROBE, { status: "401 Unauthorized", version: null })).toBe("pass");
    expect(run(LIVENESS_PROBE, { status: "502 Bad Gateway", version: "v-42" })).toBe("fail");
  });
});
