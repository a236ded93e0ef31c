/**
 * The policy step of `npm test`: checkov's Terraform checks, for the resource types this repository
 * synthesizes, re-implemented over the synthesized JSON (checkov itself is a Python package with
 * native dependencies and cannot be installed offline here).
 *
 * Each rule keeps checkov's ID and title and follows the condition of checkov's own check file
 * (checkov/terraform/checks/resource/** or graph_checks/aws/*.yaml, read at commit 03d5fdad of
 * bridgecrewio/checkov). Where a check has an unset default that checkov treats as passing or
 * failing, the rule does the same. A finding is either fixed in the construct that owns the
 * resource or listed, with its reason, in config/policy-exceptions.ts; anything else fails
 * `npm test`.
 */
import { POLICY_EXCEPTIONS, type PolicyException } from "../../config/policy-exceptions";
import type { TfJson } from "../lib/tf-json";

/** One synthesized resource. */
export interface PolicyResource {
  type: string;
  /** Logical name (the key under resource.<type>). */
  name: string;
  /** Construct path without the stack name, e.g. "deploy-runner/logs". */
  path: string;
  attrs: Record<string, unknown>;
}

export interface PolicyFinding {
  /** The environment the stack belongs to. */
  environment: string;
  stack: string;
  check: string;
  title: string;
  /** `<type>.<construct path>` */
  resource: string;
  reason: string;
}

/** What a rule can see besides its own resource: the rest of the stack. */
export interface PolicyContext {
  ofType(type: string): PolicyResource[];
  /** Resources of `type` whose `attribute` references `target` (`${<target.type>.<target.name>.…}`). */
  referencing(target: PolicyResource, type: string, attribute: string): PolicyResource[];
  /** The resource a reference string points at, when it is one of this stack's. */
  resolve(ref: unknown): PolicyResource | undefined;
}

export interface PolicyRule {
  id: string;
  title: string;
  types: readonly string[];
  /** A failure reason, or undefined when the resource passes. */
  check(resource: PolicyResource, ctx: PolicyContext): string | undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading Terraform JSON attributes (blocks come out of cdktf as objects or lists of objects).

type Obj = Record<string, unknown>;
function block(value: unknown): Obj | undefined {
  if (Array.isArray(value)) return (value[0] as Obj | undefined) ?? undefined;
  return value && typeof value === "object" ? (value as Obj) : undefined;
}
function blocks(value: unknown): Obj[] {
  if (Array.isArray(value)) return value.filter((v): v is Obj => !!v && typeof v === "object");
  return value && typeof value === "object" ? [value as Obj] : [];
}
function truthy(value: unknown): boolean {
  return value === true || value === "true";
}
function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "" && !(Array.isArray(value) && value.length === 0);
}
function num(value: unknown): number | undefined {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}
/** IAM policy documents are synthesized as JSON strings (jsonencode / literal). */
function policyDocument(value: unknown): { Statement?: Obj[] | Obj } | undefined {
  if (typeof value !== "string") return block(value) as never;
  try {
    return JSON.parse(value) as { Statement?: Obj[] | Obj };
  } catch {
    return undefined; // a Terraform expression: not statically known
  }
}
function statements(value: unknown): Obj[] {
  const doc = policyDocument(value);
  if (!doc?.Statement) return [];
  return Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
}
function list(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}
const isAllow = (s: Obj) => s.Effect === "Allow";
function principalIsStar(p: unknown): boolean {
  if (p === "*") return true;
  const o = block(p);
  return !!o && list(o.AWS).includes("*");
}

