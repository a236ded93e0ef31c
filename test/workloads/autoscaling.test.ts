/**
 * Node autoscaling: the Cluster Autoscaler in the C&C and every workload cluster, matched to the
 * cluster's Kubernetes minor, bounded by the environment's node groups, with AWS rights limited
 * to the cluster's own Auto Scaling groups.
 */
import { CLUSTER_AUTOSCALER_TAGS, SUPPORTED_EKS_VERSIONS } from "../../config/versions";
import { environment, parsePolicy, resourcesOf, synthEnvironment, synthShipped } from "../support/synth";

const autoscaler = (stack: any) => resourcesOf(stack, "kubernetes_deployment_v1").find((d) => d.metadata.name === "cluster-autoscaler");

describe("node autoscaling", () => {
  it("pins one Cluster Autoscaler release per supported EKS minor, of that minor", () => {
    expect(Object.keys(CLUSTER_AUTOSCALER_TAGS).sort()).toEqual([...SUPPORTED_EKS_VERSIONS].sort());
    for (const [minor, tag] of Object.entries(CLUSTER_AUTOSCALER_TAGS)) expect(tag).toMatch(new RegExp(`^v${minor.replace(".", "\\.")}\\.\\d+$`));
  });

  it("runs in the C&C and in each workload cluster, bounded by the sum of its node groups' maxSize", () => {
    const { json } = synthShipped("prod");
    for (const [stack, cluster, max] of [["prod-post-install", "prod-cnc", 9], ["prod-workload-alpha-apps", "prod-alpha", 12]] as const) {
      const d = autoscaler(json[stack]);
      const c = d.spec.template.spec.container[0];
      expect(c.image).toBe(`registry.k8s.io/autoscaling/cluster-autoscaler:${CLUSTER_AUTOSCALER_TAGS["1.34"]}`);
      expect(c.command).toContain(`--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/${cluster}`);
      const total = Number(c.command.find((a: string) => a.startsWith("--max-nodes-total=")).split("=")[1]);
      expect(total).toBe(max);
      expect(c.env).toEqual([{ name: "AWS_REGION", value: "us-east-1" }]);
      expect(c.security_context).toMatchObject({ read_only_root_filesystem: true, allow_privilege_escalation: false, capabilities: { drop: ["ALL"] } });
      expect(d.spec.template.metadata.annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"]).toBe("false");
    }
  });

  it("may change only the Auto Scaling groups EKS tagged as its own cluster's", () => {
    const stack = synthShipped("prod").json["prod-workload-alpha-apps"];
    const policy = parsePolicy(resourcesOf(stack, "aws_iam_role_policy").find((p) => String(p.role).includes("autoscaler")).policy);
    const scale = policy.Statement.find((s: any) => s.Sid === "ScaleThisClustersGroups");
    expect(scale.Action).toEqual(["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]);
    expect(scale.Condition).toEqual({ StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/prod-alpha": "owned" } });
    const discover = policy.Statement.find((s: any) => s.Sid === "Discover");
    expect(discover.Action.every((a: string) => /:(Describe|Get)/.test(a))).toBe(true);
  });

  it("leaves desired sizes to the autoscaler (Terraform ignores them) and can be turned off", () => {
    const ng = resourcesOf(synthShipped("prod").json["prod-workload-alpha"], "aws_eks_node_group")[0];
    expect(ng.lifecycle.ignore_changes).toContain("scaling_config[0].desired_size");
    const off = synthEnvironment(environment("prod", (raw: any) => (raw.autoscaling = { enabled: false })));
    expect(autoscaler(off.json["prod-post-install"])).toBeUndefined();
    expect(autoscaler(off.json["prod-workload-alpha-apps"])).toBeUndefined();
  });
});
