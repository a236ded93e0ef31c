/**
 * Process entry of the store-discovery CronJob (bundled by esbuild to dist/cronjobs/store-discovery.js).
 * Exit codes: 0 done (or nothing to do), 1 a run failed (alert sent), 2 bad configuration.
 */
import { Route53Client } from "@aws-sdk/client-route-53";
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { ConfigError } from "../../lib/discovery/env";
import { jsonLogger } from "../../lib/discovery/log";
import { mattermostNotifier } from "../../lib/discovery/webhook";
import { readConfig } from "./config";
import { runStoreDiscovery } from "./run";

async function main(): Promise<number> {
  const log = jsonLogger("thanos-store-discovery");
  let cfg;
  try {
    cfg = readConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      log("error", `configuration error: ${err.message}`);
      return 2;
    }
    throw err;
  }
  // Route53 is a global service; the SDK still wants a region to sign with.
  const route53 = new Route53Client({ region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1" });
  let configMaps: CoreV1Api | undefined;
  let deployments: AppsV1Api | undefined;
  if (!cfg.dryRun) {
    const kc = new KubeConfig();
    if (cfg.developerMode) kc.loadFromDefault();
    else kc.loadFromCluster();
    configMaps = kc.makeApiClient(CoreV1Api);
    deployments = kc.makeApiClient(AppsV1Api);
  }
  const result = await runStoreDiscovery(cfg, {
    route53,
    configMaps,
    deployments,
    notify: cfg.alertsHook ? mattermostNotifier(cfg.alertsHook) : undefined,
    log,
  });
  return result.exitCode;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${JSON.stringify({ level: "error", service: "thanos-store-discovery", message: "unexpected failure", error: String(err?.stack ?? err) })}\n`);
    process.exit(1);
  },
);
