import { Route } from "@cdktf/provider-aws/lib/route";
import { VpcPeeringConnection } from "@cdktf/provider-aws/lib/vpc-peering-connection";
import { TerraformIterator } from "cdktf";
import { Construct } from "constructs";

export interface CncPeeringProps {
  readonly name: string;
  readonly workloadVpcId: string;
  readonly workloadCidr: string;
  readonly workloadRouteTableIds: string[];
  readonly cncVpcId: string;
  readonly cncCidr: string;
  /** The C&C's private route tables (a lookup: a token list). */
  readonly cncRouteTableIds: string[];
}

/**
 * VPC peering between a workload cluster and the C&C, with routes both ways.
 *
 * Why peering and not a Transit Gateway: every workload VPC talks only to the C&C (a star with
 * one hub), the VPCs share an account and region, peering costs nothing per hour and adds no
 * hop, and the per-VPC limit (125 peerings) is far above the number of workload clusters an
 * environment runs. A Transit Gateway becomes the better choice with several accounts or regions,
 * or when workloads must reach each other.
 */
export class CncPeering extends Construct {
  readonly connection: VpcPeeringConnection;

  constructor(scope: Construct, id: string, props: CncPeeringProps) {
    super(scope, id);
    this.connection = new VpcPeeringConnection(this, "peering", {
      vpcId: props.workloadVpcId,
      peerVpcId: props.cncVpcId,
      autoAccept: true,
      accepter: { allowRemoteVpcDnsResolution: true },
      requester: { allowRemoteVpcDnsResolution: true },
      tags: { Name: `${props.name}-to-cnc` },
    });
    props.workloadRouteTableIds.forEach(
      (rt, i) => new Route(this, `to-cnc-${i}`, { routeTableId: rt, destinationCidrBlock: props.cncCidr, vpcPeeringConnectionId: this.connection.id }),
    );
    const cncTables = TerraformIterator.fromList(props.cncRouteTableIds);
    new Route(this, "from-cnc", {
      forEach: cncTables,
      routeTableId: cncTables.value,
      destinationCidrBlock: props.workloadCidr,
      vpcPeeringConnectionId: this.connection.id,
    });
  }
}
