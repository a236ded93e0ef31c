import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { FlowLog } from "@cdktf/provider-aws/lib/flow-log";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Construct } from "constructs";
import { parseCidr, subnetCidrs } from "../../config/cidr";

export interface PlatformNetworkProps {
  /** Name prefix and `Name` tag, e.g. `prod-cnc`. */
  readonly name: string;
  /** VPC block, /16 to /20. Private subnets get an eighth of it each, public ones a sixty-fourth. */
  readonly cidr: string;
  /** Availability zones (at least two). */
  readonly azs: string[];
  /** `per-az` NAT gateways (resilient, production) or one `single` gateway (cheaper). Default per-az. */
  readonly natGateways?: "per-az" | "single";
  /** Retention of the flow-log group in days. */
  readonly flowLogRetentionDays: number;
  /** KMS key (one whose policy admits CloudWatch Logs, PlatformKey cloudWatchLogs) for the log group. */
  readonly logsKmsKeyArn: string;
  /** EKS cluster names that may place load balancers in these subnets (subnet discovery tags). */
  readonly clusterNames: string[];
  /** Use an existing VPC and subnets instead of creating them (flow logs are still attached). */
  readonly existing?: { vpcId: string; publicSubnetIds: string[]; privateSubnetIds: string[] };
  /** The VPC's region (endpoint service names). */
  readonly region: string;
  /**
   * Interface endpoints for ECR (API and registry) and STS in the private subnets, so image pulls
   * from ECR and IRSA's token exchanges do not cross the NAT gateways. Each costs an hourly fee per
   * zone, more than it saves at this platform's volumes (README "Network costs"); default off. The
   * S3 gateway endpoint, which is free, is always there.
   */
  readonly interfaceEndpoints?: boolean;
}

/** Interface endpoints made when `interfaceEndpoints` is on (service name suffixes). */
export const INTERFACE_ENDPOINT_SERVICES = ["ecr.api", "ecr.dkr", "sts"] as const;

/**
 * A VPC across the given zones: public subnets (load balancers, NAT) and private subnets (nodes,
 * databases, the Lambda), NAT per zone or single, subnet tags the AWS Load Balancer Controller
 * uses to place internet-facing and internal load balancers, the default security group emptied,
 * an S3 gateway endpoint (and, optionally, ECR/STS interface endpoints), and flow logs of all
 * traffic to CloudWatch Logs with a set retention.
 */
