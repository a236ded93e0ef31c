import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CodebuildProject } from "@cdktf/provider-aws/lib/codebuild-project";
import { CodebuildWebhook } from "@cdktf/provider-aws/lib/codebuild-webhook";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { Construct } from "constructs";
import { DEPLOY_RUNNER_IMAGE } from "../../config/versions";

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
  /**
   * Policies of the runner's role. Default AdministratorAccess: the runner applies every stack of
   * the environment, which creates IAM roles, so any narrower policy is admin in effect anyway.
   * Give a scoped policy (or add a permissions boundary) where the account holds other systems.
   */
  readonly policyArns?: string[];
}

/**
 * Where deploys run: a GitHub Actions runner hosted by AWS CodeBuild inside the C&C VPC.
 *
 * Every API endpoint is private. A GitHub-hosted runner reaches none of them, and a VPN into the
 * C&C VPC does not reach workload APIs through peering (peering is not transitive). A runner
 * *inside* the C&C VPC reaches the C&C API (its security group is admitted by the cluster's API
 * security group) and every workload API over peering (workload APIs admit the C&C VPC block).
 *
 * CodeBuild starts one ephemeral build per queued workflow job (`WORKFLOW_JOB_QUEUED` webhook);
 * a workflow selects it with `runs-on: codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }}`.
 * Its role is one of the environment's deploy roles (access entries on every cluster).
 */
export class DeployRunner extends Construct {
  readonly project: CodebuildProject;
  readonly role: IamRole;
  readonly securityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: DeployRunnerProps) {
    super(scope, id);
    if (props.subnetIds.length === 0) throw new Error(`DeployRunner ${props.name}: needs private subnets of the C&C VPC to run in`);
    this.role = new IamRole(this, "role", {
      name: props.name,
      description: "Deploy runner: applies and diffs every stack of the environment from inside the C&C VPC",
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "codebuild.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      maxSessionDuration: 4 * 3600,
    });
    const attachments = (props.policyArns ?? ["arn:aws:iam::aws:policy/AdministratorAccess"]).map(
      (policyArn, i) => new IamRolePolicyAttachment(this, `policy-${i}`, { role: this.role.name, policyArn }),
    );
    this.securityGroup = new SecurityGroup(this, "sg", {
      name: props.name,
      description: `${props.name}: no inbound; outbound to the cluster APIs, AWS APIs and GitHub`,
      vpcId: props.vpcId,
      tags: { Name: props.name },
    });
    new VpcSecurityGroupEgressRule(this, "egress-https", { securityGroupId: this.securityGroup.id, ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0", description: "HTTPS: cluster APIs, AWS APIs, GitHub, npm" });
    new VpcSecurityGroupEgressRule(this, "egress-dns", { securityGroupId: this.securityGroup.id, ipProtocol: "udp", fromPort: 53, toPort: 53, cidrIpv4: "0.0.0.0/0", description: "DNS (VPC resolver)" });
    const logs = new CloudwatchLogGroup(this, "logs", { name: `/aws/codebuild/${props.name}`, retentionInDays: props.logRetentionDays });
    this.project = new CodebuildProject(this, "project", {
      name: props.name,
      description: "GitHub Actions runner for cdktf diff/deploy of this environment (private endpoints are reachable from here)",
      serviceRole: this.role.arn,
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
      filterGroup: [{ filter: [{ type: "EVENT", pattern: "WORKFLOW_JOB_QUEUED" }] }],
    });
  }
}
