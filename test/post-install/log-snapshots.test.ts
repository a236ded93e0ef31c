/**
 * Manual snapshots of the log domain: the bucket, the role OpenSearch assumes, the CronJob and its
 * IRSA role, the domain's mapping of that role, and what the emulator's rehearsal applies of them.
 */
import { load } from "js-yaml";
import { emulatorHoldReason } from "../../scripts/lib/emulator-support";
import { prune } from "../../scripts/lib/tf-json";
import { podSpecOf, pssViolations } from "../../scripts/verify/kube-policy";
import { terraformObjects } from "../../scripts/verify/objects";
import { environment, parsePolicy, resourcesOf, synthEnvironment, synthShipped } from "../support/synth";

const BUCKET = "cloud-prod-log-snapshots-111111111111";
const entryOf = (stack: any, type: string, match: (r: any) => boolean): [string, any] => {
  const found = Object.entries(stack.resource?.[type] ?? {}).find(([, r]) => match(r));
  expect(found).toBeDefined();
  return found as [string, any];
};
const cronJob = (stack: any) => resourcesOf(stack, "kubernetes_cron_job_v1").find((c) => c.metadata.name === "opensearch-snapshots");
/** The ExternalSecrets and SecretStores of one namespace, from the stack's manifests releases, with the release's id. */
const secretObjectsOf = (stack: any, namespace: string) =>
  Object.entries<any>(stack.resource?.helm_release ?? {})
    .filter(([, r]) => r.name === "external-secrets-objects" && r.namespace === namespace)
    .flatMap(([id, r]) => (((load(r.values?.[0] ?? "") as any)?.manifests ?? []) as any[]).map((object) => ({ release: id, object })));
const envOf = (cron: any) => Object.fromEntries(cron.spec.job_template.spec.template.spec.container[0].env.map((e: any) => [e.name, e.value ?? e.value_from]));

