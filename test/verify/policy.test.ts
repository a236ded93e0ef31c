/**
 * The policy step (scripts/verify/policy.ts): every rule has a fixture it must fail, every rule passes
 * on some real resource of the shipped environments, the shipped environments have no unreasoned
 * finding, and the exceptions file is scoped and cannot go stale.
 */
import { POLICY_EXCEPTIONS } from "../../config/policy-exceptions";
import { POLICY_RULES, checkPolicy, checkResources, exceptionFor, stackResources, type PolicyResource } from "../../scripts/verify/policy";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TerraformResource } from "cdktf";
import { synthShipped } from "../support/synth";

/**
 * The shipped environments as the policy step sees them, from the synthesis the other tests of
 * this file's worker share (no second synthesis): Testing.synth leaves out the construct paths
 * that exceptions name, so they are put back from the construct tree.
 */
function shippedStacks(): { name: string; environment: string; json: any }[] {
  return (["local", "prod", "staging"] as const).flatMap((env) => {
    const s = synthShipped(env);
    return s.stacks.ordered.map((stack) => {
      const json = structuredClone(s.json[stack.node.id]);
      for (const el of stack.node.findAll()) {
        if (!(el instanceof TerraformResource)) continue;
        const body = json.resource?.[el.terraformResourceType]?.[stack.getLogicalId(el)];
        if (body) body["//"] = { metadata: { path: el.node.path } };
      }
      return { name: stack.node.id, environment: env, json };
    });
  });
}
let shipped: { name: string; environment: string; json: any }[] = [];
beforeAll(() => {
  shipped = shippedStacks();
});

type Attrs = Record<string, unknown>;
const res = (type: string, attrs: Attrs, name = "subject"): PolicyResource => ({ type, name, path: name, attrs });
const doc = (statements: Attrs[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });
const ref = (type: string, name = "subject", attr = "id") => `\${${type}.${name}.${attr}}`;

/** A container (Terraform kubernetes provider shape) that satisfies every Kubernetes rule but the one under test. */
const goodContainer = (over: Attrs = {}): Attrs => ({
  name: "app",
  image: `registry.example.com/app:1.0.0@sha256:${"a".repeat(64)}`,
  liveness_probe: { tcp_socket: [{ port: "80" }] },
  readiness_probe: { tcp_socket: [{ port: "80" }] },
  resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
  security_context: { allow_privilege_escalation: false, read_only_root_filesystem: true, capabilities: { drop: ["ALL"] } },
  ...over,
});
const deployment = (container: Attrs = goodContainer(), pod: Attrs = {}, meta: Attrs = { namespace: "apps" }) =>
  res("kubernetes_deployment_v1", {
    metadata: { name: "app", ...meta },
    spec: { template: { spec: { automount_service_account_token: false, security_context: { run_as_non_root: true }, container: [container], ...pod } } },
  });

