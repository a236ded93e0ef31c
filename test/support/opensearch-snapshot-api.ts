/**
 * A local HTTP stand-in of the OpenSearch snapshot API (`_snapshot`) on 127.0.0.1, for the
 * snapshot CronJob's tests (no OpenSearch can run here). It checks every request's SigV4
 * Authorization header the way Amazon OpenSearch Service does: its shape (algorithm, credential
 * scope for service `es` and the region, signed headers, signature), and, for access keys it
 * knows the secret of, the signature itself, recomputed from what arrived on the wire. A request
 * that fails either check gets 403, like the real service.
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";

export interface StoredSnapshot {
  snapshot: string;
  state: string;
  start_time_in_millis: number;
  indices: string[];
  /** GETs of this snapshot still to answer IN_PROGRESS before it takes its final state. */
  pollsLeft?: number;
  finalState?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  headers: Record<string, string | string[] | undefined>;
  body?: any;
  /** undefined: the key's secret is unknown, only the header's shape was checked. */
  signatureValid?: boolean;
}

export const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]{4,128})\/(\d{8})\/([a-z0-9-]+)\/es\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

export class SnapshotApiStandIn {
  url = "";
  readonly requests: RecordedRequest[] = [];
  readonly repositories = new Map<string, { type: string; settings: Record<string, string> }>();
  readonly snapshots = new Map<string, StoredSnapshot[]>();
  /** Secrets of the access keys whose signatures are recomputed. */
  readonly secrets = new Map<string, string>();
  region = "us-east-1";
  /** How a new snapshot ends, and after how many GETs of it. */
  finalState = "SUCCESS";
  pollsUntilDone = 1;
  /** The next N snapshot creations (or deletions) answer 503 concurrent_snapshot_execution_exception. */
  busy = 0;
  /** Canned failures, used once each, for the first request they match. */
  failures: { method: string; path: RegExp; status: number; body?: unknown }[] = [];
  /** Replaces the answer of `GET _snapshot/<repo>/_all` (once each, in order). */
  listingOverrides: unknown[] = [];
  clock: () => number = () => Date.now();
  private server?: Server;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req).then(
        ({ status, body }) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(body === undefined ? "" : JSON.stringify(body));
        },
        (err) => {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { type: "stand_in_error", reason: String(err) }, status: 500 }));
        },
      );
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
    return this;
  }

  stop(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  reset(): void {
    this.requests.length = 0;
    this.repositories.clear();
    this.snapshots.clear();
    this.finalState = "SUCCESS";
    this.pollsUntilDone = 1;
    this.busy = 0;
    this.failures = [];
    this.listingOverrides = [];
    this.clock = () => Date.now();
  }

  /** Registers a repository as OpenSearch stores it (every setting a string). */
  seedRepository(name: string, type: string, settings: Record<string, unknown>): void {
    this.repositories.set(name, { type, settings: Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)])) });
  }

  seedSnapshot(repo: string, snapshot: string, startMillis: number, state = "SUCCESS"): void {
    this.list(repo).push({ snapshot, state, start_time_in_millis: startMillis, indices: ["logs-x"] });
  }

  names(repo: string): string[] {
    return this.list(repo).map((s) => s.snapshot).sort();
  }

  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== "GET");
  }

  private list(repo: string): StoredSnapshot[] {
    if (!this.snapshots.has(repo)) this.snapshots.set(repo, []);
    return this.snapshots.get(repo)!;
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body?: unknown }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const url = new URL(req.url ?? "/", "http://stand-in");
    const record: RecordedRequest = { method: req.method ?? "", path: url.pathname, authorization: req.headers.authorization, headers: req.headers, body: raw ? JSON.parse(raw) : undefined };
    this.requests.push(record);

    const denied = await this.checkSignature(req, url, raw, record);
    if (denied) return { status: 403, body: { message: denied } };

    const failure = this.failures.findIndex((f) => f.method === record.method && f.path.test(url.pathname));
    if (failure >= 0) {
      const [f] = this.failures.splice(failure, 1);
      return { status: f.status, body: f.body ?? { error: { type: "stand_in_failure", reason: "injected" }, status: f.status } };
    }

    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== "_snapshot" || parts.length < 2 || parts.length > 3) return { status: 404, body: { error: { type: "no_handler", reason: url.pathname } } };
    const [, repo, snap] = parts;
    const missingRepo = { status: 404, body: { error: { type: "repository_missing_exception", reason: `[${repo}] missing` }, status: 404 } };

    if (!snap) {
      if (record.method === "GET") {
        const r = this.repositories.get(repo);
        return r ? { status: 200, body: { [repo]: r } } : missingRepo;
      }
      if (record.method === "PUT" || record.method === "POST") {
        const body = record.body;
        if (body?.type !== "s3" || !body.settings?.bucket || !body.settings?.role_arn || !body.settings?.region) {
          return { status: 400, body: { error: { type: "repository_exception", reason: "[s3] bucket, region and role_arn are required" }, status: 400 } };
        }
        this.seedRepository(repo, body.type, body.settings);
        return { status: 200, body: { acknowledged: true } };
      }
      return { status: 405 };
    }
    if (!this.repositories.has(repo)) return missingRepo;
    const list = this.list(repo);
    if (snap === "_all" && record.method === "GET") {
      if (this.listingOverrides.length) return { status: 200, body: this.listingOverrides.shift() };
      return { status: 200, body: { snapshots: list.map(publicView) } };
    }
    const found = list.find((s) => s.snapshot === snap);
    const missing = { status: 404, body: { error: { type: "snapshot_missing_exception", reason: `[${repo}:${snap}] is missing` }, status: 404 } };
    const busy = () => {
      if (this.busy <= 0) return undefined;
      this.busy--;
      return { status: 503, body: { error: { type: "concurrent_snapshot_execution_exception", reason: `[${repo}:${snap}] a snapshot is already running` }, status: 503 } };
    };
    switch (record.method) {
      case "GET":
        if (!found) return missing;
        if (found.state === "IN_PROGRESS") {
          if ((found.pollsLeft ?? 0) <= 0) found.state = found.finalState ?? "SUCCESS";
          else found.pollsLeft!--;
        }
        return { status: 200, body: { snapshots: [publicView(found)] } };
      case "PUT":
      case "POST": {
        const b = busy();
        if (b) return b;
        if (found) return { status: 400, body: { error: { type: "invalid_snapshot_name_exception", reason: `[${repo}:${snap}] Invalid snapshot name [${snap}], snapshot with the same name already exists` }, status: 400 } };
        list.push({ snapshot: snap, state: "IN_PROGRESS", start_time_in_millis: this.clock(), indices: String(record.body?.indices ?? "").split(","), pollsLeft: this.pollsUntilDone - 1, finalState: this.finalState });
        return { status: 200, body: { accepted: true } };
      }
      case "DELETE": {
        const b = busy();
        if (b) return b;
        if (!found) return missing;
        list.splice(list.indexOf(found), 1);
        return { status: 200, body: { acknowledged: true } };
      }
      default:
        return { status: 405 };
    }
  }

  /** A reason to refuse the request, or undefined when its signature holds. */
  private async checkSignature(req: IncomingMessage, url: URL, raw: string, record: RecordedRequest): Promise<string | undefined> {
    const m = AUTHORIZATION.exec(req.headers.authorization ?? "");
    if (!m) return `Authorization header missing or malformed: ${JSON.stringify(req.headers.authorization ?? null)}`;
    const [, accessKeyId, date, region, signedHeaders, signature] = m;
    const amzDate = String(req.headers["x-amz-date"] ?? "");
    if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) return "x-amz-date is missing or does not match the credential scope";
    if (region !== this.region) return `credential scope is for ${region}, the domain is in ${this.region}`;
    const signed = signedHeaders.split(";");
    if (!signed.includes("host") || !signed.includes("x-amz-date")) return "host and x-amz-date must be signed";
    if (req.headers["x-amz-security-token"] && !signed.includes("x-amz-security-token")) return "the session token must be signed";
    const contentHash = req.headers["x-amz-content-sha256"];
    if (contentHash !== undefined && contentHash !== createHash("sha256").update(raw).digest("hex")) return "x-amz-content-sha256 does not match the body";
    const secret = this.secrets.get(accessKeyId);
    if (!secret) return undefined; // shape checked only
    const headers: Record<string, string> = {};
    for (const h of signed) headers[h] = String(req.headers[h] ?? "");
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const signer = new SignatureV4({
      credentials: { accessKeyId, secretAccessKey: secret, sessionToken: req.headers["x-amz-security-token"] as string | undefined },
      region,
      service: "es",
      sha256: Sha256,
    });
    const when = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    const again = await signer.sign(
      { method: req.method ?? "GET", protocol: "http:", hostname: url.hostname, path: url.pathname, query, headers, body: raw || undefined },
      { signingDate: when },
    );
    record.signatureValid = again.headers.authorization?.endsWith(`Signature=${signature}`) ?? false;
    return record.signatureValid ? undefined : "The request signature we calculated does not match the signature you provided.";
  }
}

function publicView(s: StoredSnapshot) {
  return { snapshot: s.snapshot, uuid: `uuid-${s.snapshot}`, state: s.state, indices: s.indices, include_global_state: false, start_time_in_millis: s.start_time_in_millis };
}
