/**
 * Lists every record of a hosted zone, following Route53 pagination to the end. A failure on any
 * page fails the whole listing: a partial list must never be mistaken for the zone's content.
 */
import { ListResourceRecordSetsCommand, type ResourceRecordSet, type Route53Client, type RRType } from "@aws-sdk/client-route-53";

export interface ZoneListing {
  records: ResourceRecordSet[];
  /** ListResourceRecordSets calls made (one per page). */
  calls: number;
}

export async function listAllRecords(route53: Pick<Route53Client, "send">, zoneId: string): Promise<ZoneListing> {
  const records: ResourceRecordSet[] = [];
  let start: { StartRecordName?: string; StartRecordType?: RRType; StartRecordIdentifier?: string } = {};
  let calls = 0;
  for (;;) {
    const page = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, MaxItems: 300, ...start }));
    calls++;
    records.push(...(page.ResourceRecordSets ?? []));
    if (!page.IsTruncated) return { records, calls };
    if (!page.NextRecordName) throw new Error(`Route53 said page ${calls} of zone ${zoneId} was truncated but gave no next record name`);
    start = { StartRecordName: page.NextRecordName, StartRecordType: page.NextRecordType, StartRecordIdentifier: page.NextRecordIdentifier };
  }
}

/** The address record types whose names we accept (alias A/AAAA included). */
export const ADDRESS_TYPES = new Set(["A", "AAAA", "CNAME"]);

/** Route53 returns names with a trailing dot and octal escapes for some characters; normalise. */
export function normalizeName(name: string): string {
  return name
    .replace(/\\(\d{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)))
    .replace(/\.$/, "")
    .toLowerCase();
}
