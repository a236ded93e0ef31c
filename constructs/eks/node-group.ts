import { DataAwsSsmParameter } from "@cdktf/provider-aws/lib/data-aws-ssm-parameter";
import { EksNodeGroup } from "@cdktf/provider-aws/lib/eks-node-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { Construct } from "constructs";
import type { NodeGroupConfig } from "../../config/schema";
import type { PlatformCluster } from "./cluster";

export interface NodeGroupsProps {
  readonly cluster: PlatformCluster;
  /** Private subnets only: nodes never get public addresses. One per zone, in the order of `zones`. */
  readonly subnetIds: string[];
  /**
   * The availability zones of `subnetIds` (same order), which name the per-zone groups
   * (`<group>-<zone letter>`); default one group per subnet, numbered.
   */
  readonly zones?: string[];
  readonly groups: NodeGroupConfig[];
  /** The cluster's Kubernetes minor (`1.34`): names the AMI release parameter. */
  readonly kubernetesVersion: string;
  /**
   * EKS-optimized AMI release of every group: "latest" (default) reads AWS's recommended release
   * for the minor from SSM at plan time; a pinned release (`1.34.2-20251120`) is used as given.
   */
  readonly amiRelease?: string;
}

/** Graviton instance families (their names carry a `g` after the generation digit). */
const isArm = (instanceType: string) => /^[a-z]+\d+g[a-z]*\./.test(instanceType);

/**
 * Managed node groups with the standard worker policies, in private subnets, through a launch
 * template that requires IMDSv2 (hop limit 2 so pods behind the CNI still reach it) and encrypts
 * gp3 root volumes. Desired size is left to the autoscaler after creation.
 */
export class ManagedNodeGroups extends Construct {
  readonly role: IamRole;
  readonly nodeGroups: EksNodeGroup[];

  constructor(scope: Construct, id: string, props: NodeGroupsProps) {
    super(scope, id);
    const { cluster } = props;
    if (props.groups.length === 0) throw new Error(`ManagedNodeGroups ${cluster.name}: at least one node group is needed`);

    this.role = new IamRole(this, "node-role", {
      name: `${cluster.name}-nodes`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
    });
    const attachments = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"].map(
      (p) => new IamRolePolicyAttachment(this, `node-${p}`, { role: this.role.name, policyArn: `arn:aws:iam::aws:policy/${p}` }),
    );

    const zones = (props.zones ?? props.subnetIds.map((_s, i) => `z${i + 1}`)).slice(0, props.subnetIds.length);
    const suffixes = zones.map((z) => (/^[a-z]{2}-[a-z]+-\d[a-z]$/.test(z) ? z.slice(-1) : z));
    if (new Set(suffixes).size !== suffixes.length) throw new Error(`ManagedNodeGroups ${cluster.name}: zones ${zones.join(", ")} do not name distinct groups`);

    const amiRelease = props.amiRelease ?? "latest";
    if (amiRelease !== "latest" && !amiRelease.startsWith(`${props.kubernetesVersion}.`)) {
      throw new Error(`ManagedNodeGroups ${cluster.name}: AMI release ${amiRelease} is not a release for Kubernetes ${props.kubernetesVersion}`);
    }
    // One SSM parameter per architecture, read only when the release follows AWS's latest.
    const releases = new Map<string, string>();
    const releaseFor = (arch: "x86_64" | "arm64"): string => {
      if (amiRelease !== "latest") return amiRelease;
      if (!releases.has(arch)) {
        const p = new DataAwsSsmParameter(this, `ami-release-${arch}`, { name: `/aws/service/eks/optimized-ami/${props.kubernetesVersion}/amazon-linux-2023/${arch}/standard/recommended/release_version` });
        releases.set(arch, p.insecureValue);
      }
      return releases.get(arch)!;
    };

