import { Release } from "@cdktf/provider-helm/lib/release";
import { AssetType, TerraformAsset, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { dump } from "js-yaml";
import { join } from "node:path";
import { REPO_ROOT } from "../../config/paths";
import { RELEASE_OPTIONS } from "./release-options";

/** The in-repo chart that renders `.Values.manifests` as they are (constructs/helm/manifests-chart). */
export const MANIFESTS_CHART_DIR = join(REPO_ROOT, "constructs", "helm", "manifests-chart");

/** A complete Kubernetes object (a custom resource, typically). */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface ManifestsReleaseProps {
  /** Helm release name (unique in its namespace). */
  readonly releaseName: string;
  /** Namespace of the release record; the objects keep their own metadata.namespace. */
  readonly namespace: string;
  readonly manifests: KubernetesObject[];
  /**
   * What must be installed first: the release that installs the objects' CRDs (and the namespace).
   * Helm needs the CRD only when it installs, which then is after these.
   */
  readonly dependsOn: ITerraformDependable[];
}

/**
 * Custom resources applied by Helm instead of `kubernetes_manifest`. A `kubernetes_manifest` is
 * resolved against the API server at *plan* time, so it cannot be planned in the apply that
 * installs its CRD (hashicorp/terraform-provider-kubernetes#2597), and `depends_on` does not help.
 * A Helm release is planned without the API and installed after its dependencies, so CRDs and
 * their resources can live in one stack. The chart ships as a Terraform asset of the stack.
 */
export class ManifestsRelease extends Construct {
  readonly release: Release;

  constructor(scope: Construct, id: string, props: ManifestsReleaseProps) {
    super(scope, id);
    if (props.manifests.length === 0) throw new Error(`ManifestsRelease ${props.releaseName}: no manifests to apply`);
    for (const m of props.manifests) {
      if (!m.apiVersion || !m.kind || !m.metadata?.name) throw new Error(`ManifestsRelease ${props.releaseName}: every manifest needs apiVersion, kind and metadata.name`);
    }
    const chart = new TerraformAsset(this, "chart", { path: MANIFESTS_CHART_DIR, type: AssetType.DIRECTORY });
    this.release = new Release(this, "release", {
      name: props.releaseName,
      chart: chart.path,
      namespace: props.namespace,
      ...RELEASE_OPTIONS,
      values: [dump({ manifests: props.manifests }, { lineWidth: -1, noRefs: true })],
      dependsOn: props.dependsOn,
    });
  }
}
