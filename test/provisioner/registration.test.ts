/**
 * Registration of workload clusters with the provisioner: against moto (EKS, Secrets Manager)
 * through the real SDK, and a local HTTP stand-in of the provisioner's documented API
 * (GET /api/clusters with paging, POST /api/clusters/import, bearer JWT) plus a token endpoint.
 */
import { CreateClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { load } from "js-yaml";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { HttpProvisionerApi, clientCredentialsToken, registerWorkloads, type ImportClusterRequest } from "../../scripts/lib/registration";
import { clientOptions, startMoto, type Moto } from "../support/moto";

/** The provisioner's cluster API as v0.90.0 serves it (internal/api/cluster.go), in memory. */
class ProvisionerStandIn {
  clusters: any[] = [];
  requests: { method: string; path: string; auth?: string; body?: any }[] = [];
  failImport = 0;
  private server?: Server;
  url = "";
  static TOKEN = "token-for-provisioner-api";

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const body = await read(req);
      const url = new URL(req.url!, "http://x");
      this.requests.push({ method: req.method!, path: url.pathname + url.search, auth: req.headers.authorization, body: body ? safeJson(body) : undefined });
      if (url.pathname === "/oauth2/token") {
        const form = new URLSearchParams(body);
        if (form.get("grant_type") !== "client_credentials" || form.get("client_secret") !== "s3cret") return send(res, 401, { error: "invalid_client" });
        return send(res, 200, { access_token: ProvisionerStandIn.TOKEN, token_type: "Bearer", scope: form.get("scope") });
      }
      if (!url.pathname.startsWith("/api/")) return send(res, 404, "");
      if (req.headers.authorization !== `Bearer ${ProvisionerStandIn.TOKEN}`) return send(res, 401, "Invalid token");
      if (req.method === "GET" && url.pathname === "/api/clusters") {
        const page = Number(url.searchParams.get("page") ?? 0);
        const perPage = Number(url.searchParams.get("per_page") ?? 100);
        return send(res, 200, this.clusters.slice(page * perPage, (page + 1) * perPage));
      }
      if (req.method === "POST" && url.pathname === "/api/clusters/import") {
        const r = safeJson(body) as ImportClusterRequest;
        if (!r?.["external-cluster-secret-name"]) return send(res, 400, "");
        if (this.failImport-- > 0) return send(res, 500, "");
        const dto = { ID: `c${this.clusters.length + 1}`, State: "creation-requested", Provisioner: "external", DeleteAt: 0, ProvisionerMetadataExternal: { SecretName: r["external-cluster-secret-name"], VPC: r["vpc-id"] ?? "" }, AllowInstallations: r["allow-installations"], Annotations: r.annotations };
        this.clusters.push(dto);
        return send(res, 202, dto);
      }
      send(res, 404, "");
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
    return this;
  }
  stop() {
    this.server?.closeAllConnections(); // idle keep-alive sockets would hold the test worker open
    return new Promise<void>((r) => this.server?.close(() => r()));
  }
  imports() {
    return this.requests.filter((r) => r.method === "POST" && r.path === "/api/clusters/import");
  }
}
const read = (req: IncomingMessage) => new Promise<string>((r) => {
  let b = "";
  req.on("data", (d) => (b += d));
  req.on("end", () => r(b));
});
const safeJson = (t: string) => {
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
};
const send = (res: any, status: number, body: unknown) => {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
};

