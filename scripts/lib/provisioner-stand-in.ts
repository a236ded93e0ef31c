/**
 * A local stand-in for the provisioner's REST API (mattermost-cloud v0.90.0), for the rehearsal and
 * the tests: no provisioner can run here. It answers the routes this repository calls with the
 * provisioner's own shapes and status codes (internal/api/cluster.go, cluster_installation.go):
 *
 *   GET    /api/clusters?page&per_page        ClusterDTO list
 *   POST   /api/clusters/import               400 without external-cluster-secret-name
 *   GET    /api/cluster/{id}                  404 when unknown
 *   DELETE /api/cluster/{id}                  403 while the cluster has installations, else 202 (then "deleted")
 *   GET    /api/cluster_installations?cluster  the cluster's installations that are not deleted
 *
 * and, to set a scene, POST /stand-in/cluster_installations {ClusterID, InstallationID} and
 * DELETE /stand-in/cluster_installations/{id}. Listens on 127.0.0.1 only.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ClusterInstallationSummary, ClusterSummary } from "./registration";

export interface ProvisionerStandIn {
  url: string;
  clusters: ClusterSummary[];
  clusterInstallations: ClusterInstallationSummary[];
  /** Every request, as "METHOD path". */
  requests: string[];
  close(): Promise<void>;
}

/** A 26-character id like the provisioner's (model.NewID). */
function newId(): string {
  return randomBytes(20).toString("hex").slice(0, 26);
}

function body(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => {
      try {
        resolve(text ? JSON.parse(text) : undefined);
      } catch {
        resolve(undefined);
      }
    });
  });
}

export async function startProvisionerStandIn(port = 0): Promise<ProvisionerStandIn> {
  const state = { clusters: [] as ClusterSummary[], clusterInstallations: [] as ClusterInstallationSummary[], requests: [] as string[] };
  const send = (res: ServerResponse, status: number, value?: unknown) => {
    res.writeHead(status, value === undefined ? {} : { "Content-Type": "application/json" });
    res.end(value === undefined ? undefined : JSON.stringify(value));
  };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const path = url.pathname;
    state.requests.push(`${req.method} ${path}${url.search}`);
    const page = Number(url.searchParams.get("page") ?? 0);
    const perPage = Number(url.searchParams.get("per_page") ?? 100);
    const paged = <T>(items: T[]) => items.slice(page * perPage, (page + 1) * perPage);
    const live = (clusterId: string) => state.clusterInstallations.filter((ci) => ci.ClusterID === clusterId && !ci.DeleteAt);
    const clusterMatch = /^\/api\/cluster\/([A-Za-z0-9]{26})$/.exec(path);

    if (req.method === "GET" && path === "/api/clusters") return send(res, 200, paged(state.clusters));
    if (req.method === "POST" && path === "/api/clusters/import") {
      const request = (await body(req)) as { "external-cluster-secret-name"?: string; annotations?: string[]; "allow-installations"?: boolean } | undefined;
      if (!request?.["external-cluster-secret-name"]) return send(res, 400);
      const cluster: ClusterSummary & Record<string, unknown> = {
        ID: newId(),
        State: "stable",
        Provisioner: "external",
        AllowInstallations: request["allow-installations"] ?? true,
        Annotations: request.annotations ?? [],
        ProvisionerMetadataExternal: { SecretName: request["external-cluster-secret-name"] },
      };
      state.clusters.push(cluster);
      return send(res, 202, cluster);
    }
    if (clusterMatch && req.method === "GET") {
      const cluster = state.clusters.find((c) => c.ID === clusterMatch[1]);
      return cluster ? send(res, 200, cluster) : send(res, 404);
    }
    if (clusterMatch && req.method === "DELETE") {
      const cluster = state.clusters.find((c) => c.ID === clusterMatch[1]);
      if (!cluster) return send(res, 404);
      if (live(cluster.ID).length) return send(res, 403);
      cluster.State = "deleted";
      cluster.DeleteAt = Date.now();
      return send(res, 202);
    }
    if (req.method === "GET" && path === "/api/cluster_installations") {
      const clusterId = url.searchParams.get("cluster") ?? "";
      return send(res, 200, paged(clusterId ? live(clusterId) : state.clusterInstallations.filter((ci) => !ci.DeleteAt)));
    }
    if (req.method === "POST" && path === "/stand-in/cluster_installations") {
      const ci = (await body(req)) as { ClusterID?: string; InstallationID?: string } | undefined;
      if (!ci?.ClusterID || !state.clusters.some((c) => c.ID === ci.ClusterID)) return send(res, 400);
      const created: ClusterInstallationSummary = { ID: newId(), ClusterID: ci.ClusterID, InstallationID: ci.InstallationID ?? newId(), State: "stable", IsActive: true };
      state.clusterInstallations.push(created);
      return send(res, 201, created);
    }
    const ciMatch = /^\/stand-in\/cluster_installations\/(\w+)$/.exec(path);
    if (ciMatch && req.method === "DELETE") {
      const ci = state.clusterInstallations.find((c) => c.ID === ciMatch[1]);
      if (!ci) return send(res, 404);
      ci.State = "deleted";
      ci.DeleteAt = Date.now();
      return send(res, 200, ci);
    }
    return send(res, 404);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    get clusters() {
      return state.clusters;
    },
    get clusterInstallations() {
      return state.clusterInstallations;
    },
    requests: state.requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
