/**
 * What the local rehearsal cannot apply, and why. Every entry is reported by name in the
 * rehearsal's output; nothing is skipped silently. Measured with the hashicorp/aws 5.100.0
 * provider against moto 5.2.1 on 2026-11-22 (apply, second plan and destroy of each type).
 */
import { DescribeSecurityGroupRulesCommand, type DescribeSecurityGroupRulesCommandOutput } from "@aws-sdk/client-ec2";
import { existsSync, readFileSync } from "node:fs";

/** Resource types of providers that need a live Kubernetes API server. */
export const KUBERNETES_PROVIDERS = new Set(["kubernetes", "helm"]);

/** AWS resource types that moto does not implement (the provider gets a 404 or an HTML page back). */
export const EMULATOR_UNSUPPORTED: Record<string, string> = {
  aws_eks_addon: "moto does not implement EKS CreateAddon",
  aws_eks_access_entry: "moto does not implement EKS CreateAccessEntry",
  aws_eks_access_policy_association: "moto does not implement EKS AssociateAccessPolicy",
  aws_codebuild_webhook: "the webhook is registered with GitHub through the CodeConnections connection, which the emulator cannot reach",
  aws_route53_zone_association: "moto stores zones created by the provider as public and refuses VPC associations",
  aws_elasticache_replication_group: "moto loses the member cache clusters (CacheClusterNotFound) and never finishes deleting the group",
  aws_elasticache_subnet_group: "moto answers HTTP 500 on delete and the provider retries for over 10 minutes",
  aws_backup_selection: "moto implements AWS Backup vaults and plans but not CreateBackupSelection",
  aws_opensearch_domain:
    "moto accepts it, but the provider then waits about 10 minutes to create and 10 more to destroy; the rehearsal's 10-minute budget cannot hold that (terraform validate still checks it)",
};

/** Data sources the rehearsal does not read. */
export const EMULATOR_UNREAD_DATA: Record<string, string> = {
  aws_lb: "the load balancers are created by the AWS Load Balancer Controller inside Kubernetes, which the emulator does not run",
  aws_opensearch_domain: "the OpenSearch domain is held back in the rehearsal (see aws_opensearch_domain)",
  aws_secretsmanager_secret_version: "secret values are put in by operators, never by Terraform; the rehearsal's are placeholders",
  aws_eks_access_entry: "moto does not implement EKS access entries (the admins' entries are held back in the cluster layers too)",
  aws_eks_addon_version: "moto does not implement EKS DescribeAddonVersions (the add-ons it chooses the version of are held back too)",
};

/** Why an item is held back from the emulator, or undefined when it is applied. */
export function emulatorHoldReason(type: string, kind: "resource" | "data" = "resource"): string | undefined {
  const provider = type.split("_")[0];
  if (KUBERNETES_PROVIDERS.has(provider)) return `${provider} resources need a live Kubernetes API server, which the emulator does not have`;
  if (provider !== "aws") return `provider ${provider} is not in the offline provider mirror (and its target, a live domain, is held back too)`;
  return kind === "data" ? EMULATOR_UNREAD_DATA[type] : EMULATOR_UNSUPPORTED[type];
}

/**
 * Attributes moto accepts but does not return as AWS does, so a second plan would always show a
 * change. The rehearsal (never a real deployment) ignores exactly these, and prints each one.
 */
export const EMULATOR_ROUND_TRIP_GAPS: Record<string, string[]> = {
  aws_eks_cluster: ["access_config"],
  // moto keeps no tags of AWS Backup vaults and plans, so the provider's default tags show as a diff.
  aws_backup_vault: ["tags_all"],
  aws_backup_plan: ["tags_all"],
  aws_lambda_function: ["dead_letter_config", "logging_config"],
  // moto returns "<account>/sg-..." for the referenced group and drops the description.
  aws_vpc_security_group_ingress_rule: ["referenced_security_group_id", "description"],
  aws_vpc_security_group_egress_rule: ["referenced_security_group_id", "description"],
  // The provider does not send HostedZoneConfig.PrivateZone, so moto stores the zone as public
  // and reports no VPC; re-associating then fails.
  aws_route53_zone: ["vpc"],
  // moto's EKS creates no cluster security group, so the node launch template's list holds a null.
  // ... and it reports an extra tag specification for the launch template itself.
  aws_launch_template: ["vpc_security_group_ids", "tag_specifications"],
  // moto issues every certificate as RSA_2048 whatever key algorithm was asked for.
  aws_acm_certificate: ["key_algorithm"],
  // moto stores DB parameter groups without their parameters (rds.force_ssl is never returned).
  aws_db_parameter_group: ["parameter"],
  aws_db_instance: ["performance_insights_enabled", "performance_insights_kms_key_id", "performance_insights_retention_period"],
};

