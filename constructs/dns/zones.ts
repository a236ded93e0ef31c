import { DataAwsRoute53Zone } from "@cdktf/provider-aws/lib/data-aws-route53-zone";
import { Route53Zone } from "@cdktf/provider-aws/lib/route53-zone";
import { Route53ZoneAssociation } from "@cdktf/provider-aws/lib/route53-zone-association";
import { Construct } from "constructs";
import type { Environment } from "../../config/schema";

/** The zone tag the provisioner finds its private and public zones by (value `private` / `public`). */
export const PROVISIONER_ZONE_TAG = "MattermostCloudDNS";

export interface PlatformZonesProps {
  readonly env: Environment;
  /** The C&C VPC: it must resolve the private zone. */
  readonly vpcId: string;
  /** Associate the existing private zone with the VPC (true when the VPC is new). */
  readonly associate: boolean;
}

/**
 * The hosted zones of an environment, as the cluster stack sees them. Real accounts already own
 * their zones (ids in the environment): the private zone is associated with the new C&C VPC.
 * On the emulator there is nothing to look up, so stand-in zones with the same domains are made.
 *
 * The provisioner finds its zones by the tag `MattermostCloudDNS=private|public` at start. Zones
 * made here carry it; existing zones are not Terraform's to tag, so the preflight of the
 * post-install layer checks the tag on them and says how to add it.
 */
export class PlatformZones extends Construct {
  readonly privateZoneId: string;
  readonly publicZoneId?: string;

  constructor(scope: Construct, id: string, props: PlatformZonesProps) {
    super(scope, id);
    const { env } = props;
    if (env.target === "emulator") {
      const priv = new Route53Zone(this, "private", {
        name: env.dns.privateDomain,
        comment: `${env.name} private zone (emulator stand-in)`,
        vpc: [{ vpcId: props.vpcId, vpcRegion: env.region }],
        forceDestroy: true,
        tags: { [PROVISIONER_ZONE_TAG]: "private" },
      });
      this.privateZoneId = priv.zoneId;
      if (env.dns.publicDomain) {
        this.publicZoneId = new Route53Zone(this, "public", { name: env.dns.publicDomain, comment: `${env.name} public zone (emulator stand-in)`, forceDestroy: true, tags: { [PROVISIONER_ZONE_TAG]: "public" } }).zoneId;
      }
    } else {
      this.privateZoneId = env.dns.privateZoneId!;
      this.publicZoneId = env.dns.publicZoneId;
      if (props.associate) new Route53ZoneAssociation(this, "private-vpc", { zoneId: this.privateZoneId, vpcId: props.vpcId });
    }
  }
}

/** How later stacks find the zones: by id on real AWS, by domain on the emulator. */
export function lookupPrivateZone(scope: Construct, id: string, env: Environment): DataAwsRoute53Zone {
  // On the emulator the stand-in zone is found by its (unique) domain alone: moto records zones
  // created through the provider as public.
  return env.target === "emulator"
    ? new DataAwsRoute53Zone(scope, id, { name: env.dns.privateDomain })
    : new DataAwsRoute53Zone(scope, id, { zoneId: env.dns.privateZoneId });
}

export function lookupPublicZone(scope: Construct, id: string, env: Environment): DataAwsRoute53Zone | undefined {
  if (!env.dns.publicDomain) return undefined;
  return env.target === "emulator" || !env.dns.publicZoneId
    ? new DataAwsRoute53Zone(scope, id, { name: env.dns.publicDomain })
    : new DataAwsRoute53Zone(scope, id, { zoneId: env.dns.publicZoneId });
}
