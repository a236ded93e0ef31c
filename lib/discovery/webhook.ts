/** Mattermost incoming-webhook alerts. A non-2xx answer is an error, never ignored. */
export interface Alert {
  /** Who is speaking (shown as the post's user name). */
  username: string;
  /** What failed, in one line. */
  title: string;
  environment: string;
  error: string;
}

export type Notifier = (alert: Alert) => Promise<void>;

export function mattermostNotifier(url: string, fetchImpl: typeof fetch = fetch, timeoutMs = 10_000): Notifier {
  return async (alert) => {
    const response = await fetchImpl(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
      body: JSON.stringify({
        username: alert.username,
        attachments: [
          {
            color: "#FF0000",
            title: alert.title,
            fields: [
              { short: true, title: "Environment", value: alert.environment },
              { short: false, title: "Error", value: alert.error },
            ],
            fallback: `${alert.title} (${alert.environment}): ${alert.error}`,
          },
        ],
      }),
    });
    if (!response.ok) throw new Error(`the alert webhook answered HTTP ${response.status} ${response.statusText}`.trim());
  };
}

/** A webhook secret holds the URL, either as the whole string or as {"url": "..."}. */
export function webhookFromSecret(secretString: string | undefined): string | undefined {
  if (!secretString) return undefined;
  const text = secretString.trim();
  if (text.startsWith("{")) return (JSON.parse(text) as { url?: string }).url;
  return text;
}
