import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Fn } from "cdktf";
import { Construct } from "constructs";

/** One IAM policy statement (the JSON form). */
export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** The cluster's OIDC identity, from the cluster resource (layer 1) or data sources (later layers). */
export interface ClusterOidc {
  /** ARN of the IAM OIDC provider of the cluster. */
  providerArn: string;
  /** Issuer URL as EKS reports it (`https://oidc.eks.<region>.amazonaws.com/id/<ID>`). */
  issuerUrl: string;
}

export interface IrsaRoleProps {
  /** IAM role name (64 characters at most). */
  readonly roleName: string;
  readonly oidc: ClusterOidc;
  /** Namespace and name of the one ServiceAccount allowed to assume the role. */
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Inline permissions; keep them scoped to resource ARNs wherever the action allows. */
  readonly statements?: PolicyStatement[];
  /** AWS managed policies to attach (only where AWS publishes the exact policy a component needs). */
  readonly managedPolicyArns?: string[];
}

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The trust policy of an IRSA role: only `system:serviceaccount:<ns>:<sa>` of this cluster, audience STS. */
export function irsaTrustPolicy(oidc: ClusterOidc, namespace: string, serviceAccount: string): string {
  const issuer = Fn.replace(oidc.issuerUrl, "https://", "");
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: oidc.providerArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
            [`${issuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ],
  });
}

/**
 * An IAM role for one Kubernetes ServiceAccount (IRSA). The trust is pinned to exactly that
 * ServiceAccount of this cluster's OIDC provider (`sub` and `aud` both checked with
 * StringEquals), so no other pod, namespace or cluster can assume it.
 */
export class IrsaRole extends Construct {
  readonly role: IamRole;
  readonly arn: string;

  constructor(scope: Construct, id: string, props: IrsaRoleProps) {
    super(scope, id);
    if (!K8S_NAME.test(props.namespace)) throw new Error(`IrsaRole ${props.roleName}: namespace "${props.namespace}" is not a Kubernetes name`);
    if (!K8S_NAME.test(props.serviceAccount)) throw new Error(`IrsaRole ${props.roleName}: service account "${props.serviceAccount}" is not a Kubernetes name`);
    if (props.roleName.length > 64) throw new Error(`IrsaRole: role name "${props.roleName}" is longer than IAM's 64 characters`);
    if (!props.statements?.length && !props.managedPolicyArns?.length) {
      throw new Error(`IrsaRole ${props.roleName}: give it permissions (statements or managedPolicyArns); a role with none is a mistake`);
    }
    // Wildcards are refused in what a role may do; a Deny of a whole service only narrows it.
    for (const s of (props.statements ?? []).filter((st) => st.Effect === "Allow")) {
      const actions = ([] as string[]).concat(s.Action);
      if (actions.some((a) => a === "*" || a.endsWith(":*"))) {
        throw new Error(`IrsaRole ${props.roleName}: wildcard action ${actions.join(", ")}; list the actions it needs`);
      }
    }

    this.role = new IamRole(this, "role", {
      name: props.roleName,
      assumeRolePolicy: irsaTrustPolicy(props.oidc, props.namespace, props.serviceAccount),
      description: `IRSA role for ${props.namespace}/${props.serviceAccount}`,
      maxSessionDuration: 3600,
    });
    this.arn = this.role.arn;
    if (props.statements?.length) {
      new IamRolePolicy(this, "policy", {
        role: this.role.id,
        name: "permissions",
        policy: JSON.stringify({ Version: "2012-10-17", Statement: props.statements }),
      });
    }
    (props.managedPolicyArns ?? []).forEach((arn, i) => new IamRolePolicyAttachment(this, `managed-${i}`, { role: this.role.name, policyArn: arn }));
  }
}
