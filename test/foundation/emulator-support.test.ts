import { AuthorizeSecurityGroupEgressCommand, AuthorizeSecurityGroupIngressCommand, CreateSecurityGroupCommand, DescribeSecurityGroupRulesCommand, CreateVpcCommand, EC2Client } from "@aws-sdk/client-ec2";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lostCreations, securityGroupRuleId } from "../../scripts/lib/emulator-support";
import { useMoto } from "../support/moto";

// What terraform printed when moto created an alias but the response was lost (a real CI run).
const alreadyExists = `
Error: creating KMS Alias (alias/local-logs-opensearch): operation error KMS: CreateAlias, https response error StatusCode: 400, RequestID: dlRK, AlreadyExistsException: An alias with the name arn:aws:kms:us-east-1:123456789012:alias/local-logs-opensearch already exists

  with aws_kms_alias.logs_key_alias_08EB6E12,
  on cdk.tf.json line 2046, in resource.aws_kms_alias.logs_key_alias_08EB6E12:
`;
// The same for a security-group rule: the provider's error carries no id (a CI run on 2026-12-05).
const duplicateRule = `
Error: creating VPC Security Group Rule

  with aws_vpc_security_group_egress_rule.plan-runner_egress-https_1A2B3C4D,
  on cdk.tf.json line 3120, in resource.aws_vpc_security_group_egress_rule.plan-runner_egress-https_1A2B3C4D:
3120:       }

operation error EC2: AuthorizeSecurityGroupEgress, https response error StatusCode: 400, RequestID: 9c1e, api error InvalidPermission.Duplicate: the specified rule "peer: 0.0.0.0/0, TCP, from port: 443, to port: 443, ALLOW" already exists
`;
const otherError = `
Error: creating S3 Bucket (x): operation error S3: CreateBucket, https response error StatusCode: 403, AccessDenied

  with aws_s3_bucket.x,
`;

describe("a creation whose response the emulator lost", () => {
  it("is recognised with the address and the id to import it by", () => {
    expect(lostCreations(alreadyExists)).toEqual([{ address: "aws_kms_alias.logs_key_alias_08EB6E12", id: "alias/local-logs-opensearch" }]);
  });
  it("is recognised for a security-group rule, whose id must be looked up", () => {
    expect(lostCreations(alreadyExists + duplicateRule)).toEqual([
      { address: "aws_kms_alias.logs_key_alias_08EB6E12", id: "alias/local-logs-opensearch" },
      { address: "aws_vpc_security_group_egress_rule.plan-runner_egress-https_1A2B3C4D" },
    ]);
    // A duplicate of another type is not a lost response the driver may adopt.
    expect(lostCreations(duplicateRule.replace(/aws_vpc_security_group_egress_rule/g, "aws_security_group_rule"))).toEqual([]);
  });
  it("is not assumed when any failure is of another kind", () => {
    expect(lostCreations(otherError)).toEqual([]);
    expect(lostCreations(alreadyExists + otherError)).toEqual([]);
    expect(lostCreations(duplicateRule + otherError)).toEqual([]);
  });
});

describe("looking up a security-group rule to adopt (moto)", () => {
  const aws = useMoto({ ec2: EC2Client });

  it("finds the rule the stack declares by group, direction, protocol, ports and peer, and nothing else", async () => {
    const { ec2 } = aws;
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.9.0.0/16" }))).Vpc!.VpcId!;
    const group = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: "runner", Description: "runner", VpcId: vpc }))).GroupId!;
    const peer = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: "nodes", Description: "nodes", VpcId: vpc }))).GroupId!;
    await ec2.send(new AuthorizeSecurityGroupEgressCommand({ GroupId: group, IpPermissions: [{ IpProtocol: "tcp", FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }] }));
    await ec2.send(new AuthorizeSecurityGroupEgressCommand({ GroupId: group, IpPermissions: [{ IpProtocol: "tcp", FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }] }));
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: group, IpPermissions: [{ IpProtocol: "tcp", FromPort: 443, ToPort: 443, UserIdGroupPairs: [{ GroupId: peer }] }] }));

    const dir = mkdtempSync(join(tmpdir(), "sgr-"));
    const config = join(dir, "cdk.tf.json");
    const state = join(dir, "stack.tfstate");
    const ref = (name: string) => `\${aws_security_group.${name}.id}`;
    writeFileSync(
      config,
      JSON.stringify({
        resource: {
          aws_vpc_security_group_egress_rule: {
            https: { security_group_id: ref("runner"), ip_protocol: "tcp", from_port: 443, to_port: 443, cidr_ipv4: "0.0.0.0/0" },
            ssh: { security_group_id: ref("runner"), ip_protocol: "tcp", from_port: 22, to_port: 22, cidr_ipv4: "0.0.0.0/0" },
          },
          aws_vpc_security_group_ingress_rule: {
            from_nodes: { security_group_id: ref("runner"), ip_protocol: "tcp", from_port: 443, to_port: 443, referenced_security_group_id: ref("nodes") },
          },
        },
      }),
    );
    writeFileSync(
      state,
      JSON.stringify({
        resources: [
          { mode: "managed", type: "aws_security_group", name: "runner", instances: [{ attributes: { id: group } }] },
          { mode: "managed", type: "aws_security_group", name: "nodes", instances: [{ attributes: { id: peer } }] },
        ],
      }),
    );
    const { SecurityGroupRules: rules = [] } = await ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: "group-id", Values: [group] }] }));
    const egress443 = rules.find((r) => r.IsEgress && r.FromPort === 443)!.SecurityGroupRuleId;
    const ingress443 = rules.find((r) => !r.IsEgress && r.FromPort === 443)!.SecurityGroupRuleId;
    expect(egress443).toMatch(/^sgr-/);

    expect(await securityGroupRuleId(ec2, config, state, "aws_vpc_security_group_egress_rule.https")).toBe(egress443);
    expect(await securityGroupRuleId(ec2, config, state, "aws_vpc_security_group_ingress_rule.from_nodes")).toBe(ingress443);
    // A rule that was never created, and a rule whose group is not in state, are not adopted.
    expect(await securityGroupRuleId(ec2, config, state, "aws_vpc_security_group_egress_rule.ssh")).toBeUndefined();
    expect(await securityGroupRuleId(ec2, config, join(dir, "missing.tfstate"), "aws_vpc_security_group_egress_rule.https")).toBeUndefined();
  }, 60_000);
});
