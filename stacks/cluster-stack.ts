import type { Construct } from "constructs";
import type { Environment } from "../config/schema";
import { PlatformStack } from "./platform-stack";

/** `<env>-cluster` (C&C layer 1): VPC, EKS, node groups, IAM/IRSA, KMS, the DNS-registration Lambda. */
export class ClusterStack extends PlatformStack {
  constructor(scope: Construct, id: string, env: Environment) {
    super(scope, id, { env });
  }
}
