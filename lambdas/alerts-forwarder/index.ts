/**
 * Lambda entry (bundled to dist/lambdas/alerts-forwarder/index.js), subscribed to the
 * environment's SNS alert topic: every CloudWatch alarm (and any other notification) is posted to
 * the Mattermost alerts channel, the same one Alertmanager uses. A post that fails throws, so
 * Lambda retries the event and then keeps it in the dead-letter queue: nothing is lost silently.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { errorText, jsonLogger } from "../../lib/discovery/log";
import { webhookFromSecret } from "../../lib/discovery/webhook";
import { formatRecord, type SnsRecord } from "./format";

export interface ForwarderDeps {
  secrets: Pick<SecretsManagerClient, "send">;
  fetch: typeof fetch;
  env: Record<string, string | undefined>;
  log?: ReturnType<typeof jsonLogger>;
}

export function makeHandler(deps: ForwarderDeps): (event: { Records?: SnsRecord[] }) => Promise<{ posted: number }> {
  const log = deps.log ?? jsonLogger("alerts-forwarder");
  let url: Promise<string> | undefined;
  const webhook = () =>
    (url ??= (async () => {
      const secretId = deps.env.ALERTS_SECRET_ID?.trim();
      if (!secretId) throw new Error("ALERTS_SECRET_ID is not set; the function cannot know where to post (set it to the alerts webhook secret's name)");
      const out = await deps.secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
      const value = webhookFromSecret(out.SecretString);
      if (!value || !/^https?:\/\/\S+$/.test(value)) throw new Error(`secret ${secretId} holds no webhook URL; fill it with the Mattermost incoming-webhook URL`);
      return value;
    })().catch((err) => {
      url = undefined; // do not cache a failure
      throw err;
    }));

  return async (event) => {
    const records = event.Records ?? [];
    const environment = deps.env.ENVIRONMENT_NAME ?? "unknown";
    let posted = 0;
    for (const record of records) {
      const post = formatRecord(record, environment);
      try {
        const response = await deps.fetch(await webhook(), {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          signal: AbortSignal.timeout(10_000),
          body: JSON.stringify(post),
        });
        if (!response.ok) throw new Error(`the webhook answered HTTP ${response.status}`);
        posted++;
      } catch (err) {
        log("error", "could not post a notification; Lambda will retry, then keep it in the dead-letter queue", { error: errorText(err), subject: record.Sns.Subject ?? undefined });
        throw err;
      }
    }
    log("info", "posted", { posted });
    return { posted };
  };
}

let live: ReturnType<typeof makeHandler> | undefined;
export async function handler(event: { Records?: SnsRecord[] }): Promise<{ posted: number }> {
  live ??= makeHandler({ secrets: new SecretsManagerClient({ region: process.env.AWS_REGION || "us-east-1" }), fetch, env: process.env });
  return live(event);
}
