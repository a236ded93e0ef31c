/**
 * Quota preflight: before the first layer of a real environment is applied, compare what the
 * environment's not-yet-created clusters will need with the account's Service Quotas and what is
 * already in use, and refuse (one paragraph per shortfall, with the quota code and the exact
 * request command) rather than let an apply fail half-way, e.g. at the sixth Elastic IP.
 *
 * A cluster counts as already created when EKS knows its name: its VPC, NAT gateways, nodes and
 * database are then part of the usage, not of the need. Clients come in as parameters (tests run
 * this against moto and a Service Quotas stand-in).
 */
import { DescribeAddressesCommand, DescribeInstancesCommand, DescribeInstanceTypesCommand, DescribeNatGatewaysCommand, DescribeSubnetsCommand, DescribeVpcsCommand, type EC2Client, type _InstanceType } from "@aws-sdk/client-ec2";
import { DescribeClusterCommand, ListClustersCommand, type EKSClient } from "@aws-sdk/client-eks";
import { DescribeDBInstancesCommand, type RDSClient } from "@aws-sdk/client-rds";
import { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand, type ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { cncClusterName, workloadClusterName } from "../../config/names";
import type { Environment } from "../../config/schema";

export interface QuotaSpec {
  serviceCode: string;
  quotaCode: string;
  /** The quota's name in the Service Quotas console. */
  name: string;
}

/** The quotas a first deploy runs into, by Service Quotas code. */
export const QUOTAS = {
  elasticIps: { serviceCode: "ec2", quotaCode: "L-0263D0A3", name: "EC2-VPC Elastic IPs" },
  vpcs: { serviceCode: "vpc", quotaCode: "L-F678F1CE", name: "VPCs per Region" },
  natPerAz: { serviceCode: "vpc", quotaCode: "L-FE5A380F", name: "NAT gateways per Availability Zone" },
  onDemandVcpus: { serviceCode: "ec2", quotaCode: "L-1216C47A", name: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (vCPUs)" },
  spotVcpus: { serviceCode: "ec2", quotaCode: "L-34B43A08", name: "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests (vCPUs)" },
  eksClusters: { serviceCode: "eks", quotaCode: "L-1194D53C", name: "Clusters" },
  rdsInstances: { serviceCode: "rds", quotaCode: "L-7B6409FD", name: "DB instances" },
} as const satisfies Record<string, QuotaSpec>;

/** Instance families the "Standard" vCPU quotas cover. */
const STANDARD_FAMILY = /^[acdhimrtz]/;

/** One cluster the environment declares, with what it will create. */
interface PlannedCluster {
  name: string;
  /** Creates its own VPC (false when the environment reuses an existing one). */
  vpc: boolean;
  /** NAT gateways per availability zone (one Elastic IP each). */
  natAzs: string[];
  nodeGroups: Environment["cluster"]["nodeGroups"];
  databases: number;
}

function plannedClusters(env: Environment): PlannedCluster[] {
  const nat = (azs: string[]) => (env.network.natGateways === "single" ? azs.slice(0, 1) : azs);
  const cnc: PlannedCluster = {
    name: cncClusterName(env),
    vpc: !env.network.existing,
    natAzs: env.network.existing ? [] : nat(env.network.azs),
    nodeGroups: env.cluster.nodeGroups,
    databases: 1, // the provisioner's
  };
  return [
    cnc,
    ...env.workloads.map((w) => ({ name: workloadClusterName(env, w.name), vpc: true, natAzs: nat(w.azs ?? env.network.azs), nodeGroups: w.nodeGroups, databases: 1 })),
  ];
}

export interface QuotaClients {
  ec2: EC2Client;
  eks: EKSClient;
  rds: RDSClient;
  quotas: ServiceQuotasClient;
}

export interface QuotaShortfall {
  quota: QuotaSpec;
  /** Availability zone, for per-zone quotas. */
  zone?: string;
  limit: number;
  inUse: number;
  needed: number;
  /** What the need is made of, for people. */
  detail: string;
}

export interface QuotaReport {
  /** Clusters of the environment not created yet (their needs were counted). */
  newClusters: string[];
  checked: { quota: QuotaSpec; zone?: string; limit: number; inUse: number; needed: number }[];
  shortfalls: QuotaShortfall[];
  /** Node instance types the Standard vCPU quotas do not cover (not checked). */
  unchecked: string[];
}

async function quotaValue(client: ServiceQuotasClient, q: QuotaSpec): Promise<number> {
  try {
    const out = await client.send(new GetServiceQuotaCommand({ ServiceCode: q.serviceCode, QuotaCode: q.quotaCode }));
    if (out.Quota?.Value !== undefined) return out.Quota.Value;
  } catch (err) {
    if ((err as Error).name !== "NoSuchResourceException") throw err;
  }
  // No value applied to this account: the AWS default holds.
  const out = await client.send(new GetAWSDefaultServiceQuotaCommand({ ServiceCode: q.serviceCode, QuotaCode: q.quotaCode }));
  return out.Quota?.Value ?? 0;
}

async function clusterExists(eks: EKSClient, name: string): Promise<boolean> {
  try {
    await eks.send(new DescribeClusterCommand({ name }));
    return true;
  } catch (err) {
    if ((err as Error).name === "ResourceNotFoundException") return false;
    throw err;
  }
}

async function vcpusOf(ec2: EC2Client, types: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!types.length) return out;
  const res = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: types as _InstanceType[] }));
  for (const t of res.InstanceTypes ?? []) if (t.InstanceType && t.VCpuInfo?.DefaultVCpus) out.set(t.InstanceType, t.VCpuInfo.DefaultVCpus);
  return out;
}