describe("log snapshots (prod)", () => {
  let stack: any;
  beforeAll(() => {
    stack = synthShipped("prod").json["prod-post-install"];
  });

  it("keep the snapshot bucket versioned, encrypted with its own rotating key, private, TLS-only, access-logged and undeletable", () => {
    const [bucketId, bucket] = entryOf(stack, "aws_s3_bucket", (b) => b.bucket === BUCKET);
    expect(bucket.lifecycle.prevent_destroy).toBe(true);
    expect(bucket.force_destroy).toBe(false);
    const of = (type: string) => resourcesOf(stack, type).find((r) => r.bucket === `\${aws_s3_bucket.${bucketId}.id}`);
    expect(of("aws_s3_bucket_versioning").versioning_configuration.status).toBe("Enabled");
    const sse = of("aws_s3_bucket_server_side_encryption_configuration").rule[0];
    expect(sse).toMatchObject({ bucket_key_enabled: true, apply_server_side_encryption_by_default: { sse_algorithm: "aws:kms" } });
    const keyId = /^\$\{aws_kms_key\.([^.]+)\.arn\}$/.exec(sse.apply_server_side_encryption_by_default.kms_master_key_id)![1];
    expect(stack.resource.aws_kms_key[keyId]).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30, lifecycle: { prevent_destroy: true } });
    expect(resourcesOf(stack, "aws_kms_alias").find((a) => a.target_key_id === `\${aws_kms_key.${keyId}.key_id}`).name).toBe(`alias/${BUCKET}`);
    expect(of("aws_s3_bucket_public_access_block")).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
    expect(of("aws_s3_bucket_ownership_controls").rule.object_ownership).toBe("BucketOwnerEnforced");
    expect(of("aws_s3_bucket_logging")).toMatchObject({ target_bucket: "cloud-prod-access-logs-111111111111", target_prefix: `${BUCKET}/` });
    expect(of("aws_s3_bucket_lifecycle_configuration").rule[0].noncurrent_version_expiration).toEqual([{ noncurrent_days: 30 }]);
    const policy = JSON.parse(of("aws_s3_bucket_policy").policy);
    expect(policy.Statement.map((s: any) => s.Sid)).toEqual(["DenySseS3Uploads", "DenyInsecureTransport"]);
    // repository-s3's server_side_encryption would ask for SSE-S3 and bypass the key: refused.
    expect(policy.Statement[0]).toMatchObject({ Effect: "Deny", Action: "s3:PutObject", Condition: { StringEquals: { "s3:x-amz-server-side-encryption": "AES256" } } });
  });

  it("let only OpenSearch, for this domain of this account, assume the snapshot role, which may only use that bucket and its key through S3", () => {
    const [roleId, role] = entryOf(stack, "aws_iam_role", (r) => r.name === "prod-logs-snapshot-repository");
    expect(JSON.parse(role.assume_role_policy).Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "es.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": "111111111111" }, ArnLike: { "aws:SourceArn": "arn:aws:es:us-east-1:111111111111:domain/prod-logs" } },
      },
    ]);
    const policies = resourcesOf(stack, "aws_iam_role_policy").filter((p) => p.role === `\${aws_iam_role.${roleId}.id}`);
    expect(policies).toHaveLength(1);
    expect(resourcesOf(stack, "aws_iam_role_policy_attachment").filter((a) => String(a.role).includes(roleId))).toEqual([]);
    const statements = JSON.parse(policies[0].policy).Statement;
    const bucketArn = `arn:aws:s3:::${BUCKET}`;
    expect(statements).toEqual([
      { Sid: "ListSnapshotBucket", Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: bucketArn },
      { Sid: "SnapshotObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: `${bucketArn}/*` },
      { Sid: "SnapshotBucketKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: expect.stringMatching(/^\$\{aws_kms_key\.log-snapshots_key_[^.]+\.arn\}$/), Condition: { StringEquals: { "kms:ViaService": "s3.us-east-1.amazonaws.com" } } },
    ]);
  });

  it("give the CronJob an IRSA role for its one ServiceAccount that may call only the _snapshot API and pass only the snapshot role", () => {
    const [roleId, role] = entryOf(stack, "aws_iam_role", (r) => r.name === "prod-cnc-opensearch-snapshots");
    const trust = parsePolicy(role.assume_role_policy).Statement[0];
    expect(Object.entries(trust.Condition.StringEquals).find(([k]) => k.endsWith(":sub"))![1]).toBe("system:serviceaccount:logging:opensearch-snapshots");
    const [serviceRoleId] = entryOf(stack, "aws_iam_role", (r) => r.name === "prod-logs-snapshot-repository");
    const policy = JSON.parse(resourcesOf(stack, "aws_iam_role_policy").find((p) => p.role === `\${aws_iam_role.${roleId}.id}`).policy);
    expect(policy.Statement).toEqual([
      {
        Sid: "SnapshotApi",
        Effect: "Allow",
        Action: ["es:ESHttpGet", "es:ESHttpPut", "es:ESHttpPost", "es:ESHttpDelete"],
        Resource: ["arn:aws:es:us-east-1:111111111111:domain/prod-logs/_snapshot", "arn:aws:es:us-east-1:111111111111:domain/prod-logs/_snapshot/*"],
      },
      { Sid: "PassTheSnapshotRole", Effect: "Allow", Action: "iam:PassRole", Resource: `\${aws_iam_role.${serviceRoleId}.arn}`, Condition: { StringEquals: { "iam:PassedToService": "es.amazonaws.com" } } },
    ]);
    // Fine-grained access control admits that role (by the ARN its name gives) to manage_snapshots, and nothing else of it.
    const mapping = resourcesOf(stack, "opensearch_roles_mapping").filter((m) => m.role_name === "manage_snapshots");
    expect(mapping.map((m) => m.backend_roles)).toEqual([["arn:aws:iam::111111111111:role/prod-cnc-opensearch-snapshots"]]);
    expect(resourcesOf(stack, "opensearch_roles_mapping").filter((m) => m.backend_roles.includes("arn:aws:iam::111111111111:role/prod-cnc-opensearch-snapshots"))).toHaveLength(1);
    const sa = resourcesOf(stack, "kubernetes_service_account_v1").find((s) => s.metadata.name === "opensearch-snapshots");
    expect(sa.metadata).toMatchObject({ namespace: "logging", annotations: { "eks.amazonaws.com/role-arn": `\${aws_iam_role.${roleId}.arn}` } });
  });

  it("run the CronJob daily, one at a time, under restricted Pod Security, with requests, no API token and the webhook as a file written by the External Secrets Operator", () => {
    const cron = cronJob(stack);
    expect(cron.metadata.namespace).toBe("logging");
    expect(cron.spec).toMatchObject({ schedule: "30 2 * * *", concurrency_policy: "Forbid" });
    const job = cron.spec.job_template.spec;
    expect(job).toMatchObject({ backoff_limit: 0, active_deadline_seconds: 3600 });
    const pod = job.template.spec;
    expect(pod).toMatchObject({ service_account_name: expect.stringMatching(/^\$\{kubernetes_service_account_v1\.opensearch-snapshots_sa_[^.]+\.metadata\[0\]\.name\}$/), automount_service_account_token: false, restart_policy: "Never" });
    expect(pod.security_context).toEqual({ run_as_non_root: true, run_as_user: "10001", run_as_group: "10001", fs_group: "10001", seccomp_profile: { type: "RuntimeDefault" } });
    expect(Number(pod.security_context.run_as_user)).toBeGreaterThanOrEqual(10000);
    const [c] = pod.container;
    expect(c.image).toMatch(/^public\.ecr\.aws\/docker\/library\/node:\d+\.\d+\.\d+-alpine[\d.]+@sha256:[0-9a-f]{64}$/);
    expect(c.security_context).toMatchObject({ run_as_non_root: true, read_only_root_filesystem: true, allow_privilege_escalation: false, privileged: false, capabilities: { drop: ["ALL"] }, seccomp_profile: { type: "RuntimeDefault" } });
    expect(c.resources).toEqual({ requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "250m", memory: "192Mi" } });
    const env = envOf(cron);
    expect(env).toMatchObject({
      OPENSEARCH_ENDPOINT: expect.stringMatching(/^https:\/\/\$\{aws_opensearch_domain\.[^.]+\.endpoint\}$/),
      AWS_REGION: "us-east-1",
      SNAPSHOT_REPOSITORY: "log-snapshots",
      SNAPSHOT_BUCKET: expect.stringMatching(/^\$\{aws_s3_bucket\.log-snapshots_bucket_[^.]+\.bucket\}$/),
      SNAPSHOT_ROLE_ARN: expect.stringMatching(/^\$\{aws_iam_role\.log-snapshots_service-role_[^.]+\.arn\}$/),
      SNAPSHOT_RETENTION_DAYS: "30",
      ENVIRONMENT_NAME: "prod",
    });
    expect(c.env.some((e: any) => e.value_from)).toBe(false);
    const mount = c.volume_mount.find((m: any) => env.MATTERMOST_ALERTS_HOOK_FILE.startsWith(`${m.mount_path}/`));
    expect(mount.read_only).toBe(true);
    expect(pod.volume.find((v: any) => v.name === mount.name).secret).toMatchObject({
      secret_name: "opensearch-snapshots-alerts-hook",
      items: [{ key: "url", path: env.MATTERMOST_ALERTS_HOOK_FILE.slice(mount.mount_path.length + 1) }],
      default_mode: "0440",
    });
    // Terraform never holds the URL: no Secret of it here, the operator writes it from Secrets Manager.
    expect(resourcesOf(stack, "kubernetes_secret_v1").some((s) => s.metadata.name === "opensearch-snapshots-alerts-hook")).toBe(false);
    const logging = secretObjectsOf(stack, "logging");
    const hook = logging.find((o) => o.object.kind === "ExternalSecret" && o.object.metadata.name === "opensearch-snapshots-alerts-hook")!;
    expect(hook.object.spec).toMatchObject({
      secretStoreRef: { kind: "SecretStore", name: "aws-secrets-manager" },
      target: { name: "opensearch-snapshots-alerts-hook" },
      data: [{ secretKey: "url", remoteRef: { key: "prod/cnc/mattermost-alerts-webhook" } }],
    });
    expect(logging.some((o) => o.object.kind === "SecretStore" && o.object.metadata.name === "aws-secrets-manager")).toBe(true);
    // The job's ServiceAccount (and so the CronJob, which names it) waits for those objects.
    const sa = resourcesOf(stack, "kubernetes_service_account_v1").find((s) => s.metadata.name === "opensearch-snapshots");
    expect(sa.depends_on).toContain(`helm_release.${hook.release}`);
    // The logging namespace enforces only "privileged" (fluent-bit reads the host); this pod meets "restricted" anyway.
    const ns = resourcesOf(stack, "kubernetes_namespace_v1").find((n) => n.metadata.name === "logging");
    expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    const object = terraformObjects({ json: stack }).find((o) => o.object.kind === "CronJob" && o.object.metadata?.name === "opensearch-snapshots")!.object;
    const spec = podSpecOf(object);
    expect(pssViolations(spec, "restricted")).toEqual([]);
    expect(pssViolations({ ...spec, securityContext: {}, containers: spec.containers.map((c: any) => ({ ...c, securityContext: {} })) }, "restricted")).not.toEqual([]);
    const code = resourcesOf(stack, "kubernetes_config_map_v1").find((m) => m.metadata.name === "opensearch-snapshots-code");
    expect(code.binary_data["main.js.gz"]).toMatch(/^\$\{filebase64\("assets\/.+main\.js\.gz"\)\}$/);
  });
});

