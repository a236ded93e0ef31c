/**
 * A local stand-in for the Kubernetes API server (there is none on these machines): real HTTP on
 * 127.0.0.1, the paths and semantics @kubernetes/client-node uses for ConfigMaps and
 * Deployments, including resourceVersion checks (409 on a stale write). Every request is logged
 * so tests can count calls and see the bearer token that was sent.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { writeFileSync } from "node:fs";

export interface KubeRequest {
  method: string;
  path: string;
  authorization?: string;
  body?: any;
}

type Obj = { metadata: { name: string; namespace: string; resourceVersion?: string; [k: string]: unknown }; [k: string]: unknown };

export class KubeApiStandIn {
  readonly requests: KubeRequest[] = [];
  private readonly objects = new Map<string, Obj>();
  private server?: Server;
  private version = 100;
  /** The next N replace calls find that someone else wrote first (their resourceVersion moves on). */
  conflictsToInject = 0;
  /** The next N requests fail with this status. */
  failures: { status: number; count: number } = { status: 500, count: 0 };
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res.writeHead.bind(res), res.end.bind(res)));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
    return this;
  }

  stop(): Promise<void> {
    this.server?.closeAllConnections(); // idle keep-alive sockets would hold the test worker open
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** A kubeconfig file for DEVELOPER_MODE runs (plain http needs insecure-skip-tls-verify). */
  writeKubeconfig(file: string, token = "developer-token"): string {
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: standin",
        "  cluster:",
        `    server: ${this.url}`,
        "    insecure-skip-tls-verify: true",
        "users:",
        "- name: dev",
        "  user:",
        `    token: ${token}`,
        "contexts:",
        "- name: dev",
        "  context: { cluster: standin, user: dev }",
        "current-context: dev",
        "",
      ].join("\n"),
    );
    return file;
  }

  put(kind: "configmaps" | "deployments", obj: Obj): Obj {
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.version);
    this.objects.set(`${kind}/${obj.metadata.namespace}/${obj.metadata.name}`, stored);
    return structuredClone(stored);
  }

  get(kind: "configmaps" | "deployments", namespace: string, name: string): Obj | undefined {
    const o = this.objects.get(`${kind}/${namespace}/${name}`);
    return o && structuredClone(o);
  }

  writes(): KubeRequest[] {
    return this.requests.filter((r) => r.method !== "GET");
  }

  reset(): void {
    this.requests.length = 0;
    this.objects.clear();
    this.conflictsToInject = 0;
    this.failures = { status: 500, count: 0 };
  }

  private async handle(req: IncomingMessage, writeHead: (s: number, h: Record<string, string>) => void, end: (b: string) => void): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const body = raw ? JSON.parse(raw) : undefined;
    const path = (req.url ?? "").split("?")[0];
    this.requests.push({ method: req.method!, path, authorization: req.headers.authorization, body });
    const send = (status: number, obj: unknown) => {
      writeHead(status, { "content-type": "application/json" });
      end(JSON.stringify(obj));
    };
    const status = (code: number, reason: string, message: string) => send(code, { kind: "Status", apiVersion: "v1", status: "Failure", reason, message, code });

    if (this.failures.count > 0) {
      this.failures.count--;
      return status(this.failures.status, "InternalError", "injected failure");
    }
    const m = /^\/(?:api\/v1|apis\/apps\/v1)\/namespaces\/([^/]+)\/(configmaps|deployments)(?:\/([^/]+))?$/.exec(path);
    if (!m) return status(404, "NotFound", `no route for ${path}`);
    const [, namespace, kind, name] = m as unknown as [string, string, "configmaps" | "deployments", string | undefined];
    const key = `${kind}/${namespace}/${name ?? body?.metadata?.name}`;
    const existing = this.objects.get(key);

    if (req.method === "GET" && name) {
      return existing ? send(200, existing) : status(404, "NotFound", `${kind} "${name}" not found`);
    }
    if (req.method === "POST" && !name) {
      if (existing) return status(409, "AlreadyExists", `${kind} "${body.metadata.name}" already exists`);
      return send(201, this.put(kind, { ...body, metadata: { ...body.metadata, namespace } }));
    }
    if (req.method === "PUT" && name) {
      if (!existing) return status(404, "NotFound", `${kind} "${name}" not found`);
      if (this.conflictsToInject > 0) {
        this.conflictsToInject--;
        // Someone else changed it: add a key of theirs and move the version on.
        const theirs = structuredClone(existing);
        if (kind === "configmaps") (theirs as any).data = { ...((theirs as any).data ?? {}), "written-by-someone-else": String(this.version) };
        this.put(kind, theirs);
        return status(409, "Conflict", "the object has been modified; please apply your changes to the latest version and try again");
      }
      if (body?.metadata?.resourceVersion !== existing.metadata.resourceVersion) {
        return status(409, "Conflict", "the object has been modified; please apply your changes to the latest version and try again");
      }
      return send(200, this.put(kind, { ...body, metadata: { ...body.metadata, namespace, name } }));
    }
    return status(405, "MethodNotAllowed", `${req.method} ${path}`);
  }
}

/** A local Mattermost incoming-webhook receiver that answers with `status`. */
export class WebhookReceiver {
  readonly posts: any[] = [];
  status = 200;
  private server?: Server;
  url = "";
  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      this.posts.push(JSON.parse(Buffer.concat(chunks).toString() || "null"));
      res.writeHead(this.status);
      res.end(this.status < 300 ? "ok" : "nope");
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}/hooks/test`;
    return this;
  }
  stop(): Promise<void> {
    this.server?.closeAllConnections(); // idle keep-alive sockets would hold the test worker open
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
