import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CodebuildProject } from "@cdktf/provider-aws/lib/codebuild-project";
import { CodebuildWebhook } from "@cdktf/provider-aws/lib/codebuild-webhook";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { Construct } from "constructs";
import { DEPLOY_RUNNER_IMAGE } from "../../config/versions";
import type { PolicyStatement } from "../eks/irsa-role";

export interface DeployRunnerProps {
  /** Project, role and security-group name (config/names.ts deployRunnerName). */
  readonly name: string;
  /** The GitHub repository whose workflow jobs run here (https://github.com/<owner>/<name>). */
  readonly repositoryUrl: string;
  /** AWS CodeConnections connection to GitHub (authorized once by a person, in the console). */
  readonly connectionArn: string;
  readonly vpcId: string;
  /** Private subnets of the C&C VPC (NAT egress to GitHub, the registries and AWS APIs). */
  readonly subnetIds: string[];
  readonly computeType: string;
  readonly logRetentionDays: number;
  /** KMS key (one whose policy admits CloudWatch Logs, PlatformKey cloudWatchLogs) for the log group. */
  readonly logsKmsKeyArn: string;
  /**
   * Encrypt build output with this key instead of the AWS-managed S3 key (the role is granted
   * its use). Undefined keeps the AWS-managed key: the AWS emulator reports that key whatever is
   * set, so the rehearsal leaves it out to keep its second plan empty.
   */
  readonly encryptionKeyArn?: string;
  /**
   * Managed policies of the runner's own role, beyond what every build needs (its network
   * interfaces, its logs, the GitHub connection). The deploy runner gets none: deploy jobs assume
   * the deploy role through GitHub OIDC, so a job that lands on it without the GitHub
   * environment's approval holds nothing. The plan runner gets ReadOnlyAccess.
   */
  readonly policyArns?: string[];
  readonly region: string;
  readonly accountId: string;
  /** Inline permissions beyond the managed policies (the plan runner's state lock, state key, secret reads). */
  readonly statements?: PolicyStatement[];
  /**
   * The only GitHub Actions workflows whose jobs this runner takes (webhook WORKFLOW_NAME filter,
   * exact names). The deploy runner serves `deploy` alone, so pull-request code (the diff
   * workflow) never runs with the deploy role; the read-only plan runner serves `diff` and the
   * scheduled `drift`. Protect `.github/workflows/` with CODEOWNERS and branch rules: whoever can
   * change a workflow's name can choose its runner.
   */
  readonly workflowNames: readonly string[];
  /** What the runner is for, in the project description. */
  readonly purpose: string;
}

/**
 * Where deploys run: a GitHub Actions runner hosted by AWS CodeBuild inside the C&C VPC.
 *
 * Every API endpoint is private. A GitHub-hosted runner reaches none of them, and a VPN into the
 * C&C VPC does not reach workload APIs through peering (peering is not transitive). A runner
 * *inside* the C&C VPC reaches the C&C API (its security group is admitted by the cluster's API
 * security group) and every workload API over peering (workload APIs admit the C&C VPC block).
 *
 * CodeBuild starts one ephemeral build per queued workflow job (`WORKFLOW_JOB_QUEUED` webhook,
 * limited to one workflow by name); a workflow selects it with
 * `runs-on: codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }}`.
 * Two are made per environment: the deploy runner (workflow `deploy`; its jobs assume the deploy
 * role through GitHub OIDC, which only the protected GitHub environment can) and the plan runner
 * (workflow `diff`; its own role is read-only, and AmazonEKSAdminViewPolicy in every cluster).
 */