/** For each rule: resources whose first element must be reported by exactly that rule. */
const FAILING: Record<string, PolicyResource[]> = {
  CKV_AWS_158: [res("aws_cloudwatch_log_group", { name: "g", retention_in_days: 30 })],
  CKV_AWS_66: [res("aws_cloudwatch_log_group", { name: "g", kms_key_id: "k" })],
  CKV_AWS_319: [res("aws_cloudwatch_metric_alarm", { actions_enabled: false })],
  CKV_AWS_7: [res("aws_kms_key", { enable_key_rotation: false })],
  CKV_AWS_33: [res("aws_kms_key", { policy: doc([{ Effect: "Allow", Principal: { AWS: "*" }, Action: "kms:*", Resource: "*" }]) })],
  CKV_AWS_227: [res("aws_kms_key", { is_enabled: false })],
  CKV2_AWS_64: [res("aws_kms_key", { enable_key_rotation: true })],
  CKV_AWS_18: [res("aws_s3_bucket", { bucket: "b" })],
  CKV_AWS_21: [res("aws_s3_bucket", { bucket: "b" }), res("aws_s3_bucket_versioning", { bucket: ref("aws_s3_bucket"), versioning_configuration: { status: "Suspended" } }, "v")],
  CKV_AWS_145: [res("aws_s3_bucket", { bucket: "b" }), res("aws_s3_bucket_server_side_encryption_configuration", { bucket: ref("aws_s3_bucket"), rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: "AES256" } }] }, "e")],
  CKV2_AWS_6: [res("aws_s3_bucket", { bucket: "b" }), res("aws_s3_bucket_public_access_block", { bucket: ref("aws_s3_bucket"), block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: false }, "p")],
  CKV2_AWS_61: [res("aws_s3_bucket", { bucket: "b" })],
  CKV_AWS_300: [res("aws_s3_bucket_lifecycle_configuration", { rule: [{ id: "x", status: "Enabled", expiration: [{ days: 30 }] }] })],
  CKV_AWS_70: [res("aws_s3_bucket_policy", { policy: doc([{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "*" }]) })],
  CKV_AWS_149: [res("aws_secretsmanager_secret", { name: "s" })],
  CKV_AWS_26: [res("aws_sns_topic", { name: "t" })],
  CKV_AWS_169: [res("aws_sns_topic_policy", { policy: doc([{ Effect: "Allow", Principal: "*", Action: "sns:Publish", Resource: "*" }]) })],
  CKV_AWS_27: [res("aws_sqs_queue", { name: "q" })],
  CKV2_AWS_73: [res("aws_sqs_queue", { name: "q", sqs_managed_sse_enabled: true })],
  CKV_AWS_16: [res("aws_db_instance", { storage_encrypted: false })],
  CKV_AWS_17: [res("aws_db_instance", { publicly_accessible: true })],
  CKV_AWS_118: [res("aws_db_instance", { monitoring_interval: 0 })],
  CKV_AWS_129: [res("aws_db_instance", { enabled_cloudwatch_logs_exports: [] })],
  CKV_AWS_133: [res("aws_db_instance", { backup_retention_period: 0 })],
  CKV_AWS_157: [res("aws_db_instance", { multi_az: false })],
  CKV_AWS_161: [res("aws_db_instance", {})],
  CKV_AWS_226: [res("aws_db_instance", { auto_minor_version_upgrade: false })],
  CKV_AWS_293: [res("aws_db_instance", { deletion_protection: false })],
  CKV_AWS_353: [res("aws_db_instance", {})],
  CKV_AWS_354: [res("aws_db_instance", { performance_insights_enabled: true })],
  CKV2_AWS_60: [res("aws_db_instance", {})],
  CKV2_AWS_30: [
    res("aws_db_instance", { engine: "postgres", parameter_group_name: ref("aws_db_parameter_group", "pg", "name") }),
    res("aws_db_parameter_group", { family: "postgres17", parameter: [{ name: "log_statement", value: "ddl" }] }, "pg"),
  ],
  CKV2_AWS_69: [
    res("aws_db_instance", { engine: "postgres", parameter_group_name: ref("aws_db_parameter_group", "pg", "name") }),
    res("aws_db_parameter_group", { family: "postgres17", parameter: [{ name: "rds.force_ssl", value: "0" }] }, "pg"),
  ],
  CKV_AWS_37: [res("aws_eks_cluster", { enabled_cluster_log_types: ["api", "audit"] })],
  CKV_AWS_38: [res("aws_eks_cluster", { vpc_config: { endpoint_public_access: true, public_access_cidrs: ["0.0.0.0/0"] } })],
  CKV_AWS_39: [res("aws_eks_cluster", { vpc_config: { endpoint_public_access: true, public_access_cidrs: ["203.0.113.0/24"] } })],
  CKV_AWS_58: [res("aws_eks_cluster", {})],
  CKV_AWS_100: [res("aws_eks_node_group", { remote_access: { ec2_ssh_key: "k" } })],
  CKV_AWS_79: [res("aws_launch_template", { metadata_options: { http_tokens: "optional", http_put_response_hop_limit: 1 } })],
  CKV_AWS_341: [res("aws_launch_template", { metadata_options: { http_tokens: "required", http_put_response_hop_limit: 2 } })],
  CKV_AWS_88: [res("aws_launch_template", { network_interfaces: [{ associate_public_ip_address: "true" }] })],
  CKV_AWS_46: [res("aws_launch_template", { user_data: "export AWS_SECRET_ACCESS_KEY=x aws_secret_access_key=y" })],
  CKV_AWS_23: [res("aws_vpc_security_group_ingress_rule", { ip_protocol: "tcp", from_port: 443, to_port: 443 })],
  CKV_AWS_130: [res("aws_subnet", { map_public_ip_on_launch: true })],
  CKV2_AWS_11: [res("aws_vpc", { cidr_block: "10.0.0.0/16" })],
  CKV2_AWS_12: [res("aws_vpc", { cidr_block: "10.0.0.0/16" }), res("aws_default_security_group", { vpc_id: ref("aws_vpc"), egress: [{ cidr_blocks: ["0.0.0.0/0"] }] }, "d")],
  CKV_AWS_24: [res("aws_vpc_security_group_ingress_rule", { description: "d", cidr_ipv4: "0.0.0.0/0", ip_protocol: "tcp", from_port: 22, to_port: 22 })],
  CKV_AWS_25: [res("aws_vpc_security_group_ingress_rule", { description: "d", cidr_ipv4: "0.0.0.0/0", ip_protocol: "tcp", from_port: 3000, to_port: 4000 })],
  CKV_AWS_260: [res("aws_vpc_security_group_ingress_rule", { description: "d", cidr_ipv4: "0.0.0.0/0", ip_protocol: "tcp", from_port: 80, to_port: 80 })],
  CKV_AWS_277: [res("aws_vpc_security_group_ingress_rule", { description: "d", cidr_ipv6: "::/0", ip_protocol: "-1" })],
  CKV_AWS_150: [res("aws_lb", { load_balancer_type: "network", enable_cross_zone_load_balancing: true })],
  CKV_AWS_91: [res("aws_lb", { load_balancer_type: "network", access_logs: { enabled: false } })],
  CKV_AWS_152: [res("aws_lb", { load_balancer_type: "network" })],
  CKV_AWS_131: [res("aws_lb", { load_balancer_type: "application" })],
  CKV_AWS_2: [res("aws_lb_listener", { protocol: "HTTP", default_action: [{ type: "forward" }] })],
  CKV_AWS_261: [res("aws_lb_target_group", { protocol: "HTTP", health_check: { protocol: "HTTP" } })],
  CKV_AWS_116: [res("aws_lambda_function", {})],
  CKV_AWS_115: [res("aws_lambda_function", {})],
  CKV_AWS_173: [res("aws_lambda_function", { environment: { variables: { A: "b" } } })],
  CKV_AWS_45: [res("aws_lambda_function", { environment: { variables: { KEY: "AKIAABCDEFGHIJKLMNOP" } } })],
  CKV_AWS_50: [res("aws_lambda_function", {})],
  CKV_AWS_117: [res("aws_lambda_function", {})],
  CKV_AWS_272: [res("aws_lambda_function", {})],
  CKV_AWS_364: [res("aws_lambda_permission", { principal: "events.amazonaws.com", action: "lambda:InvokeFunction" })],
  CKV_AWS_301: [res("aws_lambda_permission", { principal: "*", source_arn: "arn" })],
  CKV_AWS_5: [res("aws_opensearch_domain", { encrypt_at_rest: { enabled: false } })],
  CKV_AWS_247: [res("aws_opensearch_domain", { encrypt_at_rest: { enabled: true } })],
  CKV_AWS_6: [res("aws_opensearch_domain", {})],
  CKV_AWS_83: [res("aws_opensearch_domain", { domain_endpoint_options: { enforce_https: false } })],
  CKV_AWS_228: [res("aws_opensearch_domain", { domain_endpoint_options: { enforce_https: true, tls_security_policy: "Policy-Min-TLS-1-0-2019-07" } })],
  CKV_AWS_84: [res("aws_opensearch_domain", {})],
  CKV_AWS_317: [res("aws_opensearch_domain", { log_publishing_options: [{ log_type: "ES_APPLICATION_LOGS", enabled: true }] })],
  CKV_AWS_137: [res("aws_opensearch_domain", {})],
  CKV_AWS_318: [res("aws_opensearch_domain", { cluster_config: { dedicated_master_enabled: true, dedicated_master_count: 2, zone_awareness_enabled: true } })],
  CKV2_AWS_59: [res("aws_opensearch_domain", { cluster_config: { dedicated_master_enabled: false } })],
  CKV2_AWS_52: [res("aws_opensearch_domain", { advanced_security_options: { enabled: false } })],
  CKV_AWS_147: [res("aws_codebuild_project", {})],
  CKV_AWS_314: [res("aws_codebuild_project", { logs_config: { cloudwatch_logs: { status: "DISABLED" } } })],
  CKV_AWS_316: [res("aws_codebuild_project", { environment: { privileged_mode: true } })],
  CKV_AWS_29: [res("aws_elasticache_replication_group", {})],
  CKV_AWS_30: [res("aws_elasticache_replication_group", { at_rest_encryption_enabled: "true" })],
  CKV_AWS_191: [res("aws_elasticache_replication_group", {})],
  CKV2_AWS_50: [res("aws_elasticache_replication_group", { automatic_failover_enabled: false })],
  CKV_AWS_42: [res("aws_efs_file_system", {})],
  CKV_AWS_184: [res("aws_efs_file_system", { encrypted: true })],
  // A selection of something else does not cover the file system.
  CKV2_AWS_18: [res("aws_efs_file_system", { encrypted: true }), res("aws_backup_selection", { resources: ["${aws_db_instance.db.arn}"] }, "sel")],
  CKV_AWS_166: [res("aws_backup_vault", { name: "v" })],
  // A rotation of another secret does not rotate this one.
  CKV2_AWS_57: [res("aws_secretsmanager_secret", { name: "s" }), res("aws_secretsmanager_secret_rotation", { secret_id: "${aws_secretsmanager_secret.other.id}" }, "rot")],
  CKV_AWS_60: [res("aws_iam_role", { assume_role_policy: doc([{ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" }]) })],
  CKV_AWS_61: [res("aws_iam_role", { assume_role_policy: doc([{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "sts:AssumeRole" }]) })],
  CKV_AWS_62: [res("aws_iam_role_policy", { policy: doc([{ Effect: "Allow", Action: "*", Resource: "*" }]) })],
  CKV_AWS_63: [res("aws_iam_role_policy", { policy: doc([{ Effect: "Allow", Action: ["*"], Resource: "arn:aws:s3:::b" }]) })],
  CKV2_AWS_40: [res("aws_iam_role_policy", { policy: doc([{ Effect: "Allow", Action: "iam:*", Resource: "*" }]) })],
  CKV_AWS_274: [res("aws_iam_role_policy_attachment", { policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess" })],
  CKV2_AWS_56: [res("aws_iam_role_policy_attachment", { policy_arn: "arn:aws:iam::aws:policy/IAMFullAccess" })],
  CKV_AWS_393: [
    res("aws_iam_role", {
      assume_role_policy: doc([
        { Effect: "Allow", Principal: { Federated: "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com" }, Action: "sts:AssumeRoleWithWebIdentity", Condition: { StringLike: { "token.actions.githubusercontent.com:sub": "repo:*" } } },
      ]),
    }),
  ],
  CKV_K8S_8: [deployment(goodContainer({ liveness_probe: undefined }))],
  CKV_K8S_9: [deployment(goodContainer({ readiness_probe: undefined }))],
  CKV_K8S_10: [deployment(goodContainer({ resources: { requests: { memory: "16Mi" }, limits: { cpu: "1", memory: "64Mi" } } }))],
  CKV_K8S_11: [deployment(goodContainer({ resources: { requests: { cpu: "1", memory: "16Mi" }, limits: { memory: "64Mi" } } }))],
  CKV_K8S_12: [deployment(goodContainer({ resources: { requests: { cpu: "1", memory: "16Mi" }, limits: { cpu: "1" } } }))],
  CKV_K8S_13: [deployment(goodContainer({ resources: { requests: { cpu: "1" }, limits: { cpu: "1", memory: "64Mi" } } }))],
  CKV_K8S_14: [deployment(goodContainer({ image: "registry.example.com/app:latest", image_pull_policy: "Always" }))],
  CKV_K8S_43: [deployment(goodContainer({ image: "registry.example.com/app:1.0.0", image_pull_policy: "Always" }))],
  CKV_K8S_15: [deployment(goodContainer({ image: "registry.example.com/app:1.0.0", image_pull_policy: "IfNotPresent" }))],
  CKV_K8S_20: [deployment(goodContainer({ security_context: { read_only_root_filesystem: true, capabilities: { drop: ["ALL"] } } }))],
  CKV_K8S_22: [deployment(goodContainer({ security_context: { allow_privilege_escalation: false, capabilities: { drop: ["ALL"] } } }))],
  CKV_K8S_28: [deployment(goodContainer({ security_context: { allow_privilege_escalation: false, read_only_root_filesystem: true, capabilities: { drop: ["SYS_ADMIN"] } } }))],
  CKV_K8S_37: [deployment(goodContainer({ security_context: { allow_privilege_escalation: false, read_only_root_filesystem: true, capabilities: { drop: ["NET_RAW"] } } }))],
  CKV_K8S_25: [deployment(goodContainer({ security_context: { allow_privilege_escalation: false, read_only_root_filesystem: true, capabilities: { drop: ["ALL"], add: ["NET_ADMIN"] } } }))],
  CKV_K8S_16: [deployment(goodContainer({ security_context: { allow_privilege_escalation: false, read_only_root_filesystem: true, privileged: true, capabilities: { drop: ["ALL"] } } }))],
  CKV_K8S_29: [deployment(goodContainer(), { security_context: undefined })],
  CKV_K8S_30: [deployment(goodContainer({ security_context: undefined }))],
  CKV_K8S_17: [deployment(goodContainer(), { host_pid: true })],
  CKV_K8S_18: [deployment(goodContainer(), { host_ipc: true })],
  CKV_K8S_19: [deployment(goodContainer(), { host_network: true })],
  CKV_K8S_35: [deployment(goodContainer({ env: [{ name: "TOKEN", value_from: { secret_key_ref: { name: "s", key: "k" } } }] }))],
  CKV_K8S_38: [deployment(goodContainer(), { automount_service_account_token: undefined })],
  CKV_K8S_21: [deployment(goodContainer(), {}, { namespace: "default" })],
  CKV_K8S_49: [res("kubernetes_role_v1", { metadata: { name: "r", namespace: "apps" }, rule: [{ api_groups: [""], resources: ["*"], verbs: ["get"] }] })],
  CKV_K8S_41: [res("kubernetes_service_account_v1", { metadata: { name: "default", namespace: "apps" } })],
};

describe("the policy rules (checkov's checks re-implemented over the synthesized JSON)", () => {
  it("keep checkov's IDs, each once", () => {
    const ids = POLICY_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^CKV2?_(AWS|K8S)_\d+$/);
  });

  it("have a failing fixture each", () => {
    expect(Object.keys(FAILING).sort()).toEqual(POLICY_RULES.map((r) => r.id).sort());
  });

  it.each(POLICY_RULES.map((r) => [r.id, r] as const))("%s fails its fixture", (id, rule) => {
    const [subject, ...rest] = FAILING[id];
    const findings = checkResources("fixture", [subject, ...rest], [rule]);
    expect(findings.map((f) => [f.check, f.resource])).toContainEqual([id, `${subject.type}.${subject.path}`]);
  });

  it("pass on real resources: each rule whose resource type the shipped prod stacks use passes on at least one of them, unless excused", () => {
    const all = shipped.filter((s) => s.environment === "prod").map((s) => ({ name: s.name, resources: stackResources(s.name, s.json) }));
    const neverPassed: string[] = [];
    for (const rule of POLICY_RULES) {
      let seen = 0;
      let failed = 0;
      for (const { name, resources } of all) {
        const subjects = resources.filter((r) => rule.types.includes(r.type));
        seen += subjects.length;
        failed += checkResources(name, resources, [rule]).length;
      }
      if (seen > 0 && failed === seen) neverPassed.push(rule.id);
    }
    // A rule that fails everywhere is either wrong or excused for every resource it sees.
    for (const id of neverPassed) expect(POLICY_EXCEPTIONS.filter((e) => e.check === id && !e.environments).length).toBeGreaterThan(0);
  });
});

describe("the shipped environments against the policy", () => {
  it("have no unreasoned finding, and every exception is used", () => {
    const report = checkPolicy(shipped);
    expect(report.unreasoned).toEqual([]);
    expect(report.unused).toEqual([]);
    // Nothing on the rehearsal list is excused in prod.
    expect(report.excepted.filter((x) => x.finding.environment === "prod" && x.exception.environments)).toEqual([]);
  });

  it("excuse findings only in the environments an exception names, and only for its resource", () => {
    const finding = { environment: "prod", stack: "prod-workload-alpha", check: "CKV_AWS_293", title: "", resource: "aws_db_instance.installations-db/db", reason: "" };
    expect(exceptionFor(finding)).toBeUndefined();
    expect(exceptionFor({ ...finding, environment: "local" })?.environments).toEqual(["local"]);
    expect(exceptionFor({ ...finding, check: "CKV_AWS_16", environment: "local" })).toBeUndefined();
  });

  it("report a finding that no exception covers, and an exception that matches nothing", () => {
    const json = { resource: { aws_sqs_queue: { q: { name: "q", "//": { metadata: { path: "s/dlq" } } } } } };
    const stale = { check: "CKV_AWS_16", resource: "aws_db_instance.gone", reason: "was removed" };
    const report = checkPolicy([{ name: "s", environment: "x", json: json as never }], [stale]);
    expect(report.unreasoned.map((f) => [f.check, f.resource])).toEqual([["CKV_AWS_27", "aws_sqs_queue.dlq"], ["CKV2_AWS_73", "aws_sqs_queue.dlq"]]);
    expect(report.unused).toEqual([stale]);
  });

  it("give every exception a reason of substance, listed in the README's security section", () => {
    const readme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Security"), readme.indexOf("## Versions"));
    for (const e of POLICY_EXCEPTIONS) {
      expect(e.reason.length).toBeGreaterThan(40);
      expect(section).toContain(`| ${e.check} | \`${e.resource}\` |`);
    }
  });
});