    this.nodeGroups = props.groups.flatMap((g) => {
      if (g.instanceTypes.length === 0) throw new Error(`node group ${g.name}: instanceTypes is empty`);
      if (g.minSize > g.maxSize) throw new Error(`node group ${g.name}: minSize ${g.minSize} > maxSize ${g.maxSize}`);
      const arm = isArm(g.instanceTypes[0]);
      if (g.instanceTypes.some((t) => isArm(t) !== arm)) throw new Error(`node group ${g.name}: mixes ARM and x86 instance types`);

      const template = new LaunchTemplate(this, `lt-${g.name}`, {
        name: `${cluster.name}-${g.name}`,
        description: `EKS ${cluster.name} node group ${g.name}`,
        updateDefaultVersion: true,
        // IMDSv2 only, hop limit 1: a pod (not on the host network) cannot reach the node role's
        // credentials. Every in-cluster AWS caller uses IRSA and is told its region (and the load
        // balancer controller its VPC); the EBS CSI driver falls back to Kubernetes metadata.
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
        blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize: g.diskSizeGiB, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }],
        // The cluster's own security group keeps node-to-control-plane traffic working; ours adds the rest.
        vpcSecurityGroupIds: [cluster.cluster.vpcConfig.clusterSecurityGroupId, cluster.nodeSecurityGroup.id],
        tagSpecifications: [
          { resourceType: "instance", tags: { Name: `${cluster.name}-${g.name}` } },
          { resourceType: "volume", tags: { Name: `${cluster.name}-${g.name}` } },
        ],
      });
      // One managed group per zone: the Cluster Autoscaler (with --balance-similar-node-groups)
      // can then add a node in the zone where a pod's EBS volume is; a group spanning the zones
      // lets it pick any zone, and a zonal volume's pod stays Pending. The declared sizes are
      // spread over the zones (rounded up; --max-nodes-total keeps the declared total).
      const per = (n: number) => Math.ceil(n / zones.length);
      return zones.map((_zone, i) => new EksNodeGroup(this, `ng-${g.name}-${suffixes[i]}`, {
        clusterName: cluster.cluster.name,
        // A generated name and create-before-destroy: a change EKS cannot make in place (instance
        // types, AMI type, capacity type) brings the new group up first, at its desired size, and
        // only then deletes the old one, whose nodes EKS drains before terminating them (for a few
        // minutes, then it terminates anyway: not bounded by PodDisruptionBudgets). The group never
        // drops below its minimum; a fixed name would force delete-then-create. Its fixed-name
        // dependencies (node role, launch template, node security group) must not be replaced in
        // the same apply: Terraform would create their replacements first, under the same name.
        nodeGroupNamePrefix: `${g.name}-${suffixes[i]}-`,
        // The control plane's version: a minor upgrade moves the kubelets in the same plan (a
        // rolling, in-place update of each group), so the next control-plane upgrade is not refused.
        version: cluster.cluster.version,
        // The AMI release moves with the version (its parameter is per minor), or when the pin moves:
        // an in-place, rolling update that honours the group's maxUnavailable.
        releaseVersion: releaseFor(arm ? "arm64" : "x86_64"),
        nodeRoleArn: this.role.arn,
        subnetIds: [props.subnetIds[i]],
        instanceTypes: g.instanceTypes,
        capacityType: g.capacityType,
        amiType: arm ? "AL2023_ARM_64_STANDARD" : "AL2023_x86_64_STANDARD",
        scalingConfig: { minSize: per(g.minSize), maxSize: Math.max(1, per(g.maxSize)), desiredSize: Math.min(per(g.desiredSize), Math.max(1, per(g.maxSize))) },
        updateConfig: { maxUnavailablePercentage: 33 },
        launchTemplate: { id: template.id, version: template.latestVersion.toString() },
        labels: { "platform/node-group": g.name },
        lifecycle: { ignoreChanges: ["scaling_config[0].desired_size"], createBeforeDestroy: true },
        dependsOn: [...attachments, ...cluster.networkingAddons],
      }));
    });
  }
}
