import { Lb } from "@cdktf/provider-aws/lib/lb";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Construct } from "constructs";

export const THANOS_GRPC_PORT = 10901;
export const PROMETHEUS_PORT = 9090;

/** Target group names (the apps phase finds them by name to bind the pods). */
export const monitoringTargetGroupName = (clusterName: string, key: "grpc" | "prom") => `${clusterName}-${key}`.slice(0, 32);

export interface MonitoringEndpointsProps {
  /** Cluster name (`<env>-<workload>`), and the workload's short name used in DNS. */
  readonly clusterName: string;
  readonly workloadName: string;
  readonly vpcId: string;
  readonly subnetIds: string[];
  /** The only network allowed in: the C&C VPC. */
  readonly cncCidr: string;
  /** The cluster nodes' security group (the NLB sends to pod IPs on the nodes). */
  readonly nodeSecurityGroupId: string;
  readonly zoneId: string;
  readonly privateDomain: string;
  /** Refuse deletion of the load balancer (the provisioner's federation depends on it); default true. */
  readonly deletionProtection?: boolean;
}

/**
 * How the C&C reaches a workload cluster's monitoring: one internal NLB owned by Terraform (so its
 * DNS names exist in the same apply) with a listener for the in-cluster Thanos query (gRPC
 * 10901) and one for Prometheus (9090, federation). Both admit only the C&C VPC. The AWS Load
 * Balancer Controller registers the pods through TargetGroupBindings. The names
 * `<name>-grpc.<domain>` (store discovery) and `<name>.prometheus.<domain>` (DNS-registration
 * Lambda) are aliases to it.
 */
export class MonitoringEndpoints extends Construct {
  readonly loadBalancer: Lb;
  readonly thanosTargetGroup: LbTargetGroup;
  readonly prometheusTargetGroup: LbTargetGroup;
  readonly grpcName: string;
  readonly prometheusName: string;

  constructor(scope: Construct, id: string, props: MonitoringEndpointsProps) {
    super(scope, id);
    const sg = new SecurityGroup(this, "sg", {
      name: `${props.clusterName}-monitoring-nlb`,
      description: `${props.clusterName}: Thanos gRPC and Prometheus from the C&C VPC only`,
      vpcId: props.vpcId,
      tags: { Name: `${props.clusterName}-monitoring-nlb` },
    });
    for (const [name, port] of [["thanos-grpc", THANOS_GRPC_PORT], ["prometheus", PROMETHEUS_PORT]] as const) {
      new VpcSecurityGroupIngressRule(this, `in-${name}`, { securityGroupId: sg.id, cidrIpv4: props.cncCidr, ipProtocol: "tcp", fromPort: port, toPort: port, description: `${name} from the C&C VPC` });
      new VpcSecurityGroupIngressRule(this, `nodes-${name}`, {
        securityGroupId: props.nodeSecurityGroupId,
        referencedSecurityGroupId: sg.id,
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
        description: `${name} from the monitoring NLB`,
      });
    }
    new VpcSecurityGroupEgressRule(this, "out-to-nodes", { securityGroupId: sg.id, referencedSecurityGroupId: props.nodeSecurityGroupId, ipProtocol: "tcp", fromPort: PROMETHEUS_PORT, toPort: THANOS_GRPC_PORT, description: "to the pods" });

    this.loadBalancer = new Lb(this, "nlb", {
      name: `${props.clusterName}-mon`.slice(0, 32),
      loadBalancerType: "network",
      internal: true,
      subnets: props.subnetIds,
      securityGroups: [sg.id],
      enableCrossZoneLoadBalancing: true,
      enableDeletionProtection: props.deletionProtection ?? true,
      // Not the controller's lookup tag (config/names.ts): nothing looks this one up by tag.
      tags: { "platform/terraform-load-balancer": `${props.clusterName}/monitoring` },
    });
    const target = (name: "grpc" | "prom", port: number) =>
      new LbTargetGroup(this, `tg-${name}`, {
        name: monitoringTargetGroupName(props.clusterName, name),
        port,
        protocol: "TCP",
        targetType: "ip",
        vpcId: props.vpcId,
        healthCheck: { protocol: "TCP", interval: 10 },
      });
    this.thanosTargetGroup = target("grpc", THANOS_GRPC_PORT);
    this.prometheusTargetGroup = target("prom", PROMETHEUS_PORT);
    new LbListener(this, "listener-grpc", { loadBalancerArn: this.loadBalancer.arn, port: THANOS_GRPC_PORT, protocol: "TCP", defaultAction: [{ type: "forward", targetGroupArn: this.thanosTargetGroup.arn }] });
    new LbListener(this, "listener-prometheus", { loadBalancerArn: this.loadBalancer.arn, port: PROMETHEUS_PORT, protocol: "TCP", defaultAction: [{ type: "forward", targetGroupArn: this.prometheusTargetGroup.arn }] });

    this.grpcName = `${props.workloadName}-grpc.${props.privateDomain}`;
    this.prometheusName = `${props.workloadName}.prometheus.${props.privateDomain}`;
    for (const [key, name] of [["grpc", this.grpcName], ["prometheus", this.prometheusName]]) {
      new Route53Record(this, `record-${key}`, {
        zoneId: props.zoneId,
        name,
        type: "A",
        alias: { name: this.loadBalancer.dnsName, zoneId: this.loadBalancer.zoneId, evaluateTargetHealth: false },
      });
    }
  }
}