/** Pod spec and containers of a kubernetes_deployment_v1 / kubernetes_cron_job_v1 / pod. */
function podSpec(r: PolicyResource): Obj | undefined {
  let spec = block(r.attrs.spec);
  if (r.type.startsWith("kubernetes_cron_job")) spec = block(block(block(block(block(spec?.job_template)?.spec)?.template)?.spec));
  else if (spec && spec.template) spec = block(block(spec.template)?.spec);
  return spec;
}
function containers(r: PolicyResource, withInit = true): Obj[] {
  const spec = podSpec(r);
  return [...blocks(spec?.container), ...(withInit ? blocks(spec?.init_container) : [])];
}
const POD_TYPES = ["kubernetes_deployment_v1", "kubernetes_deployment", "kubernetes_pod_v1", "kubernetes_cron_job_v1"] as const;
function eachContainer(r: PolicyResource, test: (c: Obj) => string | undefined, withInit = true): string | undefined {
  for (const c of containers(r, withInit)) {
    const why = test(c);
    if (why) return `container ${String(c.name ?? "?")}: ${why}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The rules.

const fail = (cond: boolean, reason: string) => (cond ? reason : undefined);

export const POLICY_RULES: readonly PolicyRule[] = [
  // --- CloudWatch
  { id: "CKV_AWS_158", title: "Ensure that CloudWatch Log Group is encrypted by KMS", types: ["aws_cloudwatch_log_group"],
    check: (r) => fail(!isSet(r.attrs.kms_key_id), "kms_key_id is not set") },
  { id: "CKV_AWS_66", title: "Ensure that CloudWatch Log Group specifies retention days", types: ["aws_cloudwatch_log_group"],
    check: (r) => fail(!isSet(r.attrs.retention_in_days), "retention_in_days is not set (logs kept forever)") },
  { id: "CKV_AWS_319", title: "Ensure that CloudWatch alarm actions are enabled", types: ["aws_cloudwatch_metric_alarm"],
    check: (r) => fail(r.attrs.actions_enabled === false || r.attrs.actions_enabled === "false", "actions_enabled is false") },

  // --- KMS
  { id: "CKV_AWS_7", title: "Ensure rotation for customer created CMKs is enabled", types: ["aws_kms_key"],
    check: (r) => fail((r.attrs.customer_master_key_spec ?? "SYMMETRIC_DEFAULT") === "SYMMETRIC_DEFAULT" && !truthy(r.attrs.enable_key_rotation), "enable_key_rotation is not true") },
  { id: "CKV_AWS_33", title: "Ensure KMS key policy does not contain wildcard (*) principal", types: ["aws_kms_key"],
    check: (r) => fail(statements(r.attrs.policy).some((s) => isAllow(s) && principalIsStar(s.Principal) && !s.Condition), "an Allow statement has Principal * without a condition") },
  { id: "CKV_AWS_227", title: "Ensure KMS key is enabled", types: ["aws_kms_key"],
    check: (r) => fail(r.attrs.is_enabled === false || r.attrs.is_enabled === "false", "is_enabled is false") },
  { id: "CKV2_AWS_64", title: "Ensure KMS key Policy is defined", types: ["aws_kms_key"],
    check: (r) => fail(!isSet(r.attrs.policy), "policy is not set (the default grants the whole account)") },

  // --- S3 (buckets are configured through their companion resources, as checkov's graph checks read them)
  { id: "CKV_AWS_18", title: "Ensure the S3 bucket has access logging enabled", types: ["aws_s3_bucket"],
    check: (r, ctx) => fail(!isSet(r.attrs.logging) && ctx.referencing(r, "aws_s3_bucket_logging", "bucket").length === 0, "no aws_s3_bucket_logging for this bucket") },
  { id: "CKV_AWS_21", title: "Ensure all data stored in the S3 bucket have versioning enabled", types: ["aws_s3_bucket"],
    check: (r, ctx) => fail(!ctx.referencing(r, "aws_s3_bucket_versioning", "bucket").some((v) => block(v.attrs.versioning_configuration)?.status === "Enabled"), "versioning is not Enabled") },
  { id: "CKV_AWS_145", title: "Ensure that S3 buckets are encrypted with KMS by default", types: ["aws_s3_bucket"],
    check: (r, ctx) => fail(!ctx.referencing(r, "aws_s3_bucket_server_side_encryption_configuration", "bucket").some((e) =>
      blocks(e.attrs.rule).some((rule) => String(block(rule.apply_server_side_encryption_by_default)?.sse_algorithm ?? "").startsWith("aws:kms"))), "default encryption is not SSE-KMS") },
  { id: "CKV2_AWS_6", title: "Ensure that S3 bucket has a Public Access block", types: ["aws_s3_bucket"],
    check: (r, ctx) => fail(!ctx.referencing(r, "aws_s3_bucket_public_access_block", "bucket").some((b) =>
      ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"].every((k) => truthy(b.attrs[k]))), "no public access block with all four settings true") },
  { id: "CKV2_AWS_61", title: "Ensure that an S3 bucket has a lifecycle configuration", types: ["aws_s3_bucket"],
    check: (r, ctx) => fail(ctx.referencing(r, "aws_s3_bucket_lifecycle_configuration", "bucket").length === 0, "no lifecycle configuration") },
  { id: "CKV_AWS_300", title: "Ensure S3 lifecycle configuration sets period for aborting failed uploads", types: ["aws_s3_bucket_lifecycle_configuration"],
    check: (r) => fail(!blocks(r.attrs.rule).some((rule) => rule.status === "Enabled" && isSet(block(rule.abort_incomplete_multipart_upload)?.days_after_initiation)), "no enabled rule aborts incomplete multipart uploads") },
  { id: "CKV_AWS_70", title: "Ensure S3 bucket does not allow an action with any Principal", types: ["aws_s3_bucket_policy"],
    check: (r) => fail(statements(r.attrs.policy).some((s) => isAllow(s) && principalIsStar(s.Principal)), "an Allow statement has Principal *") },

  // --- Secrets Manager, SNS, SQS
  { id: "CKV_AWS_149", title: "Ensure that Secrets Manager secret is encrypted using KMS CMK", types: ["aws_secretsmanager_secret"],
    check: (r) => fail(!isSet(r.attrs.kms_key_id), "kms_key_id is not set (AWS-managed key)") },
  { id: "CKV_AWS_26", title: "Ensure all data stored in the SNS topic is encrypted", types: ["aws_sns_topic"],
    check: (r) => fail(!isSet(r.attrs.kms_master_key_id), "kms_master_key_id is not set") },
  { id: "CKV_AWS_169", title: "Ensure SNS topic policy is not public by only allowing specific services or principals to access it", types: ["aws_sns_topic_policy"],
    check: (r) => fail(statements(r.attrs.policy).some((s) => isAllow(s) && principalIsStar(s.Principal) && !s.Condition), "an Allow statement has Principal * without a condition") },
  { id: "CKV_AWS_27", title: "Ensure all data stored in the SQS queue is encrypted", types: ["aws_sqs_queue"],
    check: (r) => fail(!isSet(r.attrs.kms_master_key_id) && !truthy(r.attrs.sqs_managed_sse_enabled), "neither kms_master_key_id nor sqs_managed_sse_enabled") },
  { id: "CKV2_AWS_73", title: "Ensure AWS SQS uses CMK not AWS default keys for encryption", types: ["aws_sqs_queue"],
    check: (r) => fail(!isSet(r.attrs.kms_master_key_id) || r.attrs.kms_master_key_id === "alias/aws/sqs", "kms_master_key_id is not a customer-managed key") },

  // --- RDS
  { id: "CKV_AWS_16", title: "Ensure all data stored in the RDS is securely encrypted at rest", types: ["aws_db_instance"],
    check: (r) => fail(!truthy(r.attrs.storage_encrypted), "storage_encrypted is not true") },
  { id: "CKV_AWS_17", title: "Ensure all data stored in RDS is not publicly accessible", types: ["aws_db_instance"],
    check: (r) => fail(truthy(r.attrs.publicly_accessible), "publicly_accessible is true") },
  { id: "CKV_AWS_118", title: "Ensure that enhanced monitoring is enabled for Amazon RDS instances", types: ["aws_db_instance"],
    check: (r) => fail(!((num(r.attrs.monitoring_interval) ?? 0) > 0), "monitoring_interval is 0 or unset") },
  { id: "CKV_AWS_129", title: "Ensure that respective logs of Amazon Relational Database Service (Amazon RDS) are enabled", types: ["aws_db_instance"],
    check: (r) => fail(list(r.attrs.enabled_cloudwatch_logs_exports).length === 0, "enabled_cloudwatch_logs_exports is empty") },
  { id: "CKV_AWS_133", title: "Ensure that RDS instances has backup policy", types: ["aws_db_instance"],
    check: (r) => fail(!((num(r.attrs.backup_retention_period) ?? 0) > 0), "backup_retention_period is 0 or unset") },
  { id: "CKV_AWS_157", title: "Ensure that RDS instances have Multi-AZ enabled", types: ["aws_db_instance"],
    check: (r) => fail(!truthy(r.attrs.multi_az), "multi_az is not true") },
  { id: "CKV_AWS_161", title: "Ensure RDS database has IAM authentication enabled", types: ["aws_db_instance"],
    check: (r) => fail(!truthy(r.attrs.iam_database_authentication_enabled), "iam_database_authentication_enabled is not true") },
  { id: "CKV_AWS_226", title: "Ensure DB instance gets all minor upgrades automatically", types: ["aws_db_instance"],
    check: (r) => fail(r.attrs.auto_minor_version_upgrade === false || r.attrs.auto_minor_version_upgrade === "false", "auto_minor_version_upgrade is false") },
  { id: "CKV_AWS_293", title: "Ensure that AWS database instances have deletion protection enabled", types: ["aws_db_instance"],
    check: (r) => fail(!truthy(r.attrs.deletion_protection), "deletion_protection is not true") },
  { id: "CKV_AWS_353", title: "Ensure that RDS instances have performance insights enabled", types: ["aws_db_instance"],
    check: (r) => fail(!truthy(r.attrs.performance_insights_enabled), "performance_insights_enabled is not true") },
  { id: "CKV_AWS_354", title: "Ensure RDS Performance Insights are encrypted using KMS CMKs", types: ["aws_db_instance"],
    check: (r) => fail(truthy(r.attrs.performance_insights_enabled) && !isSet(r.attrs.performance_insights_kms_key_id), "performance_insights_kms_key_id is not set") },
  { id: "CKV2_AWS_60", title: "Ensure RDS instance with copy tags to snapshots is enabled", types: ["aws_db_instance"],
    check: (r) => fail(!truthy(r.attrs.copy_tags_to_snapshot), "copy_tags_to_snapshot is not true") },
  { id: "CKV2_AWS_30", title: "Ensure Postgres RDS as aws_db_instance has Query Logging enabled", types: ["aws_db_instance"],
    check: (r, ctx) => {
      if (r.attrs.engine !== "postgres") return undefined;
      const group = ctx.resolve(r.attrs.parameter_group_name);
      const names = blocks(group?.attrs.parameter).map((p) => p.name);
      return fail(!group || !names.includes("log_statement") || !names.includes("log_min_duration_statement"), "its parameter group does not set log_statement and log_min_duration_statement");
    } },
  { id: "CKV2_AWS_69", title: "Ensure AWS RDS database instance configured with encryption in transit", types: ["aws_db_instance"],
    check: (r, ctx) => {
      const group = ctx.resolve(r.attrs.parameter_group_name);
      if (!group || !/^postgres/.test(String(group.attrs.family ?? ""))) return undefined;
      return fail(!blocks(group.attrs.parameter).some((p) => p.name === "rds.force_ssl" && String(p.value) === "1"), "its postgres parameter group does not set rds.force_ssl = 1");
    } },

  // --- EKS and nodes
  { id: "CKV_AWS_37", title: "Ensure Amazon EKS control plane logging is enabled for all log types", types: ["aws_eks_cluster"],
    check: (r) => {
      const on = list(r.attrs.enabled_cluster_log_types);
      const missing = ["api", "audit", "authenticator", "controllerManager", "scheduler"].filter((t) => !on.includes(t));
      return fail(missing.length > 0, `log types not enabled: ${missing.join(", ")}`);
    } },
  { id: "CKV_AWS_38", title: "Ensure Amazon EKS public endpoint not accessible to 0.0.0.0/0", types: ["aws_eks_cluster"],
    check: (r) => {
      const vpc = block(r.attrs.vpc_config);
      if (vpc?.endpoint_public_access === false || vpc?.endpoint_public_access === "false") return undefined;
      const cidrs = list(vpc?.public_access_cidrs);
      return fail(cidrs.length === 0 || cidrs.includes("0.0.0.0/0"), "the public endpoint admits 0.0.0.0/0");
    } },
  { id: "CKV_AWS_39", title: "Ensure Amazon EKS public endpoint disabled", types: ["aws_eks_cluster"],
    check: (r) => fail(!(block(r.attrs.vpc_config)?.endpoint_public_access === false || block(r.attrs.vpc_config)?.endpoint_public_access === "false"), "endpoint_public_access is not false") },
  { id: "CKV_AWS_58", title: "Ensure EKS Cluster has Secrets Encryption Enabled", types: ["aws_eks_cluster"],
    check: (r) => fail(!blocks(r.attrs.encryption_config).some((e) => list(e.resources).includes("secrets") && isSet(block(e.provider)?.key_arn)), "encryption_config does not cover secrets") },
  { id: "CKV_AWS_100", title: "Ensure AWS EKS node group does not have implicit SSH access from 0.0.0.0/0", types: ["aws_eks_node_group"],
    check: (r) => {
      const remote = block(r.attrs.remote_access);
      return fail(!!remote && isSet(remote.ec2_ssh_key) && !isSet(remote.source_security_group_ids), "remote_access has an SSH key and no source security groups");
    } },
  { id: "CKV_AWS_79", title: "Ensure Instance Metadata Service Version 1 is not enabled", types: ["aws_launch_template"],
    check: (r) => {
      const m = block(r.attrs.metadata_options);
      return fail(!(m?.http_tokens === "required" || m?.http_endpoint === "disabled"), "metadata_options.http_tokens is not required");
    } },
  { id: "CKV_AWS_341", title: "Ensure Launch template should not have a metadata response hop limit greater than 1", types: ["aws_launch_template"],
    check: (r) => fail((num(block(r.attrs.metadata_options)?.http_put_response_hop_limit) ?? 1) > 1, "metadata_options.http_put_response_hop_limit is above 1 (pods could reach the node's credentials)") },
  { id: "CKV_AWS_88", title: "EC2 instance should not have public IP.", types: ["aws_launch_template"],
    check: (r) => fail(blocks(r.attrs.network_interfaces).some((n) => truthy(n.associate_public_ip_address)), "a network interface associates a public IP") },
  { id: "CKV_AWS_46", title: "Ensure no hard-coded secrets exist in EC2 user data", types: ["aws_launch_template"],
    check: (r) => fail(/AKIA[0-9A-Z]{16}|aws_secret_access_key/i.test(String(r.attrs.user_data ?? "")), "user data holds an AWS credential") },

  // --- Network
  { id: "CKV_AWS_23", title: "Ensure every security group and rule has a description", types: ["aws_security_group", "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"],
    check: (r) => {
      if (!isSet(r.attrs.description)) return "description is not set";
      const bad = [...blocks(r.attrs.ingress), ...blocks(r.attrs.egress)].find((rule) => !isSet(rule.description));
      return fail(!!bad, "an inline rule has no description");
    } },
  { id: "CKV_AWS_130", title: "Ensure VPC subnets do not assign public IP by default", types: ["aws_subnet"],
    check: (r) => fail(truthy(r.attrs.map_public_ip_on_launch), "map_public_ip_on_launch is true") },
  { id: "CKV2_AWS_11", title: "Ensure VPC flow logging is enabled in all VPCs", types: ["aws_vpc"],
    check: (r, ctx) => fail(ctx.referencing(r, "aws_flow_log", "vpc_id").length === 0, "no aws_flow_log for this VPC") },
  { id: "CKV2_AWS_12", title: "Ensure the default security group of every VPC restricts all traffic", types: ["aws_vpc"],
    check: (r, ctx) => fail(!ctx.referencing(r, "aws_default_security_group", "vpc_id").some((g) => blocks(g.attrs.ingress).length === 0 && blocks(g.attrs.egress).length === 0), "no rule-less aws_default_security_group for this VPC") },
  { id: "CKV_AWS_24", title: "Ensure no security groups allow ingress from 0.0.0.0:0 to port 22", types: ["aws_vpc_security_group_ingress_rule"],
    check: (r) => fail(openToWorld(r) && coversPort(r, 22), "admits the internet on port 22") },
  { id: "CKV_AWS_25", title: "Ensure no security groups allow ingress from 0.0.0.0:0 to port 3389", types: ["aws_vpc_security_group_ingress_rule"],
    check: (r) => fail(openToWorld(r) && coversPort(r, 3389), "admits the internet on port 3389") },
  { id: "CKV_AWS_260", title: "Ensure no security groups allow ingress from 0.0.0.0:0 to port 80", types: ["aws_vpc_security_group_ingress_rule"],
    check: (r) => fail(openToWorld(r) && coversPort(r, 80), "admits the internet on port 80") },
  { id: "CKV_AWS_277", title: "Ensure no security groups allow ingress from 0.0.0.0:0 to port -1", types: ["aws_vpc_security_group_ingress_rule"],
    check: (r) => fail(openToWorld(r) && String(r.attrs.ip_protocol) === "-1", "admits the internet on every port") },

  // --- Load balancers
  { id: "CKV_AWS_150", title: "Ensure that Load Balancer has deletion protection enabled", types: ["aws_lb"],
    check: (r) => fail(!truthy(r.attrs.enable_deletion_protection), "enable_deletion_protection is not true") },
  { id: "CKV_AWS_91", title: "Ensure the ELBv2 (Application/Network) has access logging enabled", types: ["aws_lb"],
    check: (r) => fail(!truthy(block(r.attrs.access_logs)?.enabled), "access_logs are not enabled") },
  { id: "CKV_AWS_152", title: "Ensure that Load Balancer (Network/Gateway) has cross-zone load balancing enabled", types: ["aws_lb"],
    check: (r) => fail(["network", "gateway"].includes(String(r.attrs.load_balancer_type)) && !truthy(r.attrs.enable_cross_zone_load_balancing), "enable_cross_zone_load_balancing is not true") },
  { id: "CKV_AWS_131", title: "Ensure that ALB drops HTTP headers", types: ["aws_lb"],
    check: (r) => fail((r.attrs.load_balancer_type ?? "application") === "application" && !truthy(r.attrs.drop_invalid_header_fields), "drop_invalid_header_fields is not true") },
  { id: "CKV_AWS_2", title: "Ensure ALB protocol is HTTPS", types: ["aws_lb_listener"],
    check: (r) => {
      const protocol = String(r.attrs.protocol ?? "HTTP");
      if (["HTTPS", "TLS", "TCP", "UDP", "TCP_UDP"].includes(protocol)) return undefined;
      const redirect = block(block(r.attrs.default_action)?.redirect);
      return fail(redirect?.protocol !== "HTTPS", `protocol ${protocol} without a redirect to HTTPS`);
    } },
  { id: "CKV_AWS_261", title: "Ensure HTTP HTTPS Target group defines Healthcheck", types: ["aws_lb_target_group"],
    check: (r) => fail(["HTTP", "HTTPS"].includes(String(r.attrs.protocol)) && !isSet(block(r.attrs.health_check)?.path), "health_check.path is not set") },

  // --- Lambda
  { id: "CKV_AWS_116", title: "Ensure that AWS Lambda function is configured for a Dead Letter Queue(DLQ)", types: ["aws_lambda_function"],
    check: (r) => fail(!isSet(block(r.attrs.dead_letter_config)?.target_arn), "dead_letter_config is not set") },
  { id: "CKV_AWS_115", title: "Ensure that AWS Lambda function is configured for function-level concurrent execution limit", types: ["aws_lambda_function"],
    check: (r) => fail(!isSet(r.attrs.reserved_concurrent_executions), "reserved_concurrent_executions is not set") },
  { id: "CKV_AWS_173", title: "Check encryption settings for Lambda environmental variable", types: ["aws_lambda_function"],
    check: (r) => fail(isSet(block(r.attrs.environment)?.variables) && !isSet(r.attrs.kms_key_arn), "environment variables without kms_key_arn") },
  { id: "CKV_AWS_45", title: "Ensure no hard-coded secrets exist in lambda environment", types: ["aws_lambda_function"],
    check: (r) => fail(Object.values(block(block(r.attrs.environment)?.variables) ?? {}).some((v) => /AKIA[0-9A-Z]{16}/.test(String(v))), "an environment variable holds an AWS access key") },
  { id: "CKV_AWS_50", title: "X-Ray tracing is enabled for Lambda", types: ["aws_lambda_function"],
    check: (r) => fail(!["Active", "PassThrough"].includes(String(block(r.attrs.tracing_config)?.mode)), "tracing_config.mode is not set") },
  { id: "CKV_AWS_117", title: "Ensure that AWS Lambda function is configured inside a VPC", types: ["aws_lambda_function"],
    check: (r) => fail(!isSet(block(r.attrs.vpc_config)?.subnet_ids), "vpc_config is not set") },
  { id: "CKV_AWS_272", title: "Ensure AWS Lambda function is configured to validate code-signing", types: ["aws_lambda_function"],
    check: (r) => fail(!isSet(r.attrs.code_signing_config_arn), "code_signing_config_arn is not set") },
  { id: "CKV_AWS_364", title: "Ensure that AWS Lambda function permissions delegated to AWS services are limited by SourceArn or SourceAccount", types: ["aws_lambda_permission"],
    check: (r) => fail(String(r.attrs.principal ?? "").endsWith(".amazonaws.com") && !isSet(r.attrs.source_arn) && !isSet(r.attrs.source_account), "a service principal without source_arn or source_account") },
  { id: "CKV_AWS_301", title: "Ensure that AWS Lambda function is not publicly accessible", types: ["aws_lambda_permission"],
    check: (r) => fail(r.attrs.principal === "*", "principal is *") },

  // --- OpenSearch
  { id: "CKV_AWS_5", title: "Ensure all data stored in the Elasticsearch is securely encrypted at rest", types: ["aws_opensearch_domain"],
    check: (r) => fail(!truthy(block(r.attrs.encrypt_at_rest)?.enabled), "encrypt_at_rest is not enabled") },
  { id: "CKV_AWS_247", title: "Ensure all data stored in the Elasticsearch is encrypted with a CMK", types: ["aws_opensearch_domain"],
    check: (r) => fail(!isSet(block(r.attrs.encrypt_at_rest)?.kms_key_id), "encrypt_at_rest.kms_key_id is not set") },
  { id: "CKV_AWS_6", title: "Ensure all Elasticsearch has node-to-node encryption enabled", types: ["aws_opensearch_domain"],
    check: (r) => fail(!truthy(block(r.attrs.node_to_node_encryption)?.enabled), "node_to_node_encryption is not enabled") },
  { id: "CKV_AWS_83", title: "Ensure Elasticsearch Domain enforces HTTPS", types: ["aws_opensearch_domain"],
    check: (r) => fail(!truthy(block(r.attrs.domain_endpoint_options)?.enforce_https), "domain_endpoint_options.enforce_https is not true") },
  { id: "CKV_AWS_228", title: "Verify Elasticsearch domain is using an up to date TLS policy", types: ["aws_opensearch_domain"],
    check: (r) => fail(!/TLS-1-2/.test(String(block(r.attrs.domain_endpoint_options)?.tls_security_policy ?? "")), "tls_security_policy is not a TLS 1.2 policy") },
  { id: "CKV_AWS_84", title: "Ensure Elasticsearch Domain Logging is enabled", types: ["aws_opensearch_domain"],
    check: (r) => fail(!blocks(r.attrs.log_publishing_options).some((o) => o.enabled !== false && o.enabled !== "false"), "no log_publishing_options") },
  { id: "CKV_AWS_317", title: "Ensure Elasticsearch Domain Audit Logging is enabled", types: ["aws_opensearch_domain"],
    check: (r) => fail(!blocks(r.attrs.log_publishing_options).some((o) => o.log_type === "AUDIT_LOGS" && o.enabled !== false), "AUDIT_LOGS are not published") },
  { id: "CKV_AWS_137", title: "Ensure that Elasticsearch is configured inside a VPC", types: ["aws_opensearch_domain"],
    check: (r) => fail(!isSet(block(r.attrs.vpc_options)?.subnet_ids), "vpc_options is not set") },
  { id: "CKV_AWS_318", title: "Ensure Elasticsearch domains are configured with at least three dedicated master nodes for HA", types: ["aws_opensearch_domain"],
    check: (r) => {
      const c = block(r.attrs.cluster_config);
      return fail(!(truthy(c?.dedicated_master_enabled) && (num(c?.dedicated_master_count) ?? 0) >= 3 && truthy(c?.zone_awareness_enabled)), "fewer than three dedicated masters with zone awareness");
    } },
  { id: "CKV2_AWS_59", title: "Ensure ElasticSearch/OpenSearch has dedicated master node enabled", types: ["aws_opensearch_domain"],
    check: (r) => fail(!truthy(block(r.attrs.cluster_config)?.dedicated_master_enabled), "dedicated_master_enabled is not true") },
  { id: "CKV2_AWS_52", title: "Ensure AWS ElasticSearch/OpenSearch Fine-grained access control is enabled", types: ["aws_opensearch_domain"],
    check: (r) => fail(!truthy(block(r.attrs.advanced_security_options)?.enabled), "advanced_security_options is not enabled") },

  // --- CodeBuild, ElastiCache, EFS
  { id: "CKV_AWS_147", title: "Ensure that CodeBuild projects are encrypted using CMK", types: ["aws_codebuild_project"],
    check: (r) => fail(!isSet(r.attrs.encryption_key), "encryption_key is not set") },
  { id: "CKV_AWS_314", title: "Ensure CodeBuild project environments have a logging configuration", types: ["aws_codebuild_project"],
    check: (r) => {
      const logs = block(r.attrs.logs_config);
      const cw = block(logs?.cloudwatch_logs);
      const s3 = block(logs?.s3_logs);
      return fail(!logs || ((cw?.status === "DISABLED" || !cw) && (s3?.status !== "ENABLED")), "logs_config does not enable CloudWatch or S3 logs");
    } },
  { id: "CKV_AWS_316", title: "Ensure CodeBuild project environments do not have privileged mode enabled", types: ["aws_codebuild_project"],
    check: (r) => fail(truthy(block(r.attrs.environment)?.privileged_mode), "privileged_mode is true") },
  { id: "CKV_AWS_29", title: "Ensure all data stored in the ElastiCache Replication Group is securely encrypted at rest", types: ["aws_elasticache_replication_group"],
    check: (r) => fail(!truthy(r.attrs.at_rest_encryption_enabled), "at_rest_encryption_enabled is not true") },
  { id: "CKV_AWS_30", title: "Ensure all data stored in the ElastiCache Replication Group is securely encrypted at transit", types: ["aws_elasticache_replication_group"],
    check: (r) => fail(!truthy(r.attrs.transit_encryption_enabled), "transit_encryption_enabled is not true") },
  { id: "CKV_AWS_191", title: "Ensure ElastiCache replication group is encrypted by KMS using a customer managed Key (CMK)", types: ["aws_elasticache_replication_group"],
    check: (r) => fail(!isSet(r.attrs.kms_key_id), "kms_key_id is not set") },
  { id: "CKV2_AWS_50", title: "Ensure AWS ElastiCache Redis cluster with Multi-AZ Automatic Failover feature set to enabled", types: ["aws_elasticache_replication_group"],
    check: (r) => fail(!truthy(r.attrs.automatic_failover_enabled), "automatic_failover_enabled is not true") },
  { id: "CKV_AWS_42", title: "Ensure EFS is securely encrypted", types: ["aws_efs_file_system"],
    check: (r) => fail(!truthy(r.attrs.encrypted), "encrypted is not true") },
  { id: "CKV_AWS_184", title: "Ensure resource is encrypted by KMS using a customer managed Key (CMK)", types: ["aws_efs_file_system"],
    check: (r) => fail(!isSet(r.attrs.kms_key_id), "kms_key_id is not set") },
  { id: "CKV2_AWS_18", title: "Ensure that Elastic File System (Amazon EFS) file systems are added in the backup plans of AWS Backup", types: ["aws_efs_file_system"],
    check: (r, ctx) => fail(!ctx.ofType("aws_backup_selection").some((sel) =>
      (Array.isArray(sel.attrs.resources) ? sel.attrs.resources : []).some((arn) => typeof arn === "string" && arn.includes(`\${${r.type}.${r.name}.`))), "no aws_backup_selection lists this file system") },
  // --- Secrets Manager
  { id: "CKV2_AWS_57", title: "Ensure Secrets Manager secrets should have automatic rotation enabled", types: ["aws_secretsmanager_secret"],
    check: (r, ctx) => fail(!ctx.ofType("aws_secretsmanager_secret_rotation").some((rot) => typeof rot.attrs.secret_id === "string" && rot.attrs.secret_id.includes(`\${${r.type}.${r.name}.`)), "no aws_secretsmanager_secret_rotation rotates this secret") },
  // --- AWS Backup
  { id: "CKV_AWS_166", title: "Ensure Backup Vault is encrypted at rest using KMS CMK", types: ["aws_backup_vault"],
    check: (r) => fail(!isSet(r.attrs.kms_key_arn), "kms_key_arn is not set") },

  // --- IAM
  { id: "CKV_AWS_60", title: "Ensure IAM role allows only specific services or principals to assume it", types: ["aws_iam_role"],
    check: (r) => fail(statements(r.attrs.assume_role_policy).some((s) => isAllow(s) && principalIsStar(s.Principal)), "the trust policy admits Principal *") },
  { id: "CKV_AWS_61", title: "Ensure AWS IAM policy does not allow assume role permission across all services", types: ["aws_iam_role"],
    check: (r) => fail(statements(r.attrs.assume_role_policy).some((s) => isAllow(s) && !s.Condition && list(block(s.Principal)?.AWS).some((p) => /^arn:aws:iam::\d+:root$|^\d{12}$/.test(String(p)))), "the trust policy admits a whole account without a condition") },
  { id: "CKV_AWS_62", title: "Ensure IAM policies that allow full \"*-*\" administrative privileges are not created", types: ["aws_iam_role_policy"],
    check: (r) => fail(statements(r.attrs.policy).some((s) => isAllow(s) && list(s.Action).includes("*") && list(s.Resource).includes("*")), "allows Action * on Resource *") },
  { id: "CKV_AWS_63", title: "Ensure no IAM policies documents allow \"*\" as a statement's actions", types: ["aws_iam_role_policy"],
    check: (r) => fail(statements(r.attrs.policy).some((s) => isAllow(s) && list(s.Action).includes("*")), "allows Action *") },
  { id: "CKV2_AWS_40", title: "Ensure AWS IAM policy does not allow full IAM privileges", types: ["aws_iam_role_policy"],
    check: (r) => fail(statements(r.attrs.policy).some((s) => isAllow(s) && list(s.Action).some((a) => a === "iam:*" || a === "*") && list(s.Resource).includes("*")), "allows iam:* on Resource *") },
  { id: "CKV_AWS_274", title: "Disallow IAM roles, users, and groups from using the AWS AdministratorAccess policy", types: ["aws_iam_role_policy_attachment", "aws_iam_role"],
    check: (r) => fail([r.attrs.policy_arn, ...list(r.attrs.managed_policy_arns)].some((a) => String(a ?? "").endsWith(":policy/AdministratorAccess")), "attaches AdministratorAccess") },
  { id: "CKV2_AWS_56", title: "Ensure AWS Managed IAMFullAccess IAM policy is not used", types: ["aws_iam_role_policy_attachment"],
    check: (r) => fail(String(r.attrs.policy_arn ?? "").endsWith(":policy/IAMFullAccess"), "attaches IAMFullAccess") },
  { id: "CKV_AWS_393", title: "Ensure GitHub Actions OIDC trust policies only allow actions from specific repositories", types: ["aws_iam_role"],
    check: (r) => fail(statements(r.attrs.assume_role_policy).some((s) => isAllow(s) && list(block(s.Principal)?.Federated).some((f) => String(f).includes("token.actions.githubusercontent.com")) &&
      !Object.values(block(s.Condition) ?? {}).some((op) => list(block(op)?.["token.actions.githubusercontent.com:sub"]).some((sub) => /^repo:[^*/]+\/[^*]+/.test(String(sub))))), "a GitHub OIDC trust without a repository-specific sub condition") },

  // --- Kubernetes workloads managed by Terraform
  { id: "CKV_K8S_8", title: "Liveness Probe Should be Configured", types: ["kubernetes_deployment_v1"],
    check: (r) => eachContainer(r, (c) => fail(!isSet(c.liveness_probe), "no liveness_probe"), false) },
  { id: "CKV_K8S_9", title: "Readiness Probe Should be Configured", types: ["kubernetes_deployment_v1"],
    check: (r) => eachContainer(r, (c) => fail(!isSet(c.readiness_probe), "no readiness_probe"), false) },
  { id: "CKV_K8S_10", title: "CPU requests should be set", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(!isSet(block(block(c.resources)?.requests)?.cpu), "no CPU request")) },
  { id: "CKV_K8S_11", title: "CPU Limits should be set", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(!isSet(block(block(c.resources)?.limits)?.cpu), "no CPU limit")) },
  { id: "CKV_K8S_12", title: "Memory Limits should be set", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(!isSet(block(block(c.resources)?.limits)?.memory), "no memory limit")) },
  { id: "CKV_K8S_13", title: "Memory requests should be set", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(!isSet(block(block(c.resources)?.requests)?.memory), "no memory request")) },
  { id: "CKV_K8S_14", title: "Image Tag should be fixed - not latest or blank", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => { const image = String(c.image ?? ""); return fail(!image.includes("@") && (!/:[^/]+$/.test(image) || image.endsWith(":latest")), `image ${image} has no fixed tag`); }) },
  { id: "CKV_K8S_43", title: "Image should use digest", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(!/@sha256:[0-9a-f]{64}$/.test(String(c.image ?? "")), `image ${String(c.image)} is not pinned by digest`)) },
  // As checkov's ImagePullPolicyAlways: a set policy must be Always; an unset one passes only for a digest or "latest".
  { id: "CKV_K8S_15", title: "Image Pull Policy should be Always", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => {
      if (isSet(c.image_pull_policy)) return fail(c.image_pull_policy !== "Always", `image_pull_policy is ${String(c.image_pull_policy)}, not Always`);
      const image = String(c.image ?? "");
      return fail(!image.includes("latest") && !image.includes("@"), "image_pull_policy is unset and the image has no digest");
    }) },
  { id: "CKV_K8S_20", title: "Containers should not run with allowPrivilegeEscalation", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => { const v = block(c.security_context)?.allow_privilege_escalation; return fail(!(v === false || v === "false"), "allow_privilege_escalation is not false"); }) },
  { id: "CKV_K8S_22", title: "Use read-only filesystem for containers where possible", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(!truthy(block(c.security_context)?.read_only_root_filesystem), "read_only_root_filesystem is not true")) },
  { id: "CKV_K8S_28", title: "Minimize the admission of containers with the NET_RAW capability", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => { const drop = list(block(block(c.security_context)?.capabilities)?.drop); return fail(!drop.includes("ALL") && !drop.includes("NET_RAW"), "does not drop NET_RAW"); }) },
  { id: "CKV_K8S_37", title: "Minimise the admission of containers with capabilities assigned", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(!list(block(block(c.security_context)?.capabilities)?.drop).includes("ALL"), "does not drop ALL capabilities")) },
  { id: "CKV_K8S_25", title: "Minimize the admission of containers with added capability", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(list(block(block(c.security_context)?.capabilities)?.add).length > 0, "adds capabilities")) },
  { id: "CKV_K8S_16", title: "Do not admit privileged containers", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(truthy(block(c.security_context)?.privileged), "privileged is true")) },
  { id: "CKV_K8S_29", title: "Apply security context to your pods, deployments and daemon_sets", types: POD_TYPES,
    check: (r) => fail(!isSet(podSpec(r)?.security_context), "the pod has no security_context") },
  { id: "CKV_K8S_30", title: "Apply security context to your pods and containers", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(!isSet(c.security_context), "no security_context")) },
  { id: "CKV_K8S_17", title: "Do not admit containers wishing to share the host process ID namespace", types: POD_TYPES,
    check: (r) => fail(truthy(podSpec(r)?.host_pid), "host_pid is true") },
  { id: "CKV_K8S_18", title: "Do not admit containers wishing to share the host IPC namespace", types: POD_TYPES,
    check: (r) => fail(truthy(podSpec(r)?.host_ipc), "host_ipc is true") },
  { id: "CKV_K8S_19", title: "Do not admit containers wishing to share the host network namespace", types: POD_TYPES,
    check: (r) => fail(truthy(podSpec(r)?.host_network), "host_network is true") },
  { id: "CKV_K8S_35", title: "Prefer using secrets as files over secrets as environment variables", types: POD_TYPES,
    check: (r) => eachContainer(r, (c) => fail(blocks(c.env).some((e) => isSet(block(block(e.value_from)?.secret_key_ref))) || blocks(c.env_from).some((e) => isSet(block(e.secret_ref))), "reads a Secret into an environment variable")) },
  // checkov's Kubernetes-manifest check (checkov/kubernetes/checks/resource/k8s/ServiceAccountTokens.py), applied to the Terraform pod specs.
  { id: "CKV_K8S_38", title: "Ensure that Service Account Tokens are only mounted where necessary", types: POD_TYPES,
    check: (r) => { const v = podSpec(r)?.automount_service_account_token; return fail(!(v === false || v === "false"), "automount_service_account_token is not false"); } },
  { id: "CKV_K8S_21", title: "The default namespace should not be used", types: [...POD_TYPES, "kubernetes_config_map_v1", "kubernetes_secret_v1", "kubernetes_service_v1", "kubernetes_service_account_v1", "kubernetes_role_v1", "kubernetes_role_binding_v1", "kubernetes_ingress_v1"],
    check: (r) => { const ns = block(r.attrs.metadata)?.namespace; return fail(!isSet(ns) || ns === "default", "namespace is default or unset"); } },
  { id: "CKV_K8S_49", title: "Minimize wildcard use in Roles and ClusterRoles", types: ["kubernetes_role_v1"],
    check: (r) => fail(blocks(r.attrs.rule).some((rule) => [...list(rule.verbs), ...list(rule.resources), ...list(rule.api_groups)].includes("*")), "a rule uses *") },
  { id: "CKV_K8S_41", title: "Ensure that default service accounts are not actively used", types: ["kubernetes_service_account_v1"],
    check: (r) => fail(block(r.attrs.metadata)?.name === "default" && r.attrs.automount_service_account_token !== false, "the default service account mounts its token") },
];

function openToWorld(r: PolicyResource): boolean {
  return r.attrs.cidr_ipv4 === "0.0.0.0/0" || r.attrs.cidr_ipv6 === "::/0";
}
function coversPort(r: PolicyResource, port: number): boolean {
  if (String(r.attrs.ip_protocol) === "-1") return true;
  const from = num(r.attrs.from_port);
  const to = num(r.attrs.to_port);
  return from !== undefined && to !== undefined && from <= port && port <= to;
}

// ---------------------------------------------------------------------------------------------
// Running the rules.

export function stackResources(stackName: string, json: TfJson): PolicyResource[] {
  const out: PolicyResource[] = [];
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    for (const [name, raw] of Object.entries(byName as Record<string, Obj>)) {
      const { "//": meta, ...attrs } = raw;
      const fullPath = String((meta as { metadata?: { path?: string } } | undefined)?.metadata?.path ?? `${stackName}/${name}`);
      out.push({ type, name, path: fullPath.startsWith(`${stackName}/`) ? fullPath.slice(stackName.length + 1) : fullPath, attrs });
    }
  }
  return out;
}

function contextOf(resources: PolicyResource[]): PolicyContext {
  const byType = new Map<string, PolicyResource[]>();
  for (const r of resources) byType.set(r.type, [...(byType.get(r.type) ?? []), r]);
  const refersTo = (value: unknown, target: PolicyResource) =>
    typeof value === "string" && value.includes(`\${${target.type}.${target.name}.`);
  return {
    ofType: (type) => byType.get(type) ?? [],
    referencing: (target, type, attribute) => (byType.get(type) ?? []).filter((r) => refersTo(r.attrs[attribute], target)),
    resolve: (ref) => {
      const m = typeof ref === "string" ? /^\$\{([a-z0-9_]+)\.([^.}]+)\./.exec(ref) : null;
      return m ? (byType.get(m[1]) ?? []).find((r) => r.name === m[2]) : undefined;
    },
  };
}

/** Every rule over one stack's resources. */
export function checkResources(stack: string, resources: PolicyResource[], rules: readonly PolicyRule[] = POLICY_RULES, environment = ""): PolicyFinding[] {
  const ctx = contextOf(resources);
  const findings: PolicyFinding[] = [];
  for (const rule of rules) {
    for (const type of rule.types) {
      for (const r of ctx.ofType(type)) {
        const reason = rule.check(r, ctx);
        if (reason) findings.push({ environment, stack, check: rule.id, title: rule.title, resource: `${r.type}.${r.path}`, reason });
      }
    }
  }
  return findings;
}

/** Does an exception cover a finding? Paths may end in `*`. */
export function exceptionFor(finding: PolicyFinding, exceptions: readonly PolicyException[] = POLICY_EXCEPTIONS): PolicyException | undefined {
  return exceptions.find((e) => {
    if (e.check !== finding.check) return false;
    if (e.environments && !e.environments.includes(finding.environment)) return false;
    return e.resource.endsWith("*") ? finding.resource.startsWith(e.resource.slice(0, -1)) : finding.resource === e.resource;
  });
}

export interface PolicyReport {
  findings: PolicyFinding[];
  excepted: { finding: PolicyFinding; exception: PolicyException }[];
  unreasoned: PolicyFinding[];
  /** Exceptions that matched nothing (stale entries are reported so the file stays honest). */
  unused: PolicyException[];
  resources: number;
}

export function checkPolicy(stacks: { name: string; environment: string; json: TfJson }[], exceptions: readonly PolicyException[] = POLICY_EXCEPTIONS): PolicyReport {
  const report: PolicyReport = { findings: [], excepted: [], unreasoned: [], unused: [], resources: 0 };
  const used = new Set<PolicyException>();
  for (const stack of stacks) {
    const resources = stackResources(stack.name, stack.json);
    report.resources += resources.length;
    for (const finding of checkResources(stack.name, resources, POLICY_RULES, stack.environment)) {
      report.findings.push(finding);
      const exception = exceptionFor(finding, exceptions);
      if (exception) {
        used.add(exception);
        report.excepted.push({ finding, exception });
      } else report.unreasoned.push(finding);
    }
  }
  report.unused = exceptions.filter((e) => !used.has(e) && !e.mayBeAbsent);
  return report;
}

export function formatPolicy(findings: PolicyFinding[]): string {
  return findings.map((f) => `  ${f.check} ${f.stack}: ${f.resource}: ${f.reason} (${f.title})`).join("\n");
}
