/** Route53 records -> Prometheus file-SD targets labelled with their clusterID. */
import type { ResourceRecordSet } from "@aws-sdk/client-route-53";
import { ADDRESS_TYPES, normalizeName } from "../../lib/discovery/route53";

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
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

/** Mattermost's unauthenticated health route: 200 when the server and its database answer. */
export const PING_PATH = "/api/v4/system/ping";

/**
 * Installation records of the public zone -> blackbox probe targets: A/AAAA/CNAME records named
 * `<one label>.<publicDomain>` (what the provisioner, and the route53 stack for declared
 * installations, create), except the platform's own app names. One group per installation,
 * labelled `installation`, target `https://<name>/api/v4/system/ping`.
 */
export function probeTargetsFromRecords(records: readonly ResourceRecordSet[], publicDomain: string, excluded: ReadonlySet<string>): TargetGroup[] {
  const suffix = `.${publicDomain.toLowerCase()}`;
  const names = new Map<string, string>();
  for (const r of records) {
    if (!r.Name || !r.Type || !ADDRESS_TYPES.has(r.Type)) continue;
    const name = normalizeName(r.Name);
    if (!name.endsWith(suffix)) continue;
    const installation = name.slice(0, -suffix.length);
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(installation) || excluded.has(installation)) continue;
    names.set(installation, name);
  }
  return [...names.keys()].sort().map((installation) => ({ targets: [`https://${names.get(installation)}${PING_PATH}`], labels: { installation } }));
}
