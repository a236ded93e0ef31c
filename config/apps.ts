/**
 * The C&C apps that get DNS names, and how each is reached. `front` says which load balancer
 * serves it; `authenticated` says whether a person must log in before reaching it (ALB OIDC).
 * Only authenticated apps may have a public name.
 */
import type { CncApp } from "./schema";

export type Front = "alb" | "thanos-grpc-nlb" | "opensearch";

export const APP_FRONTS: Record<CncApp, { front: Front; authenticatedAtLoadBalancer: boolean; why?: string }> = {
  grafana: { front: "alb", authenticatedAtLoadBalancer: true },
  prometheus: { front: "alb", authenticatedAtLoadBalancer: true },
  alertmanager: { front: "alb", authenticatedAtLoadBalancer: true },
  thanos: { front: "alb", authenticatedAtLoadBalancer: true },
  dashboard: { front: "alb", authenticatedAtLoadBalancer: true },
  provisioner: { front: "alb", authenticatedAtLoadBalancer: false, why: "its API is called by programs, not people, so it has no login at the load balancer and stays internal" },
  "thanos-grpc": { front: "thanos-grpc-nlb", authenticatedAtLoadBalancer: false, why: "gRPC on a network load balancer has no login" },
  opensearch: { front: "opensearch", authenticatedAtLoadBalancer: false, why: "the OpenSearch domain lives only inside the VPC" },
  // Dashboards: through the internal ALB (OIDC login) to a signing proxy in the cluster.
  kibana: { front: "alb", authenticatedAtLoadBalancer: true },
};
