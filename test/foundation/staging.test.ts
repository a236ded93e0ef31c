/**
 * environments/staging: prod's shape, cheaper where an outage costs little. Multi-AZ and the
 * Redis node type are environment settings (prod keeps the safe defaults).
 */
import { resourcesOf, synthShipped, environment, synthEnvironment } from "../support/synth";

describe("the staging environment", () => {
  const staging = synthShipped("staging").json;
  const prod = synthShipped("prod").json;

  it("ships the same stacks as prod, for its one workload", () => {
    expect(Object.keys(staging).sort()).toEqual(
      ["staging-bootstrap", "staging-cluster", "staging-post-install", "staging-route53", "staging-workload-alpha", "staging-workload-alpha-apps"].sort(),
    );
  });

  it("has one NAT gateway where prod has one per zone", () => {
    expect(resourcesOf(staging["staging-cluster"], "aws_nat_gateway")).toHaveLength(1);
    expect(resourcesOf(staging["staging-workload-alpha"], "aws_nat_gateway")).toHaveLength(1);
    expect(resourcesOf(prod["prod-cluster"], "aws_nat_gateway")).toHaveLength(3);
  });

  it("runs its databases single-AZ (its setting), while prod's stay Multi-AZ with deletion protection everywhere", () => {
    const dbs = (json: Record<string, any>) => Object.values(json).flatMap((stack) => resourcesOf(stack, "aws_db_instance"));
    expect(dbs(staging).length).toBe(2);
    for (const db of dbs(staging)) expect(db).toMatchObject({ multi_az: false, deletion_protection: true, skip_final_snapshot: false });
    for (const db of dbs(prod)) expect(db).toMatchObject({ multi_az: true, deletion_protection: true });
  });

  it("puts the workload's nodes on spot and keeps the C&C's (which hold Prometheus volumes) on demand", () => {
    const groups = (stack: any) => resourcesOf(stack, "aws_eks_node_group");
    expect(groups(staging["staging-workload-alpha"]).length).toBeGreaterThan(0);
    for (const g of groups(staging["staging-workload-alpha"])) expect(g.capacity_type).toBe("SPOT");
    for (const g of groups(staging["staging-cluster"])) expect(g.capacity_type).toBe("ON_DEMAND");
  });

  it("takes the Redis node type from the environment", () => {
    expect(resourcesOf(staging["staging-workload-alpha"], "aws_elasticache_replication_group")[0].node_type).toBe("cache.t4g.small");
    expect(resourcesOf(prod["prod-workload-alpha"], "aws_elasticache_replication_group")[0].node_type).toBe("cache.t4g.medium");
  });

  it("lets prod turn Multi-AZ off per database only by saying so", () => {
    const env = environment("prod", (raw: any) => {
      raw.provisioner.multiAz = false;
    });
    const json = synthEnvironment(env).json;
    expect(resourcesOf(json["prod-post-install"], "aws_db_instance")[0].multi_az).toBe(false);
    expect(resourcesOf(json["prod-workload-alpha"], "aws_db_instance")[0].multi_az).toBe(true);
  });
});
