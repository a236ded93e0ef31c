import type { Construct } from "constructs";
import type { Environment, WorkloadConfig } from "../config/schema";
import { PlatformStack } from "./platform-stack";

/** `<env>-workload-<name>`: one workload cluster that serves Mattermost and reports to the C&C. */
export class WorkloadStack extends PlatformStack {
  readonly workload: WorkloadConfig;
  constructor(scope: Construct, id: string, env: Environment, workload: WorkloadConfig) {
    super(scope, id, { env });
    this.workload = workload;
  }
}
