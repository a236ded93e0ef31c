/**
 * Lambda entry (bundled by esbuild to dist/lambdas/dns-registration/index.js). Triggered by the
 * EventBridge rule on Route53 ChangeResourceRecordSets and by a schedule; both run `reconcile`.
 * A failure is logged as JSON, sent to the alert webhook, and rethrown so Lambda counts an error.
 */
import { Route53Client } from "@aws-sdk/client-route-53";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { errorText, jsonLogger, type Logger } from "../../lib/discovery/log";
import { mattermostNotifier, webhookFromSecret } from "../../lib/discovery/webhook";
import { readConfig } from "./config";
import { ReconcileError, reconcile, type ReconcileResult } from "./reconcile";
import { eksToken } from "./token";

/** JSON lines on stdout/stderr for CloudWatch Logs; tests pass their own sink to resetForTests. */
let log: Logger = jsonLogger("dns-registration");
const region = () => process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1";
let route53: Route53Client | undefined;
let secrets: SecretsManagerClient | undefined;
/** Cached across warm invocations: one Secrets Manager read per container. */
let webhookUrl: Promise<string | undefined> | undefined;

export { webhookFromSecret };

async function alertWebhook(secretId: string | undefined): Promise<string | undefined> {
  if (!secretId) return undefined;
  webhookUrl ??= (async () => {
    secrets ??= new SecretsManagerClient({ region: region() });
    const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    return webhookFromSecret(out.SecretString);
  })().catch((err) => {
    webhookUrl = undefined; // do not cache a failure
    throw err;
  });
  return webhookUrl;
}

export async function handler(event: unknown = {}): Promise<{ clusters: number; installations?: number; action: string }> {
  const source = (event as { source?: string })?.source ?? "direct";
  const cfg = readConfig(process.env);
  route53 ??= new Route53Client({ region: region() });
  try {
    let configMaps: CoreV1Api | undefined;
    if (!cfg.dryRun) {
      const credentials = await route53.config.credentials();
      const token = await eksToken({ clusterName: cfg.clusterName, region: region(), credentials });
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: cfg.clusterName, server: cfg.clusterEndpoint, caData: cfg.clusterCa, skipTLSVerify: cfg.skipTlsVerify }],
        users: [{ name: "lambda", token }],
        contexts: [{ name: "lambda", cluster: cfg.clusterName, user: "lambda" }],
        currentContext: "lambda",
      });
      configMaps = kc.makeApiClient(CoreV1Api);
    }
    const result: ReconcileResult = await reconcile(cfg, { route53, configMaps, log });
    if (cfg.dryRun) for (const doc of result.documents) process.stdout.write(`# ${cfg.namespace}/${cfg.configMapName} key ${doc.key} would be:\n${doc.document}`);
    return {
      clusters: result.groups.length,
      ...(cfg.probes ? { installations: result.documents[1]?.groups.length ?? 0 } : {}),
      action: result.documents.map((d) => d.write?.action ?? "dry-run").join(","),
    };
  } catch (err) {
    const title = err instanceof ReconcileError ? err.title : "DNS registration failed";
    const error = errorText(err);
    log("error", title, { error, trigger: source });
    try {
      const url = await alertWebhook(cfg.alertsSecretId);
      if (url) await mattermostNotifier(url)({ username: "Prometheus DNS Registration", title, environment: cfg.environment, error });
    } catch (notifyErr) {
      log("error", "could not deliver the alert", { error: errorText(notifyErr) });
    }
    throw err;
  }
}

/** Tests only: forget warm-container caches, and send the log lines to `options.log` (default: JSON lines). */
export function resetForTests(options: { log?: Logger } = {}): void {
  log = options.log ?? jsonLogger("dns-registration");
  route53 = undefined;
  secrets = undefined;
  webhookUrl = undefined;
}
