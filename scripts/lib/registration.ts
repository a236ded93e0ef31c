/**
 * Registers the workload clusters this repository builds with the provisioner (mattermost-cloud
 * v0.90.0 "external" clusters): for each one, a kubeconfig that authenticates with
 * `aws eks get-token` (so, run by the provisioner, it is the provisioner's IRSA role, which every
 * workload cluster's access entries make admin) is stored in Secrets Manager, then the cluster is
 * imported with `POST /api/clusters/import` unless the provisioner already knows that secret.
 *
 * Idempotent: an unchanged kubeconfig is not written again, and a cluster already registered is
 * skipped. Nothing is lost on failure: the secret is stored before the import is asked for, and
 * running again finishes the work. Clients come in as parameters (tests: moto and a local stand-in
 * of the provisioner API).
 */
import { DescribeClusterCommand, type EKSClient } from "@aws-sdk/client-eks";
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { dump } from "js-yaml";
import { ToolError } from "./terraform";

export interface WorkloadCluster {
  /** Workload name in the environment (`alpha`). */
  workload: string;
  /** EKS cluster name (`prod-alpha`). */
  clusterName: string;
  region: string;
  /** Secrets Manager secret the kubeconfig is stored in (config/names.ts workloadKubeconfigSecretName). */
  secretName: string;
}

/** What the provisioner's import takes (model/cluster_request.go ImportClusterRequest). */
export interface ImportClusterRequest {
  "external-cluster-secret-name": string;
  "vpc-id"?: string;
  annotations?: string[];
  "allow-installations": boolean;
  "api-security-lock": boolean;
}

/** The fields of a ClusterDTO this step reads. */
export interface ClusterSummary {
  ID: string;
  State?: string;
  DeleteAt?: number;
  ProvisionerMetadataExternal?: { SecretName?: string } | null;
}

/** The fields of a ClusterInstallation (model/cluster_installation.go) decommissioning reads. */
export interface ClusterInstallationSummary {
  ID: string;
  ClusterID: string;
  InstallationID: string;
  State?: string;
  DeleteAt?: number;
  IsActive?: boolean;
}

export interface ProvisionerApi {
  listClusters(): Promise<ClusterSummary[]>;
  importCluster(request: ImportClusterRequest): Promise<ClusterSummary>;
}

/** What `make decommission` needs besides registration (internal/api/cluster.go, cluster_installation.go). */
export interface ProvisionerAdminApi extends ProvisionerApi {
  /** GET /api/cluster/{id}; undefined when the provisioner answers 404. */
  getCluster(id: string): Promise<ClusterSummary | undefined>;
  /** GET /api/cluster_installations?cluster={id}: the cluster's installations that are not deleted. */
  listClusterInstallations(clusterId: string): Promise<ClusterInstallationSummary[]>;
  /** DELETE /api/cluster/{id}: 202, or 403 while installations remain. */
  deleteCluster(id: string): Promise<void>;
}

/** A kubeconfig for one EKS cluster that authenticates by exec (`aws eks get-token`), no stored token. */
export function kubeconfigFor(c: { name: string; endpoint: string; certificateAuthority: string; region: string }): string {
  return dump(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: c.name, cluster: { server: c.endpoint, "certificate-authority-data": c.certificateAuthority } }],
      users: [
        {
          name: c.name,
          user: {
            exec: {
              apiVersion: "client.authentication.k8s.io/v1beta1",
              command: "aws",
              args: ["eks", "get-token", "--cluster-name", c.name, "--region", c.region, "--output", "json"],
              interactiveMode: "Never",
            },
          },
        },
      ],
      contexts: [{ name: c.name, context: { cluster: c.name, user: c.name } }],
      "current-context": c.name,
    },
    { lineWidth: -1, noRefs: true },
  );
}

