/**
 * One reconcile: list the zones, compute the documents, write each into its key of the targets
 * ConfigMap that Prometheus reads through file_sd_configs. Same safety rules as store discovery:
 * - every listing must succeed before anything is written (a failed or partial listing changes nothing);
 * - a document that would remove more than half of its current targets is refused (ALLOW_MASS_REMOVAL=true lets one run through);
 * - an unchanged document is not written.
 * Documents: the federation targets (private zone, `<cluster>.prometheus.<private domain>`) and,
 * when the public zone is configured, the installation probe targets (`<installation>.<public domain>`).
 */
import type { Route53Client } from "@aws-sdk/client-route-53";
import { reconcileKey, type ConfigMapApi, type WriteOutcome } from "../../lib/discovery/configmap";
import { checkRemoval, sameSet } from "../../lib/discovery/guard";
import { errorText, type Logger } from "../../lib/discovery/log";
import { listAllRecords, type ZoneListing } from "../../lib/discovery/route53";
import type { DnsRegistrationConfig } from "./config";
import { parseFileSd, probeTargetsFromRecords, renderFileSd, targetsFromRecords, type TargetGroup } from "./targets";

export interface DocumentResult {
  /** ConfigMap data key. */
  key: string;
  groups: TargetGroup[];
  document: string;
  write?: WriteOutcome;
}

export interface ReconcileResult {
  /** The federation targets (kept at the top level for callers of the first document). */
  groups: TargetGroup[];
  document: string;
  write?: WriteOutcome;
  /** Every document, federation first. */
  documents: DocumentResult[];
  route53Calls: number;
}

export class ReconcileError extends Error {
  constructor(
    readonly title: string,
    message: string,
  ) {
    super(message);
    this.name = "ReconcileError";
  }
}

async function list(route53: Pick<Route53Client, "send">, zoneId: string, what: string): Promise<ZoneListing> {
  try {
    return await listAllRecords(route53, zoneId);
  } catch (err) {
    throw new ReconcileError(`Listing hosted zone ${zoneId}${what === "private" ? "" : ` (${what})`} failed; the Prometheus targets were left as they are`, errorText(err));
  }
}

export async function reconcile(
  cfg: DnsRegistrationConfig,
  deps: { route53: Pick<Route53Client, "send">; configMaps?: ConfigMapApi; log: Logger },
): Promise<ReconcileResult> {
  // Every listing first: nothing is written unless all of them succeeded.
  const privateListing = await list(deps.route53, cfg.zoneId, "private");
  const publicListing = cfg.probes ? await list(deps.route53, cfg.probes.zoneId, "public") : undefined;

  const federation = targetsFromRecords(privateListing.records, cfg.recordSuffix, cfg.prometheusPort);
  deps.log("info", "listed the private zone", { zoneId: cfg.zoneId, records: privateListing.records.length, pages: privateListing.calls, clusters: federation.length });
  const documents: DocumentResult[] = [{ key: cfg.configMapKey, groups: federation, document: renderFileSd(federation) }];
  if (cfg.probes && publicListing) {
    const probes = probeTargetsFromRecords(publicListing.records, cfg.probes.domain, cfg.probes.excluded);
    deps.log("info", "listed the public zone", { zoneId: cfg.probes.zoneId, records: publicListing.records.length, pages: publicListing.calls, installations: probes.length });
    documents.push({ key: cfg.probes.key, groups: probes, document: renderFileSd(probes) });
  }
  const route53Calls = privateListing.calls + (publicListing?.calls ?? 0);
  const result = (): ReconcileResult => ({ groups: documents[0].groups, document: documents[0].document, write: documents[0].write, documents, route53Calls });
  if (cfg.dryRun || !deps.configMaps) return result();

  for (const doc of documents) {
    const targets = doc.groups.flatMap((g) => g.targets);
    const federationDoc = doc.key === cfg.configMapKey;
    const what = federationDoc ? "Prometheus target" : "installation probe target";
    let refused: string | undefined;
    try {
      doc.write = await reconcileKey(
        deps.configMaps,
        { namespace: cfg.namespace, name: cfg.configMapName, key: doc.key, labels: { "app.kubernetes.io/managed-by": "dns-registration-lambda" } },
        (current) => {
          const existing = parseFileSd(current?.data?.[doc.key]);
          if (existing.length === 0 && targets.length === 0) return undefined;
          // Compare the documents, not only the targets: a changed label is a change too.
          if (current && sameSet(existing, targets) && current.data?.[doc.key] === doc.document) return undefined;
          const change = checkRemoval(existing, targets);
          if (change.tooMany && !cfg.allowMassRemoval) {
            refused =
              `the zone now lists ${targets.length} ${what}(s) but ${existing.length} are configured${federationDoc ? "" : ` in ${doc.key}`}; removing ${change.removed.length} in one run is refused. ` +
              `If that is intended, invoke once with ALLOW_MASS_REMOVAL=true.`;
            return { refuse: refused };
          }
          deps.log("info", federationDoc ? "targets changed" : "probe targets changed", { key: doc.key, added: change.added, removed: change.removed });
          return doc.document;
        },
      );
    } catch (err) {
      throw new ReconcileError(`Updating ConfigMap ${cfg.namespace}/${cfg.configMapName}${federationDoc ? "" : ` (${doc.key})`} failed`, errorText(err));
    }
    if (doc.write.action === "refused") {
      throw new ReconcileError(`DNS registration refused to remove most ${what}s`, refused ?? "refused");
    }
    deps.log("info", doc.write.action === "unchanged" ? `${what}s unchanged; nothing written` : `${what}s ConfigMap ${doc.write.action}`, { key: doc.key, groups: doc.groups.length });
  }
  return result();
}
