/** Route53 records -> Prometheus file-SD targets labelled with their clusterID. */
import type { ResourceRecordSet } from "@aws-sdk/client-route-53";
import { ADDRESS_TYPES, normalizeName } from "../../lib/discovery/route53";

export interface TargetGroup {
  targets: string[];
  labels: { clusterID: string };
}

/** Keeps A/AAAA/CNAME records named `<one label><suffix>`; one target group per cluster, sorted. */
export function targetsFromRecords(records: readonly ResourceRecordSet[], suffix: string, port: number): TargetGroup[] {
  const hosts = new Map<string, string>();
  for (const r of records) {
    if (!r.Name || !r.Type || !ADDRESS_TYPES.has(r.Type)) continue;
    const name = normalizeName(r.Name);
    if (!name.endsWith(suffix)) continue;
    const clusterID = name.slice(0, -suffix.length);
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(clusterID)) continue; // exactly one DNS label
    hosts.set(clusterID, name);
  }
  return [...hosts.keys()].sort().map((clusterID) => ({ targets: [`${hosts.get(clusterID)}:${port}`], labels: { clusterID } }));
}

export function renderFileSd(groups: readonly TargetGroup[]): string {
  return `${JSON.stringify(groups, null, 2)}\n`;
}

/** Targets of an existing document (for the removal guard); throws if it is not file-SD JSON. */
export function parseFileSd(text: string | undefined): string[] {
  if (!text || !text.trim()) return [];
  const doc = JSON.parse(text) as unknown;
  if (!Array.isArray(doc)) throw new Error("the current targets document is not a JSON list of target groups");
  return doc.flatMap((g) => (Array.isArray((g as TargetGroup)?.targets) ? (g as TargetGroup).targets.map(String) : [])).sort();
}
