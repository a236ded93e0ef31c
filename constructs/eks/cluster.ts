import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { EksAccessEntry } from "@cdktf/provider-aws/lib/eks-access-entry";
import { EksAccessPolicyAssociation } from "@cdktf/provider-aws/lib/eks-access-policy-association";
import { DataAwsEksAddonVersion } from "@cdktf/provider-aws/lib/data-aws-eks-addon-version";
import { EksAddon } from "@cdktf/provider-aws/lib/eks-addon";
import { EksCluster } from "@cdktf/provider-aws/lib/eks-cluster";
import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { isCidr, parseCidr } from "../../config/cidr";
import { SUPPORTED_EKS_VERSIONS } from "../../config/versions";
import { PlatformKey } from "../security/kms-key";
import { IrsaRole, type ClusterOidc } from "./irsa-role";

export interface PlatformClusterProps {
  /** EKS cluster name, e.g. `prod-cnc`. */
  readonly name: string;
  /** Kubernetes version; one of SUPPORTED_EKS_VERSIONS. */
  readonly kubernetesVersion: string;
  readonly vpcId: string;
  /** Private subnets for the control-plane ENIs (and, by default, the nodes). */
  readonly subnetIds: string[];
  /** Public API endpoint; default false. When true, `publicAccessCidrs` must list who may use it. */
  readonly endpointPublicAccess?: boolean;
  readonly publicAccessCidrs?: string[];
  /** VPN / admin networks allowed to reach the private endpoint on 443. */
  readonly adminCidrs?: string[];
  /**
   * IAM roles granted cluster admin through access entries: the deploy roles, the deploy runner and
   * the environment's admins. The creator gets nothing implicit, so this list is who may run the
   * Kubernetes phase.
   */
  readonly adminPrincipalArns?: string[];
  /** Retention of the control-plane log group (api, audit, authenticator, controllerManager, scheduler). */
  readonly logRetentionDays: number;
  /** KMS key (one whose policy admits CloudWatch Logs, PlatformKey cloudWatchLogs) for the log group. */
  readonly logsKmsKeyArn: string;
  /** KMS deletion window for the secrets key (7-30 days). Default 30. */
  readonly keyDeletionWindowDays?: number;
}

const CLUSTER_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"];

/**
 * An EKS control plane with the secure defaults: private API endpoint (public only on request and
 * then only for listed networks), secrets envelope-encrypted with a rotating customer-managed KMS
 * key, api/audit/authenticator logs kept for a set time, access entries (API authentication
 * mode) with no implicit admin for the creator, and an IAM OIDC provider for IRSA.
 *
 * Networking add-ons (VPC CNI, kube-proxy, pod identity agent) are created with the cluster so
 * nodes join healthy; CoreDNS and the EBS CSI driver need nodes and are added by
 * `addComputeAddons` once node groups exist.
 */
export class PlatformCluster extends Construct {
  readonly cluster: EksCluster;
  readonly name: string;
  readonly secretsKey: PlatformKey;
  readonly oidcProvider: IamOpenidConnectProvider;
  readonly oidc: ClusterOidc;
  /** Additional security group of the control plane: 443 only from the sources allowed below. */
  readonly apiSecurityGroup: SecurityGroup;
  /** Security group of the worker nodes. */
  readonly nodeSecurityGroup: SecurityGroup;
  /** Add-ons nodes need before they can become Ready. */
  readonly networkingAddons: EksAddon[];
  private readonly partition: DataAwsPartition;

