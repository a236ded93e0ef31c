import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ClusterOidc, IrsaRole } from "../eks/irsa-role";
import { HelmAddon } from "../helm/addon";

export const FLUENT_BIT_SERVICE_ACCOUNT = "fluent-bit";
/** IAM role name of a cluster's log shipper (the log domain maps these as backend roles). */
export const fluentBitRoleName = (clusterName: string) => `${clusterName}-fluent-bit`;

export interface FluentBitProps {
  readonly version: string;
  readonly namespace: string;
  readonly clusterName: string;
  readonly region: string;
  readonly accountId: string;
  readonly oidc: ClusterOidc;
  /** Endpoint host of the OpenSearch domain (no scheme). */
  readonly opensearchHost: string;
  /** Name of the OpenSearch domain, to scope the role's HTTP permissions. */
  readonly domainName: string;
  readonly userValues?: Record<string, unknown>;
  readonly after?: ITerraformDependable[];
}

/**
 * fluent-bit as a DaemonSet shipping every container's log to the OpenSearch domain over HTTPS,
 * requests signed (SigV4) with its own IRSA role, which the domain maps as a backend role that
 * may only write `logs-*` indices.
 */
export class FluentBit extends Construct {
  readonly addon: HelmAddon;
  readonly role: IrsaRole;

  constructor(scope: Construct, id: string, props: FluentBitProps) {
    super(scope, id);
    this.role = new IrsaRole(this, "role", {
      roleName: fluentBitRoleName(props.clusterName),
      oidc: props.oidc,
      namespace: props.namespace,
      serviceAccount: FLUENT_BIT_SERVICE_ACCOUNT,
      statements: [
        {
          Sid: "WriteLogs",
          Effect: "Allow",
          Action: ["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet", "es:ESHttpHead"],
          Resource: `arn:aws:es:${props.region}:${props.accountId}:domain/${props.domainName}/*`,
        },
      ],
    });
    // One output per input of the chart's config: container logs (kube.*) and the kubelet's
    // journal (host.*). Setting config.outputs replaces the chart's, so both are listed here, or
    // the systemd input would have nowhere to go.
    const opensearchOutput = (match: string, prefix: string) =>
      [
        "[OUTPUT]",
        "    Name               opensearch",
        `    Match              ${match}`,
        `    Host               ${props.opensearchHost}`,
        "    Port               443",
        "    tls                On",
        "    tls.verify         On",
        "    AWS_Auth           On",
        `    AWS_Region         ${props.region}`,
        "    Logstash_Format    On",
        `    Logstash_Prefix    ${prefix}`,
        "    Suppress_Type_Name On",
        "    Replace_Dots       On",
        "    Trace_Error        On",
        "    Retry_Limit        10",
        "",
      ].join("\n");
    const output = [opensearchOutput("kube.*", `logs-${props.clusterName}`), opensearchOutput("host.*", `logs-${props.clusterName}-host`)].join("\n");
    this.addon = new HelmAddon(this, "addon", {
      app: "fluent-bit",
      version: props.version,
      namespace: props.namespace,
      values: {
        fullnameOverride: "fluent-bit",
        serviceAccount: { create: true, name: FLUENT_BIT_SERVICE_ACCOUNT, annotations: { "eks.amazonaws.com/role-arn": this.role.arn } },
        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
        config: { outputs: output },
      },
      userValues: props.userValues,
      after: props.after,
    });
  }
}
