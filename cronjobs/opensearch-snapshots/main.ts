/**
 * Process entry of the OpenSearch snapshot CronJob (bundled by esbuild to dist/cronjobs/opensearch-snapshots/main.js).
 * Credentials come from the SDK's default chain: in the pod, IRSA's web identity (AWS_ROLE_ARN,
 * AWS_WEB_IDENTITY_TOKEN_FILE, set by EKS). Exit codes: 0 done, 1 a run failed (alert sent), 2 bad configuration.
 */
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { ConfigError } from "../../lib/discovery/env";
import { jsonLogger } from "../../lib/discovery/log";
import { mattermostNotifier } from "../../lib/discovery/webhook";
import { signedClient } from "./client";
import { readConfig } from "./config";
import { runSnapshots } from "./run";

async function main(): Promise<number> {
  const log = jsonLogger("opensearch-snapshots");
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
  const notify = mattermostNotifier(cfg.alertsHook);
  const call = signedClient({ endpoint: cfg.endpoint, region: cfg.region, credentials: defaultProvider() });
  const result = await runSnapshots(cfg, { call, notify, log });
  return result.exitCode;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${JSON.stringify({ level: "error", service: "opensearch-snapshots", message: "unexpected failure", error: String(err?.stack ?? err) })}\n`);
    process.exit(1);
  },
);