export class PlatformNetwork extends Construct {
  readonly vpcId: string;
  readonly cidr: string;
  readonly publicSubnetIds: string[];
  readonly privateSubnetIds: string[];
  /** Private route tables (one per zone, or one), for peering routes; empty for an existing VPC. */
  readonly privateRouteTableIds: string[] = [];
  readonly flowLogGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: PlatformNetworkProps) {
    super(scope, id);
    const { name, azs } = props;
    if (azs.length < 2) throw new Error(`PlatformNetwork ${name}: EKS needs at least two availability zones, got ${azs.length}`);
    const prefix = parseCidr(props.cidr)?.prefix;
    if (prefix === undefined || prefix < 16 || prefix > 20) {
      throw new Error(`PlatformNetwork ${name}: the VPC block must be between /16 and /20 (subnets are carved from it), got ${props.cidr}`);
    }
    this.cidr = props.cidr;
    const clusterTags = Object.fromEntries(props.clusterNames.map((c) => [`kubernetes.io/cluster/${c}`, "shared"]));

    if (props.existing) {
      const { vpcId, publicSubnetIds, privateSubnetIds } = props.existing;
      if (privateSubnetIds.length < azs.length || publicSubnetIds.length < azs.length) {
        throw new Error(`PlatformNetwork ${name}: the existing network needs one public and one private subnet per zone (${azs.length})`);
      }
      this.vpcId = vpcId;
      this.publicSubnetIds = publicSubnetIds;
      this.privateSubnetIds = privateSubnetIds;
    } else {
      const vpc = new Vpc(this, "vpc", { cidrBlock: props.cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: name, "platform/network": name } });
      this.vpcId = vpc.id;
      // Nothing may use the default security group: it is emptied so a forgotten reference fails closed.
      new DefaultSecurityGroup(this, "default-sg", { vpcId: vpc.id, tags: { Name: `${name}-default-unused` } });

      const privateCidrs = subnetCidrs(props.cidr, prefix + 3, azs.length, 0);
      // Public subnets: the last eighth of the block, split in eight.
      const publicCidrs = subnetCidrs(props.cidr, prefix + 6, azs.length, 7 * 8);
      const igw = new InternetGateway(this, "igw", { vpcId: vpc.id, tags: { Name: name } });

      const publicRt = new RouteTable(this, "public-rt", { vpcId: vpc.id, tags: { Name: `${name}-public` } });
      new Route(this, "public-default", { routeTableId: publicRt.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: igw.id });

      const publicSubnets = azs.map(
        (az, i) =>
          new Subnet(this, `public-${az}`, {
            vpcId: vpc.id,
            availabilityZone: az,
            cidrBlock: publicCidrs[i],
            mapPublicIpOnLaunch: false,
            tags: { Name: `${name}-public-${az}`, tier: "public", "kubernetes.io/role/elb": "1", ...clusterTags },
          }),
      );
      publicSubnets.forEach((s, i) => new RouteTableAssociation(this, `public-rta-${azs[i]}`, { subnetId: s.id, routeTableId: publicRt.id }));

      const natCount = props.natGateways === "single" ? 1 : azs.length;
      const nats = Array.from({ length: natCount }, (_, i) => {
        const eip = new Eip(this, `nat-eip-${azs[i]}`, { domain: "vpc", tags: { Name: `${name}-nat-${azs[i]}` } });
        return new NatGateway(this, `nat-${azs[i]}`, {
          allocationId: eip.allocationId,
          subnetId: publicSubnets[i].id,
          tags: { Name: `${name}-${azs[i]}` },
          dependsOn: [igw],
        });
      });

      const privateSubnets = azs.map((az, i) => {
        const subnet = new Subnet(this, `private-${az}`, {
          vpcId: vpc.id,
          availabilityZone: az,
          cidrBlock: privateCidrs[i],
          tags: { Name: `${name}-private-${az}`, tier: "private", "kubernetes.io/role/internal-elb": "1", ...clusterTags },
        });
        const rt = new RouteTable(this, `private-rt-${az}`, { vpcId: vpc.id, tags: { Name: `${name}-private-${az}`, tier: "private" } });
        new Route(this, `private-default-${az}`, { routeTableId: rt.id, destinationCidrBlock: "0.0.0.0/0", natGatewayId: nats[Math.min(i, natCount - 1)].id });
        new RouteTableAssociation(this, `private-rta-${az}`, { subnetId: subnet.id, routeTableId: rt.id });
        this.privateRouteTableIds.push(rt.id);
        return subnet;
      });
      this.publicSubnetIds = publicSubnets.map((s) => s.id);
      this.privateSubnetIds = privateSubnets.map((s) => s.id);

      // S3 through the VPC's own gateway (free): Thanos block uploads and reads, image layers of
      // ECR (served from S3) and the state bucket stay off the NAT gateways (no data-processing fee).
      new VpcEndpoint(this, "s3-endpoint", {
        vpcId: vpc.id,
        serviceName: `com.amazonaws.${props.region}.s3`,
        vpcEndpointType: "Gateway",
        routeTableIds: this.privateRouteTableIds,
        tags: { Name: `${name}-s3` },
      });
      if (props.interfaceEndpoints) {
        const sg = new SecurityGroup(this, "endpoints-sg", { name: `${name}-endpoints`, description: `${name}: HTTPS to the VPC's interface endpoints`, vpcId: vpc.id, tags: { Name: `${name}-endpoints` } });
        new VpcSecurityGroupIngressRule(this, "endpoints-https", { securityGroupId: sg.id, cidrIpv4: props.cidr, ipProtocol: "tcp", fromPort: 443, toPort: 443, description: "HTTPS from inside the VPC" });
        for (const service of INTERFACE_ENDPOINT_SERVICES) {
          new VpcEndpoint(this, `${service.replace(".", "-")}-endpoint`, {
            vpcId: vpc.id,
            serviceName: `com.amazonaws.${props.region}.${service}`,
            vpcEndpointType: "Interface",
            privateDnsEnabled: true,
            subnetIds: this.privateSubnetIds,
            securityGroupIds: [sg.id],
            tags: { Name: `${name}-${service}` },
          });
        }
      }
    }

    // Flow logs: every accepted and rejected flow, one-minute aggregation, kept as configured.
    this.flowLogGroup = new CloudwatchLogGroup(this, "flow-logs", {
      name: `/aws/vpc/${name}/flow-logs`,
      retentionInDays: props.flowLogRetentionDays,
      kmsKeyId: props.logsKmsKeyArn,
    });
    const role = new IamRole(this, "flow-logs-role", {
      name: `${name}-vpc-flow-logs`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "vpc-flow-logs.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
    });
    new IamRolePolicy(this, "flow-logs-policy", {
      role: role.id,
      name: "write-flow-logs",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            Resource: [this.flowLogGroup.arn, `${this.flowLogGroup.arn}:*`],
          },
        ],
      }),
    });
    new FlowLog(this, "flow-log", {
      vpcId: this.vpcId,
      trafficType: "ALL",
      logDestinationType: "cloud-watch-logs",
      logDestination: this.flowLogGroup.arn,
      iamRoleArn: role.arn,
      maxAggregationInterval: 60,
      tags: { Name: `${name}-flow-logs` },
    });
  }
}
