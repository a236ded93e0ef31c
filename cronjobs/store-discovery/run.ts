/**
 * One store-discovery run: list the private zone, turn `-grpc` records into Thanos endpoints,
 * and make the query's endpoint ConfigMap say exactly that, without ever losing good
 * configuration to a failed or suspicious listing. Clients are passed in (tests use moto and a
 * local Kubernetes API stand-in).
 */
import type { Route53Client } from "@aws-sdk/client-route-53";
import type { AppsV1Api } from "@kubernetes/client-node";
import { reconcileKey, type ConfigMapApi, type WriteOutcome } from "../../lib/discovery/configmap";
import { checkRemoval, sameSet } from "../../lib/discovery/guard";
import { errorText, type Logger } from "../../lib/discovery/log";
import { listAllRecords } from "../../lib/discovery/route53";
import type { Notifier } from "../../lib/discovery/webhook";
import type { StoreDiscoveryConfig } from "./config";
import { endpointsFromRecords, parseEndpointFile, renderEndpointFile } from "./endpoints";

export interface StoreDiscoveryDeps {
  route53: Pick<Route53Client, "send">;
  /** Absent in dry-run. */
  configMaps?: ConfigMapApi;
  deployments?: Pick<AppsV1Api, "readNamespacedDeployment" | "replaceNamespacedDeployment">;
  notify?: Notifier;
  log: Logger;
  /** Where dry-run prints its result. */
  print?: (text: string) => void;
}

export interface RunResult {
  exitCode: 0 | 1;
  endpoints?: string[];
  write?: WriteOutcome;
  route53Calls: number;
  kubernetesCalls: number;
}

export const MANAGED_BY_LABEL = { "app.kubernetes.io/managed-by": "thanos-store-discovery" };

export async function runStoreDiscovery(cfg: StoreDiscoveryConfig, deps: StoreDiscoveryDeps): Promise<RunResult> {
  const { log } = deps;
  let route53Calls = 0;
  let kubernetesCalls = 0;

  const fail = async (title: string, err: unknown): Promise<RunResult> => {
    const error = errorText(err);
    log("error", title, { error, zoneId: cfg.zoneId, configMap: `${cfg.namespace}/${cfg.configMapName}` });
    if (deps.notify) {
      try {
        await deps.notify({ username: "Thanos Store Discovery", title, environment: cfg.environment, error });
      } catch (notifyErr) {
        log("error", "could not deliver the alert", { error: errorText(notifyErr) });
      }
    }
    return { exitCode: 1, route53Calls, kubernetesCalls };
  };

  let endpoints: string[];
  try {
    const listing = await listAllRecords(deps.route53, cfg.zoneId);
    route53Calls = listing.calls;
    endpoints = endpointsFromRecords(listing.records, cfg.grpcPort);
    log("info", "listed the private zone", { zoneId: cfg.zoneId, records: listing.records.length, pages: listing.calls, endpoints: endpoints.length });
  } catch (err) {
    return fail(`Listing hosted zone ${cfg.zoneId} failed; the Thanos endpoints were left as they are`, err);
  }

  if (cfg.dryRun || !deps.configMaps) {
    const file = renderEndpointFile(endpoints);
    (deps.print ?? ((t: string) => process.stdout.write(t)))(`# ${cfg.namespace}/${cfg.configMapName} key ${cfg.configMapKey} would be:\n${file}`);
    return { exitCode: 0, endpoints, route53Calls, kubernetesCalls };
  }

  let refusedBecause: string | undefined;
  let write: WriteOutcome;
  try {
    write = await reconcileKey(
      deps.configMaps,
      { namespace: cfg.namespace, name: cfg.configMapName, key: cfg.configMapKey, labels: MANAGED_BY_LABEL },
      (current) => {
        const existing = parseEndpointFile(current?.data?.[cfg.configMapKey]);
        if (existing.length === 0 && endpoints.length === 0) return undefined; // nothing published, nothing known: quiet
        if (current && sameSet(existing, endpoints)) return undefined;
        const change = checkRemoval(existing, endpoints);
        if (change.tooMany && !cfg.allowMassRemoval) {
          refusedBecause =
            `the zone now lists ${endpoints.length} endpoint(s) but the query has ${existing.length}; ` +
            `removing ${change.removed.length} (${change.removed.slice(0, 5).join(", ")}${change.removed.length > 5 ? ", ..." : ""}) in one run is refused. ` +
            `If that is intended, run once with ALLOW_MASS_REMOVAL=true.`;
          return { refuse: refusedBecause };
        }
        log("info", "endpoints changed", { added: change.added, removed: change.removed });
        return renderEndpointFile(endpoints);
      },
    );
    kubernetesCalls += write.calls;
  } catch (err) {
    return fail(`Updating ConfigMap ${cfg.namespace}/${cfg.configMapName} failed`, err);
  }
  if (write.action === "refused") {
    return { ...(await fail("Store discovery refused to remove most Thanos endpoints", refusedBecause)), endpoints, write, kubernetesCalls };
  }
  log("info", write.action === "unchanged" ? "endpoints unchanged; nothing written" : `endpoint ConfigMap ${write.action}`, {
    endpoints: endpoints.length,
    kubernetesCalls,
  });

  if (cfg.rotate && write.action !== "unchanged" && deps.deployments) {
    try {
      kubernetesCalls += await rolloutRestart(deps.deployments, cfg.namespace, cfg.deploymentName);
      log("info", "rolling restart of the Thanos query requested", { deployment: cfg.deploymentName });
    } catch (err) {
      return { ...(await fail(`Restarting Deployment ${cfg.namespace}/${cfg.deploymentName} failed (the endpoints were written)`, err)), endpoints, write };
    }
  }
  return { exitCode: 0, endpoints, write, route53Calls, kubernetesCalls };
}

/** What `kubectl rollout restart` does: stamp the pod template, let the Deployment roll. */
export async function rolloutRestart(
  api: Pick<AppsV1Api, "readNamespacedDeployment" | "replaceNamespacedDeployment">,
  namespace: string,
  name: string,
  now = new Date(),
): Promise<number> {
  const deployment = await api.readNamespacedDeployment({ name, namespace });
  const template = deployment.spec!.template;
  template.metadata = {
    ...template.metadata,
    annotations: { ...(template.metadata?.annotations ?? {}), "kubectl.kubernetes.io/restartedAt": now.toISOString() },
  };
  await api.replaceNamespacedDeployment({ name, namespace, body: deployment });
  return 2;
}
