/** Route53 records -> Thanos endpoints, and the endpoint file the query reads. */
import type { ResourceRecordSet } from "@aws-sdk/client-route-53";
import { dump, load } from "js-yaml";
import { ADDRESS_TYPES, normalizeName } from "../../lib/discovery/route53";

/**
 * Keeps A, AAAA and CNAME records (alias included) whose first DNS label ends in `-grpc`
 * (`alpha-grpc.internal.example.com`, not `grpc.x` nor `alpha-grpc-old.x` nor `a.b-grpc.x`),
 * strips the trailing dot, lower-cases, de-duplicates, sorts and appends the port.
 */
export function endpointsFromRecords(records: readonly ResourceRecordSet[], grpcPort: number): string[] {
  const hosts = new Set<string>();
  for (const r of records) {
    if (!r.Name || !r.Type || !ADDRESS_TYPES.has(r.Type)) continue;
    const name = normalizeName(r.Name);
    const first = name.split(".")[0];
    if (first.length > "-grpc".length && first.endsWith("-grpc") && name.includes(".")) hosts.add(name);
  }
  return [...hosts].sort().map((h) => `${h}:${grpcPort}`);
}

/** The file-SD document Thanos query reads (`--endpoint.sd-files`): a YAML list of target groups. */
export function renderEndpointFile(endpoints: readonly string[]): string {
  return dump([{ targets: [...endpoints] }], { lineWidth: -1 });
}

/** Endpoints listed in an existing file (any number of target groups); throws if it is not file-SD. */
export function parseEndpointFile(text: string | undefined): string[] {
  if (!text || !text.trim()) return [];
  const doc = load(text);
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new Error("the current endpoint file is not a YAML list of target groups");
  const out = new Set<string>();
  for (const group of doc) {
    const targets = (group as { targets?: unknown })?.targets;
    if (!Array.isArray(targets)) throw new Error("the current endpoint file has a target group without a targets list");
    for (const t of targets) out.add(String(t));
  }
  return [...out].sort();
}
