import type { Construct } from "constructs";
import type { Environment } from "../config/schema";
import { PlatformStack } from "./platform-stack";

/** `<env>-post-install` (C&C layer 2): monitoring, logging, ingress/auth, the provisioner, store discovery. */
export class PostInstallStack extends PlatformStack {
  constructor(scope: Construct, id: string, env: Environment) {
    super(scope, id, { env });
  }
}
