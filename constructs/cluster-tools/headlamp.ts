import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { HelmAddon } from "../helm/addon";
import type { AppIngress, IngressGroup } from "../ingress/app-ingress";

export interface HeadlampProps {
  readonly version: string;
  readonly namespace: string;
  /** Names it answers on (public and private when it is public). */
  readonly hostnames: string[];
  readonly ingress: AppIngress;
  readonly group?: IngressGroup;
  /** Let the dashboard change the cluster (binds cluster-admin). Default false: read-only. */
  readonly allowWrites?: boolean;
  readonly userValues?: Record<string, unknown>;
  readonly after?: ITerraformDependable[];
}

/**
 * Headlamp, the Kubernetes SIG UI project that replaced the retired Kubernetes dashboard. People
 * log in at the load balancer (OIDC); the dashboard then acts with its own ServiceAccount, bound
 * to the built-in `view` ClusterRole: it can read workloads, never Secrets, and change nothing.
 */
export class Headlamp extends Construct {
  readonly addon: HelmAddon;
  constructor(scope: Construct, id: string, props: HeadlampProps) {
    super(scope, id);
    this.addon = new HelmAddon(this, "addon", {
      app: "headlamp",
      version: props.version,
      namespace: props.namespace,
      values: {
        fullnameOverride: "headlamp",
        replicaCount: 2,
        podDisruptionBudget: { enabled: true, minAvailable: 1 },
        clusterRoleBinding: { create: true, clusterRoleName: props.allowWrites ? "cluster-admin" : "view" },
        config: { inCluster: true, inClusterContextName: "cnc", unsafeUseServiceAccountToken: true },
        resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
        // Its namespace enforces Pod Security "restricted": the chart's own default context lacks
        // the seccomp profile at pod level and drops nothing once securityContext is set.
        podSecurityContext: { runAsNonRoot: true, runAsUser: 100, runAsGroup: 101, fsGroup: 101, seccompProfile: { type: "RuntimeDefault" } },
        securityContext: {
          runAsNonRoot: true,
          privileged: false,
          runAsUser: 100,
          runAsGroup: 101,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        },
        ingress: {
          enabled: true,
          ingressClassName: "alb",
          annotations: props.ingress.annotations("dashboard", props.group ?? "internal"),
          hosts: props.hostnames.map((host) => ({ host, paths: [{ path: "/", type: "Prefix" }] })),
        },
      },
      userValues: props.userValues,
      after: props.after,
    });
  }
}