describe("registering workload clusters with the provisioner", () => {
  let moto: Moto;
  let stand: ProvisionerStandIn;
  let eks: EKSClient;
  let sm: SecretsManagerClient;
  const clusters = [
    { workload: "alpha", clusterName: "t-alpha", region: "us-east-1", secretName: "t/provisioner/clusters/alpha/kubeconfig" },
    { workload: "beta", clusterName: "t-beta", region: "us-east-1", secretName: "t/provisioner/clusters/beta/kubeconfig" },
  ];
  const lines: string[] = [];
  const api = () =>
    new HttpProvisionerApi(stand.url, () => clientCredentialsToken(`${stand.url}/oauth2/token`, { clientId: "registrar", clientSecret: "s3cret" }, "api://t-provisioner/.default"));
  const run = (opts: { dryRun?: boolean; withApi?: boolean } = {}) =>
    registerWorkloads({ eks, secrets: sm, api: opts.withApi === false ? undefined : api(), clusters, dryRun: !!opts.dryRun, environment: "t", log: (l) => lines.push(l) });

  beforeAll(async () => {
    [moto, stand] = await Promise.all([startMoto(), new ProvisionerStandIn().start()]);
    eks = new EKSClient(clientOptions(moto));
    sm = new SecretsManagerClient(clientOptions(moto));
    for (const c of clusters) {
      await eks.send(new CreateClusterCommand({ name: c.clusterName, roleArn: "arn:aws:iam::123456789012:role/eks", resourcesVpcConfig: { subnetIds: ["subnet-1", "subnet-2"] } }));
    }
  });
  afterAll(async () => {
    await Promise.all([moto?.stop(), stand?.stop()]);
  });

  it("in a dry run writes nothing and imports nothing, and says what it would send", async () => {
    const results = await run({ dryRun: true, withApi: false });
    expect(results.map((r) => [r.secret, r.cluster.action])).toEqual([["would write", "would import"], ["would write", "would import"]]);
    expect(results[0].cluster.request).toMatchObject({ "external-cluster-secret-name": "t/provisioner/clusters/alpha/kubeconfig", "allow-installations": true, annotations: ["workload-alpha", "environment-t"] });
    await expect(sm.send(new GetSecretValueCommand({ SecretId: clusters[0].secretName }))).rejects.toMatchObject({ name: "ResourceNotFoundException" });
    expect(stand.requests).toEqual([]);
    expect(lines.at(-1)).toMatch(/^t-beta: kubeconfig secret t\/provisioner\/clusters\/beta\/kubeconfig would write; would import with \{"external-cluster-secret-name"/);
  });

  it("stores an exec kubeconfig per cluster and imports each with a bearer token", async () => {
    const results = await run();
    expect(results.map((r) => [r.secret, r.cluster.action, r.cluster.id])).toEqual([["created", "imported", "c1"], ["created", "imported", "c2"]]);
    const imports = stand.imports();
    expect(imports).toHaveLength(2);
    expect(imports[0].auth).toBe(`Bearer ${ProvisionerStandIn.TOKEN}`);
    // No vpc-id: v0.90.0 would claim the VPC for its AWS backends and fail on this platform's VPCs.
    expect(imports[0].body).toEqual({
      "external-cluster-secret-name": "t/provisioner/clusters/alpha/kubeconfig",
      annotations: ["workload-alpha", "environment-t"],
      "allow-installations": true,
      "api-security-lock": false,
    });
    // The kubeconfig: the cluster's endpoint and CA, and exec auth as whoever runs it (the provisioner's IRSA role).
    const stored = (await sm.send(new GetSecretValueCommand({ SecretId: clusters[0].secretName }))).SecretString!;
    const kc = load(stored) as any;
    expect(kc.clusters[0].cluster.server).toMatch(/^https:\/\//);
    expect(kc.clusters[0].cluster["certificate-authority-data"]).toEqual(expect.any(String));
    expect(kc.users[0].user.exec).toEqual({
      apiVersion: "client.authentication.k8s.io/v1beta1",
      command: "aws",
      args: ["eks", "get-token", "--cluster-name", "t-alpha", "--region", "us-east-1", "--output", "json"],
      interactiveMode: "Never",
    });
    expect(kc["current-context"]).toBe("t-alpha");
    expect(stored).not.toMatch(/token:/);
  });

  it("is idempotent: a second run writes nothing and imports nothing", async () => {
    const before = stand.imports().length;
    const results = await run();
    expect(results.map((r) => [r.secret, r.cluster.action, r.cluster.id])).toEqual([["unchanged", "already registered", "c1"], ["unchanged", "already registered", "c2"]]);
    expect(stand.imports()).toHaveLength(before);
  });

  it("imports again a cluster the provisioner deleted", async () => {
    stand.clusters[0].DeleteAt = Date.now();
    const results = await run();
    expect(results[0].cluster).toMatchObject({ action: "imported", id: "c3" });
    expect(results[1].cluster.action).toBe("already registered");
  });

  it("fails with what to do when the API errors, keeping the stored kubeconfig", async () => {
    stand.clusters = [];
    stand.failImport = 1;
    await expect(run()).rejects.toThrow(/The provisioner API answered 500 to POST \/api\/clusters\/import; see the provisioner's log .* then run the same make command again/);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: clusters[0].secretName }))).SecretString).toMatch(/t-alpha/);
    // The next run finishes the job.
    const results = await run();
    expect(results.map((r) => r.cluster.action)).toEqual(["imported", "imported"]);
  });

  it("fails clearly on a refused token and on an unreachable API", async () => {
    const bad = new HttpProvisionerApi(stand.url, async () => "forged");
    await expect(registerWorkloads({ eks, secrets: sm, api: bad, clusters, dryRun: false, environment: "t", log: () => {} })).rejects.toThrow(/refused GET \/api\/clusters\?page=0&per_page=100 with 401: the token was not accepted/);
    await expect(clientCredentialsToken(`${stand.url}/oauth2/token`, { clientId: "x", clientSecret: "wrong" }, "s")).rejects.toThrow(/refused the provisioner API client \(401 invalid_client/);
    const gone = new HttpProvisionerApi("http://127.0.0.1:1");
    await expect(gone.listClusters()).rejects.toThrow(/did not answer GET \/api\/clusters.*run this from the deploy runner or the VPN/);
  });

  it("stops on a cluster whose import failed, saying how to retry, instead of calling it registered", async () => {
    stand.clusters[1].State = "creation-failed";
    await expect(run()).rejects.toThrow(/t-beta is registered as c\d+ but its import failed \(state creation-failed\); .*cloud cluster delete --cluster c\d+/);
    stand.clusters[1].State = "stable";
  });

  it("refuses a cluster that does not exist yet, naming the stack to apply", async () => {
    await expect(
      registerWorkloads({ eks, secrets: sm, clusters: [{ workload: "gamma", clusterName: "t-gamma", region: "us-east-1", secretName: "x" }], dryRun: true, environment: "t", log: () => {} }),
    ).rejects.toThrow(/Workload cluster t-gamma could not be described .* apply t-workload-gamma first/);
  });
});