  constructor(scope: Construct, id: string, props: PlatformClusterProps) {
    super(scope, id);
    const { name } = props;
    if (!(SUPPORTED_EKS_VERSIONS as readonly string[]).includes(props.kubernetesVersion)) {
      throw new Error(`PlatformCluster ${name}: Kubernetes ${props.kubernetesVersion} is not supported (${SUPPORTED_EKS_VERSIONS.join(", ")})`);
    }
    if (props.subnetIds.length < 2) throw new Error(`PlatformCluster ${name}: EKS needs subnets in at least two zones`);
    const publicCidrs = props.publicAccessCidrs ?? [];
    if (props.endpointPublicAccess && publicCidrs.length === 0) {
      throw new Error(`PlatformCluster ${name}: a public endpoint needs publicAccessCidrs; refusing to open it to everyone`);
    }
    for (const c of [...publicCidrs, ...(props.adminCidrs ?? [])]) {
      if (!isCidr(c)) throw new Error(`PlatformCluster ${name}: "${c}" is not a CIDR block`);
      if (parseCidr(c)!.prefix === 0) throw new Error(`PlatformCluster ${name}: ${c} would open the API to the whole internet`);
    }
    this.name = name;
    this.partition = new DataAwsPartition(this, "partition");
    const arnPrefix = `arn:${this.partition.partition}`;

    this.secretsKey = new PlatformKey(this, "secrets-key", {
      alias: `${name}-eks-secrets`,
      description: `Envelope encryption of Kubernetes secrets in EKS cluster ${name}`,
      deletionWindowDays: props.keyDeletionWindowDays,
    });

    const role = new IamRole(this, "cluster-role", {
      name: `${name}-eks-cluster`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] }],
      }),
    });
    const policies = ["AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"].map(
      (p) => new IamRolePolicyAttachment(this, `cluster-${p}`, { role: role.name, policyArn: `${arnPrefix}:iam::aws:policy/${p}` }),
    );

    // The log group exists (with its retention) before EKS would create one without.
    const logGroup = new CloudwatchLogGroup(this, "control-plane-logs", { name: `/aws/eks/${name}/cluster`, retentionInDays: props.logRetentionDays, kmsKeyId: props.logsKmsKeyArn });

    this.apiSecurityGroup = new SecurityGroup(this, "api-sg", {
      name: `${name}-api`,
      description: `EKS ${name} API: 443 from nodes, admin networks and named callers only`,
      vpcId: props.vpcId,
      tags: { Name: `${name}-api` },
    });
    this.nodeSecurityGroup = new SecurityGroup(this, "node-sg", {
      name: `${name}-nodes`,
      description: `EKS ${name} worker nodes`,
      vpcId: props.vpcId,
      // Not tagged kubernetes.io/cluster/<name>: EKS tags its cluster security group so, and the
      // load balancer controller refuses an ENI with two tagged groups ("expected exactly one
      // securityGroup tagged with kubernetes.io/cluster/<name>").
      tags: { Name: `${name}-nodes` },
    });
    this.allowApiFrom("nodes", { referencedSecurityGroupId: this.nodeSecurityGroup.id });
    (props.adminCidrs ?? []).forEach((cidr, i) => this.allowApiFrom(`admin-${i}`, { cidrIpv4: cidr }));
    new VpcSecurityGroupEgressRule(this, "api-egress", { securityGroupId: this.apiSecurityGroup.id, ipProtocol: "-1", cidrIpv4: "0.0.0.0/0", description: "control plane to nodes and AWS APIs" });

    new VpcSecurityGroupIngressRule(this, "nodes-from-nodes", { securityGroupId: this.nodeSecurityGroup.id, referencedSecurityGroupId: this.nodeSecurityGroup.id, ipProtocol: "-1", description: "node to node" });
    new VpcSecurityGroupIngressRule(this, "nodes-from-api", {
      securityGroupId: this.nodeSecurityGroup.id,
      referencedSecurityGroupId: this.apiSecurityGroup.id,
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      description: "control plane to webhooks and kubelet proxies",
    });
    new VpcSecurityGroupIngressRule(this, "kubelet-from-api", {
      securityGroupId: this.nodeSecurityGroup.id,
      referencedSecurityGroupId: this.apiSecurityGroup.id,
      ipProtocol: "tcp",
      fromPort: 10250,
      toPort: 10250,
      description: "control plane to kubelet",
    });
    new VpcSecurityGroupEgressRule(this, "nodes-egress", { securityGroupId: this.nodeSecurityGroup.id, ipProtocol: "-1", cidrIpv4: "0.0.0.0/0", description: "nodes to AWS APIs and registries through NAT" });

    this.cluster = new EksCluster(this, "cluster", {
      name,
      version: props.kubernetesVersion,
      roleArn: role.arn,
      vpcConfig: {
        subnetIds: props.subnetIds,
        securityGroupIds: [this.apiSecurityGroup.id],
        endpointPrivateAccess: true,
        endpointPublicAccess: props.endpointPublicAccess ?? false,
        publicAccessCidrs: props.endpointPublicAccess ? publicCidrs : undefined,
      },
      encryptionConfig: { resources: ["secrets"], provider: { keyArn: this.secretsKey.arn } },
      enabledClusterLogTypes: CLUSTER_LOG_TYPES,
      accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: false },
      // Add-ons are managed below; EKS must not install unmanaged copies first.
      bootstrapSelfManagedAddons: false,
      dependsOn: [logGroup, ...policies],
    });

    this.oidcProvider = new IamOpenidConnectProvider(this, "oidc", {
      url: this.cluster.identity.get(0).oidc.get(0).issuer,
      clientIdList: ["sts.amazonaws.com"],
      tags: { Name: `${name}-irsa` },
    });
    this.oidc = { providerArn: this.oidcProvider.arn, issuerUrl: this.cluster.identity.get(0).oidc.get(0).issuer };

    // Stable ids from the role name: reordering the list in the environment replaces nothing.
    [...new Set(props.adminPrincipalArns ?? [])].forEach((arn) => this.grantAdmin(`admin-${arn.split("/").pop()!.replace(/[^A-Za-z0-9-]/g, "-")}`, arn));

    // The VPC CNI enforces NetworkPolicy objects only with its network-policy agent switched on.
    this.networkingAddons = [
      this.addon("vpc-cni", [], undefined, JSON.stringify({ enableNetworkPolicy: "true" })),
      this.addon("kube-proxy"),
      this.addon("eks-pod-identity-agent"),
    ];
  }

  /** Admits 443 to the API from a security group or CIDR block. */
  allowApiFrom(id: string, source: { referencedSecurityGroupId?: string; cidrIpv4?: string }): void {
    new VpcSecurityGroupIngressRule(this, `api-from-${id}`, {
      securityGroupId: this.apiSecurityGroup.id,
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      description: `Kubernetes API from ${id}`,
      ...source,
    });
  }

  /** Cluster-wide admin for one IAM principal (AmazonEKSClusterAdminPolicy through an access entry). */
  grantAdmin(id: string, principalArn: string): void {
    this.grantAccessPolicy(id, principalArn, "AmazonEKSClusterAdminPolicy", "admin");
  }

  /**
   * Cluster-wide read access, Secrets included, for one IAM principal (AmazonEKSAdminViewPolicy):
   * what a plan needs (Helm keeps releases in Secrets), and nothing it could change.
   */
  grantView(id: string, principalArn: string): void {
    this.grantAccessPolicy(id, principalArn, "AmazonEKSAdminViewPolicy", "view");
  }

  private grantAccessPolicy(id: string, principalArn: string, policy: string, suffix: string): void {
    const entry = new EksAccessEntry(this, `access-${id}`, { clusterName: this.cluster.name, principalArn, type: "STANDARD" });
    new EksAccessPolicyAssociation(this, `access-${id}-${suffix}`, {
      clusterName: this.cluster.name,
      principalArn,
      policyArn: `arn:${this.partition.partition}:eks::aws:cluster-access-policy/${policy}`,
      accessScope: { type: "cluster" },
      dependsOn: [entry],
    });
  }

  /**
   * Maps an IAM principal to Kubernetes groups only (no access policy): what it may do is decided
   * by RBAC bindings of those groups (layer 2), never by cluster-admin.
   */
  mapToGroups(id: string, principalArn: string, groups: string[]): EksAccessEntry {
    return new EksAccessEntry(this, `access-${id}`, { clusterName: this.cluster.name, principalArn, type: "STANDARD", kubernetesGroups: groups });
  }

  /** CoreDNS and the EBS CSI driver (with its IRSA role); they need running nodes. */
  addComputeAddons(nodeGroups: ITerraformDependable[]): EksAddon[] {
    const ebsRole = new IrsaRole(this, "ebs-csi-role", {
      roleName: `${this.name}-ebs-csi`,
      oidc: this.oidc,
      namespace: "kube-system",
      serviceAccount: "ebs-csi-controller-sa",
      managedPolicyArns: [`arn:${this.partition.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy`],
    });
    return [this.addon("coredns", nodeGroups), this.addon("aws-ebs-csi-driver", nodeGroups, ebsRole.arn)];
  }

  private addon(addonName: string, dependsOn: ITerraformDependable[] = [], serviceAccountRoleArn?: string, configurationValues?: string): EksAddon {
    // The newest build of the add-on for the cluster's Kubernetes minor: when kubernetesVersion
    // moves, every add-on moves with it in the same plan (in place), instead of staying on the
    // old minor's build with no diff; a newer build for the same minor shows up as an in-place
    // update in the next plan.
    const version = new DataAwsEksAddonVersion(this, `addon-${addonName}-version`, {
      addonName,
      kubernetesVersion: this.cluster.version,
      mostRecent: true,
    });
    return new EksAddon(this, `addon-${addonName}`, {
      clusterName: this.cluster.name,
      addonName,
      addonVersion: version.version,
      serviceAccountRoleArn,
      configurationValues,
      resolveConflictsOnCreate: "OVERWRITE",
      resolveConflictsOnUpdate: "PRESERVE",
      dependsOn,
    });
  }
}
