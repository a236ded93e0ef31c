import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ClusterOidc, IrsaRole, type PolicyStatement } from "../eks/irsa-role";
import { HelmAddon } from "../helm/addon";


/**
 * The namespace label that makes the load balancer controller inject pod readiness gates: without
 * it a rolling update of pods behind an `ip` target group (ALB Ingresses, TargetGroupBindings) can
 * drain every registered target before the new pods pass their health checks.
 */
export const READINESS_GATE_LABELS = { "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled" } as const;

export interface LoadBalancerControllerProps {
  readonly version: string;
  readonly clusterName: string;
  readonly region: string;
  readonly vpcId: string;
  readonly oidc: ClusterOidc;
  readonly rolePrefix: string;
  readonly namespace?: string;
  readonly userValues?: Record<string, unknown>;
  readonly after?: ITerraformDependable[];
}

export const LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller";
const CLUSTER_TAG = "elbv2.k8s.aws/cluster";

/**
 * The controller's permissions. Read-only calls are account-wide (they accept no resource ARNs);
 * everything that creates, changes or deletes is limited to load balancers, target groups and
 * security groups carrying the controller's cluster tag.
 */
export function loadBalancerControllerStatements(): PolicyStatement[] {
  const tagged = { Null: { [`aws:ResourceTag/${CLUSTER_TAG}`]: "false" } };
  const requestTagged = { Null: { [`aws:RequestTag/${CLUSTER_TAG}`]: "false" } };
  const elb = "arn:aws:elasticloadbalancing:*:*";
  return [
    { Sid: "ServiceLinkedRole", Effect: "Allow", Action: "iam:CreateServiceLinkedRole", Resource: "*", Condition: { StringEquals: { "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com" } } },
    {
      Sid: "Describe",
      Effect: "Allow",
      Action: [
        "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones", "ec2:DescribeInternetGateways",
        "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
        "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:DescribeRouteTables",
        "ec2:GetCoipPoolUsage", "ec2:DescribeCoipPools", "ec2:GetSecurityGroupsForVpc", "ec2:DescribeIpamPools",
        "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerCertificates",
        "elasticloadbalancing:DescribeListenerAttributes", "elasticloadbalancing:DescribeSSLPolicies",
        "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTrustStores", "elasticloadbalancing:DescribeCapacityReservation",
      ],
      Resource: "*",
    },
    {
      Sid: "CertificatesAndFirewalls",
      Effect: "Allow",
      Action: [
        "cognito-idp:DescribeUserPoolClient", "acm:ListCertificates", "acm:DescribeCertificate", "iam:ListServerCertificates",
        "iam:GetServerCertificate", "wafv2:GetWebACL", "wafv2:GetWebACLForResource", "wafv2:AssociateWebACL",
        "wafv2:DisassociateWebACL", "shield:GetSubscriptionState", "shield:DescribeProtection", "shield:CreateProtection", "shield:DeleteProtection",
      ],
      Resource: "*",
    },
    { Sid: "CreateSecurityGroups", Effect: "Allow", Action: "ec2:CreateSecurityGroup", Resource: "*" },
    {
      Sid: "TagNewSecurityGroups",
      Effect: "Allow",
      Action: "ec2:CreateTags",
      Resource: "arn:aws:ec2:*:*:security-group/*",
      Condition: { StringEquals: { "ec2:CreateAction": "CreateSecurityGroup" }, ...requestTagged },
    },
    {
      Sid: "OwnSecurityGroups",
      Effect: "Allow",
      Action: ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup", "ec2:CreateTags", "ec2:DeleteTags"],
      Resource: "arn:aws:ec2:*:*:security-group/*",
      Condition: tagged,
    },
    // The controller opens node security groups to its load balancers (rules, not the groups themselves).
    { Sid: "NodeSecurityGroupRules", Effect: "Allow", Action: ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"], Resource: "arn:aws:ec2:*:*:security-group/*" },
    { Sid: "CreateLoadBalancers", Effect: "Allow", Action: ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"], Resource: "*", Condition: requestTagged },
    {
      Sid: "TagOnCreate",
      Effect: "Allow",
      Action: "elasticloadbalancing:AddTags",
      Resource: [`${elb}:targetgroup/*/*`, `${elb}:loadbalancer/net/*/*`, `${elb}:loadbalancer/app/*/*`],
      Condition: { StringEquals: { "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"] }, ...requestTagged },
    },
    {
      Sid: "OwnLoadBalancers",
      Effect: "Allow",
      Action: [
        "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType", "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:SetSubnets", "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyListenerAttributes",
        "elasticloadbalancing:ModifyCapacityReservation", "elasticloadbalancing:ModifyIpPools", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
      ],
      Resource: [`${elb}:targetgroup/*/*`, `${elb}:loadbalancer/net/*/*`, `${elb}:loadbalancer/app/*/*`],
      Condition: tagged,
    },
    {
      Sid: "ListenersAndRules",
      Effect: "Allow",
      Action: [
        "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule",
        "elasticloadbalancing:ModifyListener", "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates",
        "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities", "elasticloadbalancing:SetWebAcl",
        "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
      ],
      Resource: [`${elb}:loadbalancer/net/*/*`, `${elb}:loadbalancer/app/*/*`, `${elb}:listener/net/*/*/*`, `${elb}:listener/app/*/*/*`, `${elb}:listener-rule/net/*/*/*`, `${elb}:listener-rule/app/*/*/*`],
    },
    { Sid: "Targets", Effect: "Allow", Action: ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"], Resource: `${elb}:targetgroup/*/*` },
  ];
}

/** The AWS Load Balancer Controller (replaces ingress-nginx): ALBs for Ingresses, NLBs for Services, IRSA, two replicas with a PDB. */
export class LoadBalancerController extends Construct {
  readonly addon: HelmAddon;

  constructor(scope: Construct, id: string, props: LoadBalancerControllerProps) {
    super(scope, id);
    const namespace = props.namespace ?? "kube-system";
    const role = new IrsaRole(this, "role", {
      roleName: `${props.rolePrefix}-load-balancer-controller`,
      oidc: props.oidc,
      namespace,
      serviceAccount: LBC_SERVICE_ACCOUNT,
      statements: loadBalancerControllerStatements(),
    });
    this.addon = new HelmAddon(this, "addon", {
      app: "aws-load-balancer-controller",
      version: props.version,
      namespace,
      values: {
        clusterName: props.clusterName,
        region: props.region,
        vpcId: props.vpcId,
        replicaCount: 2,
        podDisruptionBudget: { maxUnavailable: 1 },
        serviceAccount: { create: true, name: LBC_SERVICE_ACCOUNT, annotations: { "eks.amazonaws.com/role-arn": role.arn } },
        // Only Services that ask for it get an NLB; do not take over every LoadBalancer Service.
        enableServiceMutatorWebhook: false,
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
      },
      userValues: props.userValues,
      after: props.after,
    });
  }
}