export class DeployRunner extends Construct {
  readonly project: CodebuildProject;
  readonly role: IamRole;
  readonly securityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: DeployRunnerProps) {
    super(scope, id);
    if (props.subnetIds.length === 0) throw new Error(`DeployRunner ${props.name}: needs private subnets of the C&C VPC to run in`);
    if (!props.workflowNames.length || props.workflowNames.some((w) => !/^[A-Za-z0-9_-]+$/.test(w))) {
      throw new Error(`DeployRunner ${props.name}: workflowNames must be one or more plain workflow names (letters, digits, - and _), got ${JSON.stringify(props.workflowNames)}`);
    }
    const workflows = props.workflowNames.join(", ");
    this.role = new IamRole(this, "role", {
      name: props.name,
      description: `${props.purpose}, from inside the C&C VPC (GitHub workflows: ${workflows})`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "codebuild.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      maxSessionDuration: 4 * 3600,
    });
    const attachments: (IamRolePolicyAttachment | IamRolePolicy)[] = (props.policyArns ?? []).map(
      (policyArn, i) => new IamRolePolicyAttachment(this, `policy-${i}`, { role: this.role.name, policyArn }),
    );
    const logGroupName = `/aws/codebuild/${props.name}`;
    const { region, accountId } = props;
    // What any CodeBuild project in a VPC, with CloudWatch logs and a GitHub connection, needs to run at all.
    const baseline: PolicyStatement[] = [
      { Sid: "VpcNetworkInterfaces", Effect: "Allow", Action: ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeDhcpOptions", "ec2:DescribeVpcs"], Resource: "*" },
      {
        Sid: "VpcNetworkInterfacePermission",
        Effect: "Allow",
        Action: ["ec2:CreateNetworkInterfacePermission"],
        Resource: `arn:aws:ec2:${region}:${accountId}:network-interface/*`,
        Condition: { StringEquals: { "ec2:AuthorizedService": "codebuild.amazonaws.com" } },
      },
      { Sid: "BuildLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `arn:aws:logs:${region}:${accountId}:log-group:${logGroupName}:*` },
      ...(props.encryptionKeyArn
        ? [{ Sid: "BuildEncryptionKey", Effect: "Allow" as const, Action: ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], Resource: props.encryptionKeyArn }]
        : []),
      { Sid: "GitHubConnection", Effect: "Allow", Action: ["codeconnections:GetConnection", "codeconnections:GetConnectionToken", "codeconnections:UseConnection", "codestar-connections:GetConnection", "codestar-connections:GetConnectionToken", "codestar-connections:UseConnection"], Resource: props.connectionArn },
    ];
    attachments.push(new IamRolePolicy(this, "baseline", { role: this.role.id, name: `${props.name}-baseline`, policy: JSON.stringify({ Version: "2012-10-17", Statement: baseline }) }));
    if (props.statements?.length) {
      attachments.push(new IamRolePolicy(this, "inline", { role: this.role.id, name: `${props.name}-inline`, policy: JSON.stringify({ Version: "2012-10-17", Statement: props.statements }) }));
    }
    this.securityGroup = new SecurityGroup(this, "sg", {
      name: props.name,
      description: `${props.name}: no inbound; outbound to the cluster APIs, AWS APIs and GitHub`,
      vpcId: props.vpcId,
      tags: { Name: props.name },
    });
    new VpcSecurityGroupEgressRule(this, "egress-https", { securityGroupId: this.securityGroup.id, ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0", description: "HTTPS: cluster APIs, AWS APIs, GitHub, npm" });
    new VpcSecurityGroupEgressRule(this, "egress-dns", { securityGroupId: this.securityGroup.id, ipProtocol: "udp", fromPort: 53, toPort: 53, cidrIpv4: "0.0.0.0/0", description: "DNS (VPC resolver)" });
    const logs = new CloudwatchLogGroup(this, "logs", { name: logGroupName, retentionInDays: props.logRetentionDays, kmsKeyId: props.logsKmsKeyArn });
    this.project = new CodebuildProject(this, "project", {
      name: props.name,
      description: `GitHub Actions runner: ${props.purpose} (private endpoints are reachable from here)`,
      serviceRole: this.role.arn,
      encryptionKey: props.encryptionKeyArn,
      buildTimeout: 240,
      source: { type: "GITHUB", location: props.repositoryUrl, auth: { type: "CODECONNECTIONS", resource: props.connectionArn } },
      artifacts: { type: "NO_ARTIFACTS" },
      environment: { type: "LINUX_CONTAINER", computeType: props.computeType, image: DEPLOY_RUNNER_IMAGE, imagePullCredentialsType: "CODEBUILD" },
      vpcConfig: { vpcId: props.vpcId, subnets: props.subnetIds, securityGroupIds: [this.securityGroup.id] },
      logsConfig: { cloudwatchLogs: { groupName: logs.name, status: "ENABLED" } },
      // CodeBuild checks at creation that the role may describe the VPC's network (provider #37049).
      dependsOn: [logs, ...attachments],
    });
    new CodebuildWebhook(this, "webhook", {
      projectName: this.project.name,
      buildType: "BUILD",
      filterGroup: [
        {
          filter: [
            { type: "EVENT", pattern: "WORKFLOW_JOB_QUEUED" },
            { type: "WORKFLOW_NAME", pattern: props.workflowNames.length === 1 ? `^${props.workflowNames[0]}$` : `^(${props.workflowNames.join("|")})$` },
          ],
        },
      ],
    });
  }
}
