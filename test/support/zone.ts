/** Seeds a private hosted zone in moto through the real Route53 API. */
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, Route53Client, type ResourceRecordSet } from "@aws-sdk/client-route-53";

export async function createZone(route53: Route53Client, domain: string): Promise<string> {
  const out = await route53.send(
    new CreateHostedZoneCommand({
      Name: domain,
      CallerReference: `${domain}-${Date.now()}-${Math.random()}`,
      HostedZoneConfig: { PrivateZone: true, Comment: "test" },
      VPC: { VPCRegion: "us-east-1", VPCId: "vpc-0123456789abcdef0" },
    }),
  );
  return out.HostedZone!.Id!.replace("/hostedzone/", "");
}

export async function upsert(route53: Route53Client, zoneId: string, records: ResourceRecordSet[], action: "UPSERT" | "DELETE" = "UPSERT"): Promise<void> {
  for (let i = 0; i < records.length; i += 500) {
    await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: { Changes: records.slice(i, i + 500).map((r) => ({ Action: action, ResourceRecordSet: r })) },
      }),
    );
  }
}

export const a = (name: string, ip = "10.1.0.10"): ResourceRecordSet => ({ Name: name, Type: "A", TTL: 300, ResourceRecords: [{ Value: ip }] });
export const aaaa = (name: string): ResourceRecordSet => ({ Name: name, Type: "AAAA", TTL: 300, ResourceRecords: [{ Value: "fd00::10" }] });
export const cname = (name: string, target: string): ResourceRecordSet => ({ Name: name, Type: "CNAME", TTL: 300, ResourceRecords: [{ Value: target }] });
export const txt = (name: string): ResourceRecordSet => ({ Name: name, Type: "TXT", TTL: 300, ResourceRecords: [{ Value: '"heritage=external-dns"' }] });
export const alias = (name: string, target: string): ResourceRecordSet => ({
  Name: name,
  Type: "A",
  AliasTarget: { HostedZoneId: "Z26RNL4JYFTOTI", DNSName: target, EvaluateTargetHealth: false },
});
