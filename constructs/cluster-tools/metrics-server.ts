import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { HelmAddon } from "../helm/addon";

/** metrics-server (resource metrics for `kubectl top` and autoscalers), two replicas with a PDB. */
export class MetricsServer extends Construct {
  readonly addon: HelmAddon;
  constructor(scope: Construct, id: string, props: { version: string; userValues?: Record<string, unknown>; after?: ITerraformDependable[] }) {
    super(scope, id);
    this.addon = new HelmAddon(this, "addon", {
      app: "metrics-server",
      version: props.version,
      namespace: "kube-system",
      values: {
        replicas: 2,
        podDisruptionBudget: { enabled: true, minAvailable: 1 },
        resources: { requests: { cpu: "100m", memory: "200Mi" }, limits: { memory: "400Mi" } },
      },
      userValues: props.userValues,
      after: props.after,
    });
  }
}
