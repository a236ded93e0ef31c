/**
 * make upgrade's order (scripts/lib/upgrade.ts) and its waits against the emulator. moto has no
 * UpdateClusterVersion, so the upgrade itself is not rehearsed; its steps and waits are.
 */
import { CreateClusterCommand, CreateNodegroupCommand, EKSClient } from "@aws-sdk/client-eks";
import { describePlan, upgradePlan, waitForCluster, waitForNodegroups } from "../../scripts/lib/upgrade";
import { useMoto } from "../support/moto";
import { environment, synthShipped } from "../support/synth";

jest.setTimeout(60_000);

describe("make upgrade", () => {
  const { json } = synthShipped("prod");
  const env = environment("prod");

  it("goes cluster by cluster, the C&C first: control plane, add-ons, node groups, the rest, then the Kubernetes phase", () => {
    const plan = upgradePlan(env, (n) => json[n]);
    expect(plan.map((c) => c.cluster)).toEqual(["prod-cnc", "prod-alpha", "prod-beta"].map((x) => expect.stringContaining(x.split("-")[1])));
    expect(plan[0].steps.map((s) => `${s.kind} ${s.stack}`)).toEqual(["control plane prod-cluster", "add-ons prod-cluster", "node groups prod-cluster", "rest prod-cluster", "rest prod-post-install"]);
    expect(plan[0].steps[0].targets).toEqual([expect.stringMatching(/^aws_eks_cluster\./)]);
    expect(plan[0].steps[1].targets.length).toBe(5);
    expect(plan[0].steps[2].targets.every((t) => t.startsWith("aws_eks_node_group."))).toBe(true);
    expect(plan[2].steps[4].stack).toBe("prod-workload-beta-apps");
    // One workload alone.
    expect(upgradePlan(env, (n) => json[n], "beta").map((c) => c.awsStack)).toEqual(["prod-workload-beta"]);
    expect(() => upgradePlan(env, (n) => json[n], "gamma")).toThrow(/has no workload "gamma"/);
    const text = describePlan(plan, { [plan[0].cluster]: "1.33" });
    expect(text).toMatch(/^1\. .*: 1\.33 -> 1\.34\n {3}a\. control plane: prod-cluster, -target aws_eks_cluster\..*; wait until ACTIVE at 1\.34/);
    expect(text).toMatch(/not created yet/);
  });

  describe("waits, against the emulator", () => {
    const aws = useMoto({ eks: EKSClient });
    beforeAll(async () => {
      await aws.eks.send(new CreateClusterCommand({ name: "t", version: "1.34", roleArn: "arn:aws:iam::123456789012:role/eks", resourcesVpcConfig: { subnetIds: ["subnet-1"] } }));
      await aws.eks.send(new CreateNodegroupCommand({ clusterName: "t", nodegroupName: "g", nodeRole: "arn:aws:iam::123456789012:role/n", subnets: ["subnet-1"], version: "1.34" }));
    });
    const opts = (lines: string[]) => ({ timeoutMs: 300, intervalMs: 100, log: (l: string) => lines.push(l) });

    it("returns once the cluster and its node groups are ACTIVE at the version, and gives up in a sentence when they are not", async () => {
      const lines: string[] = [];
      await waitForCluster(aws.eks, "t", "1.34", opts(lines));
      await waitForNodegroups(aws.eks, "t", "1.34", opts(lines));
      expect(lines).toEqual([]);
      await expect(waitForCluster(aws.eks, "t", "1.35", opts(lines))).rejects.toThrow(/cluster t is not ACTIVE after 0 min \(version 1\.34, not yet 1\.35\); .*run make upgrade again/);
      await expect(waitForNodegroups(aws.eks, "t", "1.35", opts([]))).rejects.toThrow(/g at 1\.34/);
      expect(lines[0]).toMatch(/waiting for cluster t: version 1\.34, not yet 1\.35/);
    });
  });
});
