import { AcmCertificate } from "@cdktf/provider-aws/lib/acm-certificate";
import { AcmCertificateValidation } from "@cdktf/provider-aws/lib/acm-certificate-validation";
import type { DataAwsRoute53Zone } from "@cdktf/provider-aws/lib/data-aws-route53-zone";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { LOAD_BALANCER_TAG, loadBalancerId } from "../../config/names";
import { LBC_SERVICE_ACCOUNT } from "./load-balancer-controller";

export interface OidcSettings {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  userInfoEndpoint: string;
}

export interface AppIngressProps {
  /** Prefix of the ALB group names: `<env>-internal`, `<env>-public`. */
  readonly environment: string;
  /** The EKS cluster the Ingresses live in (part of each load balancer's lookup tag). */
  readonly clusterName: string;
  readonly privateDomain: string;
  readonly publicDomain?: string;
  /**
   * Zone that holds the ACM DNS-validation records. ACM validates through public DNS, so this is
   * the public zone (the private domain must be a subdomain of it, or have its own public zone).
   */
  readonly validationZone: DataAwsRoute53Zone;
  /** OIDC login at the load balancer; undefined turns authentication off (only if the environment says so). */
  readonly oidc?: OidcSettings;
  /** Resources that must exist first (namespaces). */
  readonly after?: ITerraformDependable[];
}

/** ALB groups: one internal, one internet-facing load balancer per environment, shared by every app. */
export type IngressGroup = "internal" | "public";

/** TLS 1.2+ with forward secrecy; TLS 1.3 preferred. */
export const ALB_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/**
 * The Kubernetes Secret the ALB reads the OIDC client from, in the namespace of each Ingress, with
 * keys `clientID` and `clientSecret`. The External Secrets Operator writes it from the
 * environment's `auth.oidc.clientSecretName` (constructs/secrets/external-secrets.ts).
 */
export const OIDC_SECRET = "alb-oidc-client";
export const OIDC_SECRET_KEYS = { clientID: "clientId", clientSecret: "clientSecret" } as const;

/**
 * How every C&C UI is published: wildcard certificates from ACM (validated by DNS), the shared
 * internal (and optional internet-facing) ALB groups of the AWS Load Balancer Controller, HTTPS
 * only with a modern policy, and OpenID Connect login at the load balancer in front of every app.
 */
export class AppIngress extends Construct {
  readonly privateCertificateArn: string;
  readonly publicCertificateArn?: string;
  readonly authenticated: boolean;
  private readonly props: AppIngressProps;
  private readonly readers = new Map<string, RoleBindingV1>();

  constructor(scope: Construct, id: string, props: AppIngressProps) {
    super(scope, id);
    this.props = props;
    this.authenticated = !!props.oidc;
    this.privateCertificateArn = this.certificate("private", props.privateDomain);
    if (props.publicDomain) this.publicCertificateArn = this.certificate("public", props.publicDomain);
  }

  private certificate(id: string, domain: string): string {
    const cert = new AcmCertificate(this, `cert-${id}`, {
      domainName: `*.${domain}`,
      validationMethod: "DNS",
      keyAlgorithm: "EC_prime256v1",
      lifecycle: { createBeforeDestroy: true },
    });
    // A wildcard certificate has exactly one validation record.
    const option = cert.domainValidationOptions.get(0);
    const record = new Route53Record(this, `cert-${id}-validation`, {
      zoneId: this.props.validationZone.zoneId,
      name: option.resourceRecordName,
      type: option.resourceRecordType,
      records: [option.resourceRecordValue],
      ttl: 300,
      allowOverwrite: true,
    });
    const validation = new AcmCertificateValidation(this, `cert-${id}-validated`, {
      certificateArn: cert.arn,
      validationRecordFqdns: [record.fqdn],
    });
    return validation.certificateArn;
  }

