/**
 * A minimal OpenSearch REST client whose every request is signed with SigV4 for service `es`
 * (what Amazon OpenSearch Service's IAM access policy and fine-grained access control check),
 * with @smithy/signature-v4 and @aws-crypto/sha256-js like the DNS-registration Lambda's token.
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";
import { SignatureV4 } from "@smithy/signature-v4";

export interface OpenSearchResponse {
  status: number;
  /** The parsed JSON body, or undefined when the body is empty or not JSON. */
  body: any;
  text: string;
}

/** One HTTP call to the domain; `path` starts with `/` and may carry a query. */
export type OpenSearchCall = (method: "GET" | "PUT" | "POST" | "DELETE", path: string, body?: unknown) => Promise<OpenSearchResponse>;

export interface SignedClientOptions {
  endpoint: URL;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  fetchImpl?: typeof fetch;
  /** Per-request timeout; default 60 s. */
  timeoutMs?: number;
}

/** An answer other than 2xx, with OpenSearch's error type and reason when it gave them. */
export class OpenSearchError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly type: string | undefined,
    readonly reason: string | undefined,
  ) {
    super(`${method} ${path} answered HTTP ${status}${type ? ` ${type}` : ""}${reason ? `: ${reason}` : ""}${hint(status, type)}`);
    this.name = "OpenSearchError";
  }
}

function hint(status: number, type: string | undefined): string {
  if (status === 403 || type === "security_exception") {
    return " (is the job's IAM role mapped to the domain's manage_snapshots role, and may it pass the snapshot role? README \"Log snapshots\")";
  }
  return "";
}

/** Raises {@link OpenSearchError} for a non-2xx answer. */
export function errorOf(method: string, path: string, response: OpenSearchResponse): OpenSearchError {
  const error = response.body?.error;
  const type = typeof error === "object" && error ? String(error.type ?? "") || undefined : undefined;
  const reason =
    typeof error === "object" && error ? String(error.reason ?? "") || undefined : typeof error === "string" ? error : response.body?.message ?? (response.text.slice(0, 200) || undefined);
  return new OpenSearchError(method, path, response.status, type, reason);
}

export function signedClient(options: SignedClientOptions): OpenSearchCall & { calls: () => number } {
  const signer = new SignatureV4({ credentials: options.credentials, region: options.region, service: "es", sha256: Sha256 });
  const fetchImpl = options.fetchImpl ?? fetch;
  let calls = 0;
  const call: OpenSearchCall = async (method, path, body) => {
    const url = new URL(path, options.endpoint);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const headers: Record<string, string> = { host: url.host, accept: "application/json" };
    if (payload !== undefined) headers["content-type"] = "application/json";
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers,
      body: payload,
    });
    // fetch sets Host itself (to url.host, which is what was signed).
    const sent = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k.toLowerCase() !== "host"));
    calls++;
    const response = await fetchImpl(url, { method, headers: sent, body: payload, signal: AbortSignal.timeout(options.timeoutMs ?? 60_000) });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed, text };
  };
  return Object.assign(call, { calls: () => calls });
}