/**
 * The failures of an apply that are all "already exists" on create, with the id to import each by
 * (the provider names it in parentheses: `creating KMS Alias (alias/x): ... AlreadyExistsException`).
 * A security-group rule's lost creation answers `InvalidPermission.Duplicate` and names no id
 * (the rule's id is only in the lost response): it comes back without `id`, to be looked up with
 * {@link securityGroupRuleId}. Empty when any failure is of another kind.
 */
export function lostCreations(stderr: string): { address: string; id?: string }[] {
  const blocks = stderr.split(/\n(?=Error: )/).filter((b) => /Error: /.test(b));
  const out: { address: string; id?: string }[] = [];
  for (const block of blocks) {
    const address = /with ([\w.-]+\.[\w-]+),/.exec(block)?.[1];
    if (!address) return [];
    const error = /Error: creating [^(\n]*\(([^)\n]+)\)[^\n]*(AlreadyExists|already exists)/.exec(block);
    if (error) {
      out.push({ address, id: error[1] });
      continue;
    }
    if (/InvalidPermission\.Duplicate/.test(block) && /^aws_vpc_security_group_(ingress|egress)_rule\./.test(address)) {
      out.push({ address });
      continue;
    }
    return [];
  }
  return out;
}

/** The slice of EC2 that {@link securityGroupRuleId} uses (the SDK's EC2Client satisfies it). */
export interface RuleLookup {
  send(command: DescribeSecurityGroupRulesCommand): Promise<DescribeSecurityGroupRulesCommandOutput>;
}

/**
 * The id (sgr-...) of the rule a stack declares at `address`, read back from EC2: the rule's group
 * and referenced group are resolved from the stack's state (`${aws_security_group.x.id}`), and the
 * group's rules are matched on direction, protocol, ports and peer. Undefined when none matches.
 */
export async function securityGroupRuleId(ec2: RuleLookup, configFile: string, stateFile: string, address: string): Promise<string | undefined> {
  const [type, name] = address.split(".");
  const config = JSON.parse(readFileSync(configFile, "utf8")) as { resource?: Record<string, Record<string, Record<string, unknown>>> };
  const rule = config.resource?.[type]?.[name];
  if (!rule) return undefined;
  const state = existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, "utf8")) as { resources?: { mode: string; type: string; name: string; instances: { attributes: Record<string, unknown> }[] }[] })
    : {};
  const resolve = (value: unknown): string | undefined => {
    if (typeof value !== "string") return undefined;
    const ref = /^\$\{(\w+)\.([\w-]+)\.(\w+)\}$/.exec(value);
    if (!ref) return value;
    const found = state.resources?.find((r) => r.mode === "managed" && r.type === ref[1] && r.name === ref[2]);
    const attr = found?.instances[0]?.attributes[ref[3]];
    return typeof attr === "string" ? attr : undefined;
  };
  const groupId = resolve(rule.security_group_id);
  if (!groupId) return undefined;
  const egress = type === "aws_vpc_security_group_egress_rule";
  const protocol = String(rule.ip_protocol);
  const wanted = { cidr4: resolve(rule.cidr_ipv4), cidr6: resolve(rule.cidr_ipv6), peer: resolve(rule.referenced_security_group_id), prefixList: resolve(rule.prefix_list_id) };
  const answer = await ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: "group-id", Values: [groupId] }] }));
  const match = (answer.SecurityGroupRules ?? []).find(
    (r) =>
      r.IsEgress === egress &&
      (r.IpProtocol === protocol || (protocol === "-1" && r.IpProtocol === "-1")) &&
      (protocol === "-1" || (r.FromPort === Number(rule.from_port) && r.ToPort === Number(rule.to_port))) &&
      r.CidrIpv4 === wanted.cidr4 &&
      r.CidrIpv6 === wanted.cidr6 &&
      r.PrefixListId === wanted.prefixList &&
      // moto reports the referenced group as "<account>/sg-...".
      (wanted.peer === undefined ? !r.ReferencedGroupInfo?.GroupId : (r.ReferencedGroupInfo?.GroupId ?? "").split("/").pop() === wanted.peer),
  );
  return match?.SecurityGroupRuleId;
}
