import { DataAwsEksCluster } from "@cdktf/provider-aws/lib/data-aws-eks-cluster";
import { DataAwsEksClusterAuth } from "@cdktf/provider-aws/lib/data-aws-eks-cluster-auth";
import { DataAwsIamOpenidConnectProvider } from "@cdktf/provider-aws/lib/data-aws-iam-openid-connect-provider";
import { DataAwsSecurityGroup } from "@cdktf/provider-aws/lib/data-aws-security-group";
import { DataAwsSubnets } from "@cdktf/provider-aws/lib/data-aws-subnets";
import { DataAwsVpc } from "@cdktf/provider-aws/lib/data-aws-vpc";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import type { ClusterOidc } from "./irsa-role";

export interface ClusterConnectionProps {
  /** Name of an EKS cluster created by an earlier layer (config/names.ts). */
  readonly clusterName: string;
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
 * providers authenticated with a short-lived token of the caller's own IAM identity.
 */
export class ClusterConnection extends Construct {
  readonly cluster: DataAwsEksCluster;
  readonly oidc: ClusterOidc;
  readonly vpcId: string;
  readonly privateSubnetIds: string[];
  readonly nodeSecurityGroupId: string;
  readonly kubernetes: KubernetesProvider;
  readonly helm: HelmProvider;

  constructor(scope: Construct, id: string, props: ClusterConnectionProps) {
    super(scope, id);
    this.cluster = new DataAwsEksCluster(this, "cluster", { name: props.clusterName });
    const auth = new DataAwsEksClusterAuth(this, "auth", { name: props.clusterName });
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

    const connection = {
      host: this.cluster.endpoint,
      clusterCaCertificate: Fn.base64decode(this.cluster.certificateAuthority.get(0).data),
      token: auth.token,
    };
    this.kubernetes = new KubernetesProvider(this, "kubernetes", connection);
    this.helm = new HelmProvider(this, "helm", { kubernetes: connection });
  }
}
