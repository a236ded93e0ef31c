import { ClusterRoleBindingV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-binding-v1";
import { ClusterRoleV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-v1";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { CLUSTER_AUTOSCALER_TAGS, imageRef } from "../../config/versions";
import { type ClusterOidc, IrsaRole } from "./irsa-role";

const NAME = "cluster-autoscaler";
const NAMESPACE = "kube-system";

export interface ClusterAutoscalerProps {
  readonly clusterName: string;
  /** The cluster's Kubernetes minor ("1.34"): the autoscaler release must match it. */
  readonly kubernetesVersion: string;
  readonly region: string;
  readonly accountId: string;
  readonly oidc: ClusterOidc;
  readonly roleName: string;
  /** Upper bound on nodes in the whole cluster (each node group's own maxSize applies too). */
  readonly maxNodesTotal: number;
  /** Idle time before an under-used node is removed; default 10m. */
  readonly scaleDownUnneededTime?: string;
  readonly after?: ITerraformDependable[];
}

/**
 * Node autoscaling with the Kubernetes Cluster Autoscaler (AWS provider).
 *
 * Why the Cluster Autoscaler and not Karpenter: the clusters run EKS managed node groups (launch
 * templates with IMDSv2 hop limit 1, encrypted gp3 roots, private subnets), whose Auto Scaling
 * groups EKS already tags for auto-discovery; the autoscaler scales those groups within each
 * one's minSize/maxSize from the environment and honours PodDisruptionBudgets when it drains a
 * node. Karpenter would replace the node groups with its own provisioning (another CRD set, an
 * interruption queue, instance profiles), a larger change than this platform needs.
 *
 * Its AWS rights (IRSA) can only change groups tagged as this cluster's; it runs non-root,
 * read-only, with all capabilities dropped, and never scales down the node it runs on. The
 * platform's multi-replica components have PodDisruptionBudgets, which it honours when draining.
 */
export class ClusterAutoscaler extends Construct {
  readonly deployment: DeploymentV1;

  constructor(scope: Construct, id: string, props: ClusterAutoscalerProps) {
    super(scope, id);
    const tag = CLUSTER_AUTOSCALER_TAGS[props.kubernetesVersion as keyof typeof CLUSTER_AUTOSCALER_TAGS];
    if (!tag) {
      throw new Error(`ClusterAutoscaler ${props.clusterName}: no Cluster Autoscaler release is pinned for Kubernetes ${props.kubernetesVersion} (config/versions.ts CLUSTER_AUTOSCALER_TAGS has ${Object.keys(CLUSTER_AUTOSCALER_TAGS).join(", ")})`);
    }
    if (!(props.maxNodesTotal >= 1)) throw new Error(`ClusterAutoscaler ${props.clusterName}: maxNodesTotal must be at least 1`);
    const groupTag = `k8s.io/cluster-autoscaler/${props.clusterName}`;
    const role = new IrsaRole(this, "role", {
      roleName: props.roleName,
      oidc: props.oidc,
      namespace: NAMESPACE,
      serviceAccount: NAME,
      statements: [
        {
          Sid: "Discover",
          Effect: "Allow",
          Action: [
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations",
            "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags",
            "ec2:DescribeImages",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions",
            "ec2:GetInstanceTypesFromInstanceRequirements",
            "eks:DescribeNodegroup",
          ],
          Resource: "*",
        },
        {
          // Only groups EKS tagged as this cluster's managed node groups.
          Sid: "ScaleThisClustersGroups",
          Effect: "Allow",
          Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
          Resource: `arn:aws:autoscaling:${props.region}:${props.accountId}:autoScalingGroup:*:autoScalingGroupName/*`,
          Condition: { StringEquals: { [`aws:ResourceTag/${groupTag}`]: "owned" } },
        },
      ],
    });
    const labels = { "app.kubernetes.io/name": NAME };
    const after = props.after ?? [];
    const sa = new ServiceAccountV1(this, "sa", { metadata: { name: NAME, namespace: NAMESPACE, labels, annotations: { "eks.amazonaws.com/role-arn": role.arn } }, dependsOn: after });
    // The upstream example's RBAC (cluster-autoscaler-autodiscover.yaml at the pinned release), minus the obsolete "extensions" group.
    const clusterRole = new ClusterRoleV1(this, "cluster-role", {
      metadata: { name: NAME, labels },
      rule: [
        { apiGroups: [""], resources: ["events", "endpoints"], verbs: ["create", "patch"] },
        { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] },
        { apiGroups: [""], resources: ["pods/status"], verbs: ["update"] },
        { apiGroups: [""], resources: ["endpoints"], resourceNames: [NAME], verbs: ["get", "update"] },
        { apiGroups: [""], resources: ["nodes"], verbs: ["watch", "list", "get", "update"] },
        { apiGroups: [""], resources: ["namespaces", "pods", "services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"], verbs: ["watch", "list", "get"] },
        { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: ["watch", "list"] },
        { apiGroups: ["apps"], resources: ["statefulsets", "replicasets", "daemonsets"], verbs: ["watch", "list", "get"] },
        { apiGroups: ["storage.k8s.io"], resources: ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities", "volumeattachments"], verbs: ["watch", "list", "get"] },
        { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: ["get", "list", "watch", "patch"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [NAME], verbs: ["get", "update"] },
      ],
      dependsOn: after,
    });
    new ClusterRoleBindingV1(this, "cluster-role-binding", {
      metadata: { name: NAME, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole.metadata.name },
      subject: [{ kind: "ServiceAccount", name: NAME, namespace: NAMESPACE }],
      dependsOn: after,
    });
    const nsRole = new RoleV1(this, "role-k8s", {
      metadata: { name: NAME, namespace: NAMESPACE, labels },
      rule: [
        { apiGroups: [""], resources: ["configmaps"], verbs: ["create", "list", "watch"] },
        { apiGroups: [""], resources: ["configmaps"], resourceNames: ["cluster-autoscaler-status", "cluster-autoscaler-priority-expander"], verbs: ["delete", "get", "update", "watch"] },
      ],
      dependsOn: after,
    });
    new RoleBindingV1(this, "role-binding", {
      metadata: { name: NAME, namespace: NAMESPACE, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: nsRole.metadata.name },
      subject: [{ kind: "ServiceAccount", name: NAME, namespace: NAMESPACE }],
      dependsOn: after,
    });
    this.deployment = new DeploymentV1(this, "deployment", {
      metadata: { name: NAME, namespace: NAMESPACE, labels },
      spec: {
        replicas: "1",
        selector: { matchLabels: labels },
        template: {
          // It never removes the node it runs on (a PodDisruptionBudget of 0 would block node-group upgrades instead).
          metadata: { labels, annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "8085", "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" } },
          spec: {
            serviceAccountName: sa.metadata.name,
            priorityClassName: "system-cluster-critical",
            securityContext: { runAsNonRoot: true, runAsUser: "65534", runAsGroup: "65534", fsGroup: "65534", seccompProfile: { type: "RuntimeDefault" } },
            container: [
              {
                name: NAME,
                image: imageRef("registry.k8s.io/autoscaling/cluster-autoscaler", tag),
                imagePullPolicy: "Always",
                command: [
                  "./cluster-autoscaler",
                  "--cloud-provider=aws",
                  `--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,${groupTag}`,
                  "--expander=least-waste",
                  "--balance-similar-node-groups",
                  "--skip-nodes-with-local-storage=false",
                  `--max-nodes-total=${props.maxNodesTotal}`,
                  `--scale-down-unneeded-time=${props.scaleDownUnneededTime ?? "10m"}`,
                  "--max-node-provision-time=15m",
                  "--stderrthreshold=info",
                  "--v=2",
                ],
                // IMDS is out of reach of pods (hop limit 1): tell it the region.
                env: [{ name: "AWS_REGION", value: props.region }],
                port: [{ name: "metrics", containerPort: 8085 }],
                livenessProbe: { httpGet: { path: "/health-check", port: "metrics" }, initialDelaySeconds: 30, periodSeconds: 30 },
                readinessProbe: { httpGet: { path: "/health-check", port: "metrics" }, periodSeconds: 10 },
                resources: { requests: { cpu: "100m", memory: "600Mi" }, limits: { cpu: "1", memory: "600Mi" } },
                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
              },
            ],
          },
        },
      },
      dependsOn: after,
    });
  }
}