/** The provisioner's REST API over HTTP(S), with a bearer token when it verifies JWTs. */
export class HttpProvisionerApi implements ProvisionerAdminApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token?: () => Promise<string>,
  ) {}

  private async call(method: string, path: string, body?: unknown, opts: { allowNotFound?: boolean; forbidden?: string } = {}): Promise<unknown> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.token) headers.Authorization = `Bearer ${await this.token()}`;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new ToolError(`The provisioner API at ${this.baseUrl} did not answer ${method} ${path} (${(err as Error).message}); run this from the deploy runner or the VPN (README "Where deploys run"), with the post-install layer applied.`);
    }
    const text = await res.text();
    if (res.status === 403 && opts.forbidden) throw new ToolError(opts.forbidden);
    if (res.status === 401 || res.status === 403) {
      throw new ToolError(`The provisioner API refused ${method} ${path} with ${res.status}: the token was not accepted. Check provisioner.apiAuth (audience, issuer) and the client in its secret.`);
    }
    if (res.status === 404 && opts.allowNotFound) return undefined;
    if (!res.ok) throw new ToolError(`The provisioner API answered ${res.status} to ${method} ${path}${text ? `: ${text.slice(0, 300)}` : ""}; see the provisioner's log (kubectl -n provisioner logs deploy/provisioner-server), then run the same make command again.`);
    return text ? JSON.parse(text) : undefined;
  }

  async listClusters(): Promise<ClusterSummary[]> {
    const all: ClusterSummary[] = [];
    for (let page = 0; ; page++) {
      const batch = ((await this.call("GET", `/api/clusters?page=${page}&per_page=100`)) ?? []) as ClusterSummary[];
      all.push(...batch);
      if (batch.length < 100) return all;
    }
  }

  async importCluster(request: ImportClusterRequest): Promise<ClusterSummary> {
    return (await this.call("POST", "/api/clusters/import", request)) as ClusterSummary;
  }

  async getCluster(id: string): Promise<ClusterSummary | undefined> {
    return (await this.call("GET", `/api/cluster/${encodeURIComponent(id)}`, undefined, { allowNotFound: true })) as ClusterSummary | undefined;
  }

  async listClusterInstallations(clusterId: string): Promise<ClusterInstallationSummary[]> {
    const all: ClusterInstallationSummary[] = [];
    for (let page = 0; ; page++) {
      const batch = ((await this.call("GET", `/api/cluster_installations?cluster=${encodeURIComponent(clusterId)}&page=${page}&per_page=100`)) ?? []) as ClusterInstallationSummary[];
      all.push(...batch);
      if (batch.length < 100) return all.filter((ci) => !ci.DeleteAt);
    }
  }

  async deleteCluster(id: string): Promise<void> {
    await this.call("DELETE", `/api/cluster/${encodeURIComponent(id)}`, undefined, {
      forbidden: `The provisioner refused to delete cluster ${id} (403): it still has installations (or its token lacks the right); list them with cloud cluster installation list --cluster ${id}.`,
    });
  }
}