/** Whether the cluster's VPC exists already (a retried first apply): found by its own tag. */
async function networkExists(ec2: EC2Client, cluster: string): Promise<boolean> {
  const out = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "tag:platform/network", Values: [cluster] }] }));
  return (out.Vpcs?.length ?? 0) > 0;
}

/**
 * Counts, compares, and lists every shortfall. Nothing is created or changed. `clusters` limits
 * the count to the clusters the apply at hand creates (default: every cluster of the environment).
 */
export async function checkQuotas(env: Environment, clients: QuotaClients, clusters?: string[]): Promise<QuotaReport> {
  const { ec2, eks, rds, quotas } = clients;
  const planned: PlannedCluster[] = [];
  for (const c of plannedClusters(env)) {
    if (clusters && !clusters.includes(c.name)) continue;
    if (await clusterExists(eks, c.name)) continue;
    // A first apply that stopped after the network: its VPC, NAT gateways and addresses are in use
    // already (counted below), not needed again.
    if (c.vpc && (await networkExists(ec2, c.name))) planned.push({ ...c, vpc: false, natAzs: [] });
    else planned.push(c);
  }

  // --- needs of the clusters still to create
  const types = [...new Set(planned.flatMap((c) => c.nodeGroups.flatMap((g) => g.instanceTypes)))];
  const vcpus = await vcpusOf(ec2, types);
  const unchecked = types.filter((t) => !STANDARD_FAMILY.test(t) || !vcpus.has(t));
  let onDemand = 0;
  let spot = 0;
  const groupDetails: string[] = [];
  for (const c of planned) {
    for (const g of c.nodeGroups) {
      // The largest type of the group, at its maximum size: what the autoscaler may reach.
      const per = Math.max(0, ...g.instanceTypes.filter((t) => !unchecked.includes(t)).map((t) => vcpus.get(t)!));
      if (g.capacityType === "SPOT") spot += per * g.maxSize;
      else onDemand += per * g.maxSize;
      if (per) groupDetails.push(`${c.name}/${g.name} ${g.maxSize} x ${per}`);
    }
  }
  const natByZone = new Map<string, number>();
  for (const c of planned) for (const az of c.natAzs) natByZone.set(az, (natByZone.get(az) ?? 0) + 1);
  const eips = planned.reduce((n, c) => n + c.natAzs.length, 0);
  const vpcCount = planned.filter((c) => c.vpc).length;
  const dbCount = planned.reduce((n, c) => n + c.databases, 0);

  // --- usage now
  const addresses = (await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? [];
  const vpcsInUse = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs?.length ?? 0;
  const gateways = ((await ec2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? []).filter((g) => ["pending", "available"].includes(String(g.State)));
  const subnetIds = [...new Set(gateways.map((g) => g.SubnetId).filter((s): s is string => !!s))];
  const subnets = subnetIds.length ? ((await ec2.send(new DescribeSubnetsCommand({ SubnetIds: subnetIds }))).Subnets ?? []) : [];
  const zoneOfSubnet = new Map(subnets.map((s) => [s.SubnetId, s.AvailabilityZone]));
  const natInUse = new Map<string, number>();
  for (const g of gateways) {
    const az = zoneOfSubnet.get(g.SubnetId);
    if (az) natInUse.set(az, (natInUse.get(az) ?? 0) + 1);
  }
  const running = ((await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-state-name", Values: ["pending", "running"] }] }))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
  const runningVcpus = await vcpusOf(ec2, [...new Set(running.map((i) => String(i.InstanceType)).filter((t) => STANDARD_FAMILY.test(t)))]);
  let onDemandInUse = 0;
  let spotInUse = 0;
  for (const i of running) {
    const n = runningVcpus.get(String(i.InstanceType)) ?? 0;
    if (i.InstanceLifecycle === "spot") spotInUse += n;
    else onDemandInUse += n;
  }
  const clustersInUse = (await eks.send(new ListClustersCommand({}))).clusters?.length ?? 0;
  const dbsInUse = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances?.length ?? 0;

  const report: QuotaReport = { newClusters: planned.map((c) => c.name), checked: [], shortfalls: [], unchecked };
  const compare = async (quota: QuotaSpec, needed: number, inUse: number, detail: string, zone?: string) => {
    if (needed === 0) return;
    const limit = await quotaValue(quotas, quota);
    report.checked.push({ quota, zone, limit, inUse, needed });
    if (inUse + needed > limit) report.shortfalls.push({ quota, zone, limit, inUse, needed, detail });
  };
  await compare(QUOTAS.elasticIps, eips, addresses.length, `one per NAT gateway: ${planned.filter((c) => c.natAzs.length).map((c) => `${c.name} ${c.natAzs.length}`).join(", ")}`);
  await compare(QUOTAS.vpcs, vpcCount, vpcsInUse, `one per cluster: ${planned.filter((c) => c.vpc).map((c) => c.name).join(", ")}`);
  for (const [zone, needed] of [...natByZone].sort()) await compare(QUOTAS.natPerAz, needed, natInUse.get(zone) ?? 0, `one per cluster VPC in ${zone}`, zone);
  await compare(QUOTAS.onDemandVcpus, onDemand, onDemandInUse, `node groups at maxSize x vCPUs of their largest type: ${groupDetails.join(", ")}`);
  await compare(QUOTAS.spotVcpus, spot, spotInUse, "spot node groups at maxSize");
  await compare(QUOTAS.eksClusters, planned.length, clustersInUse, planned.map((c) => c.name).join(", "));
  await compare(QUOTAS.rdsInstances, dbCount, dbsInUse, "the provisioner's database and one per workload cluster");
  return report;
}

/** The one-paragraph refusal: each shortfall with its quota code and the request command. */
export function quotaMessage(env: Environment, shortfalls: QuotaShortfall[]): string {
  const lines = shortfalls.map((s) => {
    const desired = s.inUse + s.needed;
    return (
      `  - ${s.quota.name} (${s.quota.serviceCode} ${s.quota.quotaCode}${s.zone ? `, ${s.zone}` : ""}): quota ${s.limit}, in use ${s.inUse}, this environment needs ${s.needed} more (${s.detail}).\n` +
      `    aws service-quotas request-service-quota-increase --region ${env.region} --service-code ${s.quota.serviceCode} --quota-code ${s.quota.quotaCode} --desired-value ${desired}`
    );
  });
  return (
    `Environment ${env.name} would exceed ${shortfalls.length} AWS quota(s) in account ${env.accountId} (${env.region}), so its apply would stop half-way. ` +
    `Request each increase below (or make the environment smaller, e.g. network.natGateways: "single"), wait until Service Quotas shows it approved, then run the command again:\n${lines.join("\n")}`
  );
}
