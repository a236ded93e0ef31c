import { DataAwsEksCluster } from "@cdktf/provider-aws/lib/data-aws-eks-cluster";
import { DataAwsEksAccessEntry } from "@cdktf/provider-aws/lib/data-aws-eks-access-entry";
import { DataAwsIamOpenidConnectProvider } from "@cdktf/provider-aws/lib/data-aws-iam-openid-connect-provider";
import { DataAwsSecurityGroup } from "@cdktf/provider-aws/lib/data-aws-security-group";
import { DataAwsSubnets } from "@cdktf/provider-aws/lib/data-aws-subnets";
import { DataAwsVpc } from "@cdktf/provider-aws/lib/data-aws-vpc";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Fn, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { ClusterOidc } from "./irsa-role";

export interface ClusterConnectionProps {
  /** Name of an EKS cluster created by an earlier layer (config/names.ts). */
  readonly clusterName: string;
  /** The cluster's region (passed to `aws eks get-token`). */
  readonly region: string;
  /**
   * The IAM roles that are admin of the cluster (config/names.ts clusterAdminRoleArns). Their access
   * entries are looked up, so a plan against a cluster that grants none of them fails at the
   * lookup, naming the role, instead of with `Unauthorized` halfway through an apply.
   */
  readonly adminRoleArns: string[];
  /**
   * The cluster's network: the ids of an existing VPC given in the environment, or (default)
   * found by the `platform/network` tag layer 1 puts on the VPC and the `tier` tag on subnets.
   */
  readonly existingNetwork?: { vpcId: string; privateSubnetIds: string[] };
}

/**
 * Everything a later layer needs from a cluster made by an earlier one, found by name with data
 * sources (so `cdktf diff` of this stack needs no other stack's state): the cluster, its OIDC
 * provider for IRSA, its VPC, private subnets and node security group, and Kubernetes and Helm
 * providers.
 *
 * The providers authenticate with `exec` (`aws eks get-token`), which mints a fresh token whenever
 * one expires: a stored `aws_eks_cluster_auth` token lasts 15 minutes, less than an apply that
 * waits on OpenSearch or a Multi-AZ RDS instance. So the AWS CLI is a deploy-time requirement
 * (checked by the preflight). The cluster is always one an *earlier* stack created: a stack never
 * configures these providers from a cluster it creates itself (unknown at first plan, and broken
 * again on replacement).
 */
export class ClusterConnection extends Construct {
  readonly cluster: DataAwsEksCluster;
  readonly oidc: ClusterOidc;
  readonly vpcId: string;
  readonly privateSubnetIds: string[];
  readonly nodeSecurityGroupId: string;
  readonly kubernetes: KubernetesProvider;
  readonly helm: HelmProvider;
  /** The admins' access entries: Kubernetes objects wait for these lookups. */
  readonly adminAccess: ITerraformDependable[];

  constructor(scope: Construct, id: string, props: ClusterConnectionProps) {
    super(scope, id);
    this.cluster = new DataAwsEksCluster(this, "cluster", { name: props.clusterName });
    if (props.adminRoleArns.length === 0) throw new Error(`ClusterConnection ${props.clusterName}: no admin role is named; nobody could apply Kubernetes objects to it`);
    this.adminAccess = props.adminRoleArns.map(
      (arn) => new DataAwsEksAccessEntry(this, `admin-${arn.split("/").pop()!.replace(/[^A-Za-z0-9-]/g, "-")}`, { clusterName: this.cluster.name, principalArn: arn }),
    );
    const issuer = this.cluster.identity.get(0).oidc.get(0).issuer;
    const provider = new DataAwsIamOpenidConnectProvider(this, "oidc", { url: issuer });
    this.oidc = { providerArn: provider.arn, issuerUrl: issuer };
    if (props.existingNetwork) {
      this.vpcId = props.existingNetwork.vpcId;
      this.privateSubnetIds = props.existingNetwork.privateSubnetIds;
    } else {
      this.vpcId = new DataAwsVpc(this, "vpc", { tags: { "platform/network": props.clusterName } }).id;
      this.privateSubnetIds = new DataAwsSubnets(this, "private-subnets", {
        filter: [{ name: "vpc-id", values: [this.vpcId] }],
        tags: { tier: "private" },
      }).ids;
    }
    this.nodeSecurityGroupId = new DataAwsSecurityGroup(this, "node-sg", {
      vpcId: this.vpcId,
      filter: [{ name: "group-name", values: [`${props.clusterName}-nodes`] }],
    }).id;

    const connection = { host: this.cluster.endpoint, clusterCaCertificate: Fn.base64decode(this.cluster.certificateAuthority.get(0).data) };
    const exec = eksExec(props.clusterName, props.region);
    this.kubernetes = new KubernetesProvider(this, "kubernetes", { ...connection, exec: [exec] });
    this.helm = new HelmProvider(this, "helm", { kubernetes: { ...connection, exec } });
  }
}

/** The exec credential plugin every kubernetes/helm provider uses: a fresh token per expiry. */
export function eksExec(clusterName: string, region: string) {
  return {
    apiVersion: "client.authentication.k8s.io/v1beta1",
    command: "aws",
    args: ["eks", "get-token", "--cluster-name", clusterName, "--region", region, "--output", "json"],
  };
}