  /**
   * A Role that lets the load balancer controller read exactly the OIDC Secret of a namespace
   * (which the External Secrets Operator writes there): the controller's chart grants no secret
   * access (clusterSecretsPermissions.allowAllSecrets is off, as its values recommend), so
   * without it every ALB group with OIDC login fails to reconcile. Undefined when login is off.
   */
  oidcReader(namespace: string): RoleBindingV1 | undefined {
    if (!this.props.oidc) return undefined;
    if (!this.readers.has(namespace)) {
      const role = new RoleV1(this, `oidc-${namespace}-reader`, {
        metadata: { name: "aws-load-balancer-controller-oidc", namespace },
        rule: [{ apiGroups: [""], resources: ["secrets"], resourceNames: [OIDC_SECRET], verbs: ["get", "list", "watch"] }],
        dependsOn: this.props.after,
      });
      this.readers.set(
        namespace,
        new RoleBindingV1(this, `oidc-${namespace}-reader-binding`, {
          metadata: { name: "aws-load-balancer-controller-oidc", namespace },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
          subject: [{ kind: "ServiceAccount", name: LBC_SERVICE_ACCOUNT, namespace: "kube-system" }],
          dependsOn: this.props.after,
        }),
      );
    }
    return this.readers.get(namespace);
  }

  /**
   * Annotations for an Ingress of one app in one group. `authenticate: false` is only for
   * internal APIs called by programs (the provisioner); a public app always needs login.
   */
  annotations(app: string, group: IngressGroup = "internal", extra: Record<string, string> = {}, authenticate = true): Record<string, string> {
    if (group === "public" && (!this.props.oidc || !authenticate)) {
      throw new Error(`${app} cannot be published on the internet-facing load balancer without authentication (auth is off in this environment)`);
    }
    // A public app answers on its public name and on its private one (the private zone points both
    // at the public load balancer), so that load balancer holds both wildcard certificates.
    if (group === "public" && !this.publicCertificateArn) throw new Error(`${app}: the public group needs dns.publicDomain in the environment`);
    const certificate = group === "public" ? `${this.publicCertificateArn},${this.privateCertificateArn}` : this.privateCertificateArn;
    const out: Record<string, string> = {
      "alb.ingress.kubernetes.io/group.name": `${this.props.environment}-${group}`,
      "alb.ingress.kubernetes.io/scheme": group === "public" ? "internet-facing" : "internal",
      "alb.ingress.kubernetes.io/target-type": "ip",
      "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP":80},{"HTTPS":443}]',
      "alb.ingress.kubernetes.io/ssl-redirect": "443",
      "alb.ingress.kubernetes.io/certificate-arn": certificate,
      "alb.ingress.kubernetes.io/ssl-policy": ALB_SSL_POLICY,
      "alb.ingress.kubernetes.io/load-balancer-attributes": "routing.http.drop_invalid_header_fields.enabled=true",
      // Tags must agree across every Ingress of a group: only the group's lookup tag (config/names.ts), which route53 uses.
      "alb.ingress.kubernetes.io/tags": `${LOAD_BALANCER_TAG}=${loadBalancerId({ name: this.props.environment }, this.props.clusterName, `alb-${group}`)}`,
      ...extra,
    };
    if (this.props.oidc && authenticate) {
      const o = this.props.oidc;
      Object.assign(out, {
        "alb.ingress.kubernetes.io/auth-type": "oidc",
        "alb.ingress.kubernetes.io/auth-idp-oidc": JSON.stringify({
          issuer: o.issuer,
          authorizationEndpoint: o.authorizationEndpoint,
          tokenEndpoint: o.tokenEndpoint,
          userInfoEndpoint: o.userInfoEndpoint,
          secretName: OIDC_SECRET,
        }),
        "alb.ingress.kubernetes.io/auth-on-unauthenticated-request": "authenticate",
        "alb.ingress.kubernetes.io/auth-scope": "openid email profile",
        "alb.ingress.kubernetes.io/auth-session-timeout": "43200",
      });
    }
    return out;
  }

  /** `ingress:` values in the shape most charts use (enabled, class, annotations, hosts as strings). */
  helmValues(hostnames: string[], app: string, group: IngressGroup = "internal", extra: Record<string, string> = {}): Record<string, unknown> {
    return { enabled: true, ingressClassName: "alb", annotations: this.annotations(app, group, extra), hosts: hostnames, path: "/", pathType: "Prefix" };
  }
}
