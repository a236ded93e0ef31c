/**
 * The quota preflight: usage is read from moto through the real AWS SDK (EC2, EKS, RDS); the
 * quotas come from a Service Quotas stand-in on 127.0.0.1, because moto implements Service Quotas
 * for the `vpc` service code only (moto 5.2: list_aws_default_service_quotas and
 * get_service_quota raise NoSuchResource for ec2, eks and rds). The stand-in answers with AWS's
 * published defaults unless a test applies another value.
 */
import { AllocateAddressCommand, CreateNatGatewayCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from "@aws-sdk/client-ec2";
import { EKSClient } from "@aws-sdk/client-eks";
import { RDSClient } from "@aws-sdk/client-rds";
import { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { createServer, type Server } from "node:http";
import { checkQuotas, QUOTAS, quotaMessage } from "../../scripts/lib/quotas";
import { clientOptions, useMoto } from "../support/moto";
import { environment } from "../support/synth";

/** AWS's default values of the quotas checked (Service Quotas console, us-east-1). */
const AWS_DEFAULTS: Record<string, number> = {
  "ec2/L-0263D0A3": 5,
  "vpc/L-F678F1CE": 5,
  "vpc/L-FE5A380F": 5,
  "ec2/L-1216C47A": 5,
  "ec2/L-34B43A08": 5,
  "eks/L-1194D53C": 100,
  "rds/L-7B6409FD": 40,
};

/** Service Quotas over the AWS JSON 1.1 protocol: applied values, else NoSuchResource; defaults. */
function serviceQuotasStandIn(applied: Record<string, number>): Promise<{ server: Server; endpoint: string; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const action = String(req.headers["x-amz-target"]).split(".")[1];
      const { ServiceCode, QuotaCode } = JSON.parse(body || "{}");
      const key = `${ServiceCode}/${QuotaCode}`;
      calls.push(`${action} ${key}`);
      const value = action === "GetServiceQuota" ? applied[key] : AWS_DEFAULTS[key];
      res.setHeader("content-type", "application/x-amz-json-1.1");
      if (value === undefined) {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: "NoSuchResourceException", Message: `no ${key}` }));
        return;
      }
      res.end(JSON.stringify({ Quota: { ServiceCode, QuotaCode, Value: value } }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`, calls })));
}

describe("the quota preflight", () => {
  const aws = useMoto({ ec2: EC2Client, eks: EKSClient, rds: RDSClient });

  async function check(env: ReturnType<typeof environment>, applied: Record<string, number> = {}) {
    const sq = await serviceQuotasStandIn(applied);
    try {
      const quotas = new ServiceQuotasClient({ ...clientOptions(aws.moto), endpoint: sq.endpoint });
      try {
        return { report: await checkQuotas(env, { ec2: aws.ec2, eks: aws.eks, rds: aws.rds, quotas }), calls: sq.calls };
      } finally {
        quotas.destroy();
      }
    } finally {
      sq.server.closeAllConnections();
      sq.server.close();
    }
  }

  it("refuses prod against an account with the default quotas, naming L-0263D0A3 and the exact request command", async () => {
    const prod = environment("prod");
    const { report, calls } = await check(prod);
    // prod: a NAT gateway per zone in 3 VPCs (the C&C and two workloads), 3 zones each.
    const eip = report.shortfalls.find((s) => s.quota.quotaCode === "L-0263D0A3")!;
    expect(eip).toMatchObject({ limit: 5, inUse: 0, needed: 9 });
    expect(report.newClusters).toEqual(["prod-cnc", "prod-alpha", "prod-beta"]);
    // The applied value was asked first, then the default (nothing applied in this account).
    expect(calls).toEqual(expect.arrayContaining(["GetServiceQuota ec2/L-0263D0A3", "GetAWSDefaultServiceQuota ec2/L-0263D0A3"]));
    const message = quotaMessage(prod, report.shortfalls);
    expect(message).toMatch(/^Environment prod would exceed \d+ AWS quota\(s\) in account 111111111111 \(us-east-1\)/);
    expect(message).toContain("EC2-VPC Elastic IPs (ec2 L-0263D0A3): quota 5, in use 0, this environment needs 9 more (one per NAT gateway: prod-cnc 3, prod-alpha 3, prod-beta 3)");
    expect(message).toContain("aws service-quotas request-service-quota-increase --region us-east-1 --service-code ec2 --quota-code L-0263D0A3 --desired-value 9");
    // Nodes at their maximum: 9 x m6i.xlarge (4 vCPUs) + 2 x 12 x m6i.2xlarge (8 vCPUs) = 228 vCPUs.
    expect(report.shortfalls.find((s) => s.quota.quotaCode === "L-1216C47A")).toMatchObject({ needed: 228, limit: 5 });
    expect(report.unchecked).toEqual([]);
  });

  it("passes when the account's applied quotas cover the environment, and counts what is already in use", async () => {
    const prod = environment("prod");
    // An address and a NAT gateway of something else in us-east-1a.
    const vpc = await aws.ec2.send(new CreateVpcCommand({ CidrBlock: "10.99.0.0/16" }));
    const subnet = await aws.ec2.send(new CreateSubnetCommand({ VpcId: vpc.Vpc!.VpcId, CidrBlock: "10.99.0.0/24", AvailabilityZone: "us-east-1a" }));
    const eip = await aws.ec2.send(new AllocateAddressCommand({ Domain: "vpc" }));
    await aws.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet.Subnet!.SubnetId, AllocationId: eip.AllocationId }));
    const enough = { "ec2/L-0263D0A3": 10, "vpc/L-F678F1CE": 10, "ec2/L-1216C47A": 256 };
    const { report } = await check(prod, enough);
    expect(report.shortfalls).toEqual([]);
    const byCode = (code: string, zone?: string) => report.checked.find((c) => c.quota.quotaCode === code && c.zone === zone);
    expect(byCode("L-0263D0A3")).toMatchObject({ limit: 10, inUse: 1, needed: 9 });
    expect(byCode("L-FE5A380F", "us-east-1a")).toMatchObject({ limit: 5, inUse: 1, needed: 3 });
    expect(byCode("L-F678F1CE")!.inUse).toBeGreaterThanOrEqual(2); // moto's default VPC and ours

    // One Elastic IP fewer than needed: refused again, with the desired value that covers both.
    const { report: tight } = await check(prod, { ...enough, "ec2/L-0263D0A3": 9 });
    expect(tight.shortfalls.map((s) => s.quota.quotaCode)).toEqual([QUOTAS.elasticIps.quotaCode]);
    expect(quotaMessage(prod, tight.shortfalls)).toContain("--quota-code L-0263D0A3 --desired-value 10");
  });

  it("a single NAT gateway per VPC needs three Elastic IPs for prod's three VPCs", async () => {
    const single = environment("prod", (e) => (e.network.natGateways = "single"));
    const { report } = await check(single, { "ec2/L-1216C47A": 256 });
    expect(report.checked.find((c) => c.quota.quotaCode === "L-0263D0A3")).toMatchObject({ needed: 3 });
  });
  it("counts only the clusters the apply creates, and a retried apply's existing network as in use, not needed", async () => {
    const prod = environment("prod");
    const sq = await serviceQuotasStandIn({ "ec2/L-1216C47A": 256 });
    try {
      const quotas = new ServiceQuotasClient({ ...clientOptions(aws.moto), endpoint: sq.endpoint });
      // Only prod-beta's AWS phase: 3 addresses, not 9.
      const beta = await checkQuotas(prod, { ec2: aws.ec2, eks: aws.eks, rds: aws.rds, quotas }, ["prod-beta"]);
      expect(beta.newClusters).toEqual(["prod-beta"]);
      expect(beta.checked.find((c) => c.quota.quotaCode === "L-0263D0A3")).toMatchObject({ needed: 3 });
      // prod-beta's first apply stopped after its VPC: the retry needs no VPC or address for it.
      await aws.ec2.send(new CreateVpcCommand({ CidrBlock: "10.21.0.0/16", TagSpecifications: [{ ResourceType: "vpc", Tags: [{ Key: "platform/network", Value: "prod-beta" }] }] }));
      const retry = await checkQuotas(prod, { ec2: aws.ec2, eks: aws.eks, rds: aws.rds, quotas }, ["prod-beta"]);
      expect(retry.newClusters).toEqual(["prod-beta"]);
      expect(retry.checked.find((c) => c.quota.quotaCode === "L-0263D0A3")).toBeUndefined();
      expect(retry.checked.find((c) => c.quota.quotaCode === "L-F678F1CE")).toBeUndefined();
      expect(retry.checked.find((c) => c.quota.quotaCode === "L-1194D53C")).toMatchObject({ needed: 1 });
      quotas.destroy();
    } finally {
      sq.server.closeAllConnections();
      sq.server.close();
    }
  });
});