/** An OAuth2 client-credentials token (the provisioner verifies its issuer and audience). */
export async function clientCredentialsToken(tokenEndpoint: string, client: { clientId: string; clientSecret: string }, scope: string): Promise<string> {
  const body = new URLSearchParams({ grant_type: "client_credentials", client_id: client.clientId, client_secret: client.clientSecret, scope });
  let res: Response;
  try {
    res = await fetch(tokenEndpoint, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new ToolError(`The identity provider's token endpoint ${tokenEndpoint} did not answer (${(err as Error).message}); check auth.oidc.tokenEndpoint.`);
  }
  const json = (await res.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
  if (!res.ok || !json.access_token) {
    throw new ToolError(`The identity provider refused the provisioner API client (${res.status} ${json.error ?? ""} ${json.error_description ?? ""}); check the client in provisioner.apiAuth.clientSecretName and its scope.`);
  }
  return json.access_token;
}

export interface RegistrationResult {
  workload: string;
  secret: "created" | "updated" | "unchanged" | "would write";
  cluster: { action: "imported" | "already registered" | "would import"; id?: string; request?: ImportClusterRequest };
}

/** Stores each cluster's kubeconfig and imports the clusters the provisioner does not know yet. */
export async function registerWorkloads(opts: {
  eks: EKSClient;
  secrets: SecretsManagerClient;
  /** Undefined in a dry run without a reachable provisioner. */
  api?: ProvisionerApi;
  clusters: WorkloadCluster[];
  dryRun: boolean;
  environment: string;
  log: (line: string) => void;
}): Promise<RegistrationResult[]> {
  const known = opts.api ? await opts.api.listClusters() : [];
  const results: RegistrationResult[] = [];
  for (const c of opts.clusters) {
    const described = await opts.eks.send(new DescribeClusterCommand({ name: c.clusterName })).catch((err: Error) => {
      throw new ToolError(`Workload cluster ${c.clusterName} could not be described (${err.name}: ${err.message}); apply ${opts.environment}-workload-${c.workload} first.`);
    });
    const cluster = described.cluster;
    if (!cluster?.endpoint || !cluster.certificateAuthority?.data) {
      throw new ToolError(`Workload cluster ${c.clusterName} has no API endpoint yet (status ${cluster?.status}); wait until it is ACTIVE and run make register-workloads again.`);
    }
    const kubeconfig = kubeconfigFor({ name: c.clusterName, endpoint: cluster.endpoint, certificateAuthority: cluster.certificateAuthority.data, region: c.region });

    let secret: RegistrationResult["secret"];
    const current = await opts.secrets.send(new GetSecretValueCommand({ SecretId: c.secretName })).then(
      (v) => v.SecretString,
      (err: Error) => {
        if (err.name === "ResourceNotFoundException") return undefined;
        throw new ToolError(`Could not read secret ${c.secretName} (${err.name}: ${err.message}); check secretsmanager:GetSecretValue for the deploy role.`);
      },
    );
    if (current === kubeconfig) secret = "unchanged";
    else if (opts.dryRun) secret = "would write";
    else if (current === undefined) {
      await opts.secrets.send(new CreateSecretCommand({ Name: c.secretName, SecretString: kubeconfig, Description: `kubeconfig of workload cluster ${c.clusterName} for the provisioner (exec: aws eks get-token)` }));
      secret = "created";
    } else {
      await opts.secrets.send(new PutSecretValueCommand({ SecretId: c.secretName, SecretString: kubeconfig }));
      secret = "updated";
    }

    // No vpc-id: with one, v0.90.0 claims the VPC for its own AWS backends (ClaimVPC), which needs
    // the tags of its VPC pool (Available, CloudClusterID, SubnetType, NodeType) that these
    // clusters do not carry, and the import ends in creation-failed.
    const request: ImportClusterRequest = {
      "external-cluster-secret-name": c.secretName,
      annotations: [`workload-${c.workload}`, `environment-${opts.environment}`],
      "allow-installations": true,
      "api-security-lock": false,
    };
    const existing = known.find((k) => k.ProvisionerMetadataExternal?.SecretName === c.secretName && !k.DeleteAt);
    if (existing?.State === "creation-failed") {
      throw new ToolError(
        `Workload cluster ${c.clusterName} is registered as ${existing.ID} but its import failed (state creation-failed); see the provisioner's log, ` +
          `delete it (cloud cluster delete --cluster ${existing.ID}) and run make register-workloads again.`,
      );
    }
    let result: RegistrationResult;
    if (existing) result = { workload: c.workload, secret, cluster: { action: "already registered", id: existing.ID } };
    else if (opts.dryRun || !opts.api) result = { workload: c.workload, secret, cluster: { action: "would import", request } };
    else {
      const created = await opts.api.importCluster(request);
      result = { workload: c.workload, secret, cluster: { action: "imported", id: created.ID } };
    }
    opts.log(
      `${c.clusterName}: kubeconfig secret ${c.secretName} ${secret}; ` +
        (result.cluster.action === "would import" ? `would import with ${JSON.stringify(request)}` : `${result.cluster.action}${result.cluster.id ? ` as ${result.cluster.id}` : ""}`),
    );
    results.push(result);
  }
  return results;
}
