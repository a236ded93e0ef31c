import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { IngressV1 } from "@cdktf/provider-kubernetes/lib/ingress-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { IMAGES, imageRef } from "../../config/versions";
import { ClusterOidc, IrsaRole } from "../eks/irsa-role";
import type { AppIngress, IngressGroup } from "../ingress/app-ingress";

export const DASHBOARDS_PROXY = "opensearch-dashboards";
/** IAM role name of the proxy; the log domain maps it to read-only roles. */
export const dashboardsRoleName = (clusterName: string) => `${clusterName}-opensearch-dashboards`;

export interface DashboardsProxyProps {
  readonly namespace: string;
  readonly clusterName: string;
  readonly region: string;
  readonly accountId: string;
  readonly domainName: string;
  /** Endpoint host of the VPC-only OpenSearch domain. */
  readonly opensearchHost: string;
  /** Names it answers on (public and private when it is public). */
  readonly hostnames: string[];
  readonly ingress: AppIngress;
  readonly group?: IngressGroup;
  readonly oidc: ClusterOidc;
  readonly after?: ITerraformDependable[];
}

/**
 * OpenSearch Dashboards ("Kibana") through the internal ingress. The domain accepts IAM-signed
 * requests only, so people log in at the load balancer (OIDC) and a signing proxy forwards their
 * requests with its own IRSA role, which the domain maps to read-only roles.
 */
export class DashboardsProxy extends Construct {
  constructor(scope: Construct, id: string, props: DashboardsProxyProps) {
    super(scope, id);
    const ns = props.namespace;
    const role = new IrsaRole(this, "role", {
      roleName: dashboardsRoleName(props.clusterName),
      oidc: props.oidc,
      namespace: ns,
      serviceAccount: DASHBOARDS_PROXY,
      statements: [
        {
          Sid: "ReadLogs",
          Effect: "Allow",
          Action: ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"],
          Resource: `arn:aws:es:${props.region}:${props.accountId}:domain/${props.domainName}/*`,
        },
      ],
    });
    const sa = new ServiceAccountV1(this, "sa", { metadata: { name: DASHBOARDS_PROXY, namespace: ns, annotations: { "eks.amazonaws.com/role-arn": role.arn } }, dependsOn: props.after });
    const labels = { "app.kubernetes.io/name": DASHBOARDS_PROXY };
    new DeploymentV1(this, "deployment", {
      metadata: { name: DASHBOARDS_PROXY, namespace: ns, labels },
      spec: {
        replicas: "2",
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: sa.metadata.name,
            // Signs with IRSA (its own projected token); it never calls the Kubernetes API.
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: "65532", seccompProfile: { type: "RuntimeDefault" } },
            container: [
              {
                name: "sigv4-proxy",
                image: imageRef(IMAGES.sigv4Proxy.repository, IMAGES.sigv4Proxy.tag),
                imagePullPolicy: "Always",
                args: ["--name", "es", "--region", props.region, "--host", props.opensearchHost, "--port", ":8080"],
                port: [{ name: "http", containerPort: 8080 }],
                readinessProbe: { tcpSocket: [{ port: "8080" }], periodSeconds: 10 },
                // The proxy has no health route of its own (every path is forwarded): a listening port is alive.
                livenessProbe: { tcpSocket: [{ port: "8080" }], initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 3 },
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
              },
            ],
          },
        },
      },
    });
    new PodDisruptionBudgetV1(this, "pdb", { metadata: { name: DASHBOARDS_PROXY, namespace: ns }, spec: { minAvailable: "1", selector: { matchLabels: labels } }, dependsOn: props.after });
    const service = new ServiceV1(this, "service", {
      metadata: { name: DASHBOARDS_PROXY, namespace: ns, labels },
      spec: { selector: labels, port: [{ name: "http", port: 8080, targetPort: "http" }] },
      dependsOn: props.after,
    });
    new IngressV1(this, "ingress", {
      metadata: { name: DASHBOARDS_PROXY, namespace: ns, annotations: props.ingress.annotations("kibana", props.group ?? "internal", { "alb.ingress.kubernetes.io/healthcheck-path": "/_dashboards/api/status", "alb.ingress.kubernetes.io/success-codes": "200-401" }) },
      spec: {
        ingressClassName: "alb",
        rule: props.hostnames.map((host) => ({ host, http: { path: [{ path: "/", pathType: "Prefix", backend: { service: { name: service.metadata.name, port: { number: 8080 } } } }] } })),
      },
      dependsOn: props.after,
    });
  }
}
