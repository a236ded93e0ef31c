import type { Construct } from "constructs";
import type { Environment } from "../config/schema";
import { PlatformStack } from "./platform-stack";

/** `<env>-route53` (C&C layer 3): a DNS name for every C&C app. */
export class Route53Stack extends PlatformStack {
  constructor(scope: Construct, id: string, env: Environment) {
    super(scope, id, { env });
  }
}
