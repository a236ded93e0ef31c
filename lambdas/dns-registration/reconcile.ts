/**
 * One reconcile: list the zone, compute the federation targets, write them into the targets
 * ConfigMap that Prometheus reads through file_sd_configs. Same safety rules as store discovery.
 */
import type { Route53Client } from "@aws-sdk/client-route-53";
import { reconcileKey, type ConfigMapApi, type WriteOutcome } from "../../lib/discovery/configmap";
import { checkRemoval, sameSet } from "../../lib/discovery/guard";
import { errorText, type Logger } from "../../lib/discovery/log";
import { listAllRecords } from "../../lib/discovery/route53";
import type { DnsRegistrationConfig } from "./config";
import { parseFileSd, renderFileSd, targetsFromRecords, type TargetGroup } from "./targets";

export interface ReconcileResult {
  groups: TargetGroup[];
  document: string;
  write?: WriteOutcome;
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

export async function reconcile(
  cfg: DnsRegistrationConfig,
  deps: { route53: Pick<Route53Client, "send">; configMaps?: ConfigMapApi; log: Logger },
): Promise<ReconcileResult> {
  let listing;
  try {
    listing = await listAllRecords(deps.route53, cfg.zoneId);
  } catch (err) {
    throw new ReconcileError(`Listing hosted zone ${cfg.zoneId} failed; the Prometheus targets were left as they are`, errorText(err));
  }
  const groups = targetsFromRecords(listing.records, cfg.recordSuffix, cfg.prometheusPort);
  const document = renderFileSd(groups);
  const targets = groups.flatMap((g) => g.targets);
  deps.log("info", "listed the private zone", { zoneId: cfg.zoneId, records: listing.records.length, pages: listing.calls, clusters: groups.length });
  if (cfg.dryRun || !deps.configMaps) return { groups, document, route53Calls: listing.calls };

  let refused: string | undefined;
  let write: WriteOutcome;
  try {
    write = await reconcileKey(
      deps.configMaps,
      { namespace: cfg.namespace, name: cfg.configMapName, key: cfg.configMapKey, labels: { "app.kubernetes.io/managed-by": "dns-registration-lambda" } },
      (current) => {
        const existing = parseFileSd(current?.data?.[cfg.configMapKey]);
        if (existing.length === 0 && targets.length === 0) return undefined;
        // Compare the documents, not only the hosts: a changed clusterID label is a change too.
        if (current && sameSet(existing, targets) && current.data?.[cfg.configMapKey] === document) return undefined;
        const change = checkRemoval(existing, targets);
        if (change.tooMany && !cfg.allowMassRemoval) {
          refused =
            `the zone now lists ${targets.length} Prometheus target(s) but ${existing.length} are configured; removing ${change.removed.length} in one run is refused. ` +
            `If that is intended, invoke once with ALLOW_MASS_REMOVAL=true.`;
          return { refuse: refused };
        }
        deps.log("info", "targets changed", { added: change.added, removed: change.removed });
        return document;
      },
    );
  } catch (err) {
    throw new ReconcileError(`Updating ConfigMap ${cfg.namespace}/${cfg.configMapName} failed`, errorText(err));
  }
  if (write.action === "refused") throw new ReconcileError("DNS registration refused to remove most Prometheus targets", refused ?? "refused");
  deps.log("info", write.action === "unchanged" ? "targets unchanged; nothing written" : `targets ConfigMap ${write.action}`, { clusters: groups.length });
  return { groups, document, write, route53Calls: listing.calls };
}