describe("log snapshots in other environments", () => {
  it("take the schedule and retention from the environment (staging keeps 14 days)", () => {
    expect(envOf(cronJob(synthShipped("staging").json["staging-post-install"])).SNAPSHOT_RETENTION_DAYS).toBe("14");
    const env = environment("prod", (raw: any) => (raw.logging.snapshots = { schedule: "15 4 * * 0", retentionDays: 90 }));
    const stack = synthEnvironment(env).json["prod-post-install"];
    expect(cronJob(stack).spec.schedule).toBe("15 4 * * 0");
    expect(envOf(cronJob(stack)).SNAPSHOT_RETENTION_DAYS).toBe("90");
  });

  it("give the logging namespace its own SecretStore and reader role for the webhook when login is off (no OIDC Secret there)", () => {
    const apiAuth = (e: any) => ({ ...e.provisioner.apiAuth, issuer: "https://idp.example.com", tokenEndpoint: "https://idp.example.com/oauth2/token" });
    const env = environment("prod", (e: any) => Object.assign(e, { auth: { enabled: false }, dns: { ...e.dns, publicApps: [] }, provisioner: { ...e.provisioner, apiAuth: apiAuth(e) } }));
    const stack = synthEnvironment(env).json["prod-post-install"];
    const logging = secretObjectsOf(stack, "logging").map((o) => `${o.object.kind}/${o.object.metadata.name}`);
    expect(logging.sort()).toEqual(["ExternalSecret/opensearch-snapshots-alerts-hook", "SecretStore/aws-secrets-manager"]);
    const [roleId] = entryOf(stack, "aws_iam_role", (r) => r.name === "prod-cnc-secrets-logging");
    const statements = resourcesOf(stack, "aws_iam_role_policy")
      .filter((p) => p.role === `\${aws_iam_role.${roleId}.id}` || p.role === `\${aws_iam_role.${roleId}.name}`)
      .flatMap((p) => parsePolicy(p.policy).Statement);
    expect(statements.find((st: any) => st.Sid === "ReadNamedSecrets").Resource).toEqual(["arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/cnc/mattermost-alerts-webhook-??????"]);
  });

  it("leave nothing behind when turned off", () => {
    const stack = synthEnvironment(environment("prod", (raw: any) => (raw.logging.snapshots = { enabled: false }))).json["prod-post-install"];
    expect(cronJob(stack)).toBeUndefined();
    expect(secretObjectsOf(stack, "logging").some((o) => o.object.metadata.name === "opensearch-snapshots-alerts-hook")).toBe(false);
    expect(resourcesOf(stack, "aws_s3_bucket").some((b) => b.bucket === BUCKET)).toBe(false);
    expect(resourcesOf(stack, "aws_iam_role").some((r) => /snapshot/.test(r.name))).toBe(false);
    expect(resourcesOf(stack, "opensearch_roles_mapping").some((m) => m.role_name === "manage_snapshots")).toBe(false);
  });

  it("apply the bucket and both roles on the emulator, and hold back what needs the domain or Kubernetes, each with its reason", () => {
    const stack = synthShipped("local").json["local-post-install"];
    const pruned = prune(stack, (_a, type, kind) => emulatorHoldReason(type, kind), (p) => p !== "aws");
    const bucket = Object.entries(stack.resource.aws_s3_bucket).find(([, b]: any) => b.bucket === "cloud-local-log-snapshots-123456789012");
    expect(bucket).toBeDefined();
    const kept = new Set(pruned.kept);
    expect(kept.has(`aws_s3_bucket.${bucket![0]}`)).toBe(true);
    for (const [id, r] of Object.entries<any>(stack.resource.aws_iam_role).filter(([, r]) => /snapshot/.test(r.name))) {
      expect(kept.has(`aws_iam_role.${id}`)).toBe(true);
      expect(kept.has(`aws_iam_role_policy.${Object.entries<any>(stack.resource.aws_iam_role_policy).find(([, p]) => p.role === `\${aws_iam_role.${id}.id}`)![0]}`)).toBe(true);
      expect(r.name).toMatch(/^local-(logs-snapshot-repository|cnc-opensearch-snapshots)$/);
    }
    const held = new Map(pruned.heldBack.map((h) => [h.address, h.reason]));
    const heldOf = (type: string, match: (r: any) => boolean) => held.get(`${type}.${Object.entries<any>(stack.resource[type]).find(([, r]) => match(r))![0]}`);
    expect(heldOf("kubernetes_cron_job_v1", (c) => c.metadata.name === "opensearch-snapshots")).toMatch(/Kubernetes API server/);
    expect(heldOf("opensearch_roles_mapping", (m) => m.role_name === "manage_snapshots")).toMatch(/offline provider mirror/);
    expect(heldOf("aws_opensearch_domain", () => true)).toMatch(/10 minutes/);
  });
});
