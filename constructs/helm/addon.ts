import { Release } from "@cdktf/provider-helm/lib/release";
import { AssetType, TerraformAsset, TerraformStack, type ITerraformDependable } from "cdktf";
import { Construct, type IConstruct } from "constructs";
import { dump } from "js-yaml";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../config/paths";
import { HELM_CHARTS, VENDORED_CRD_CHARTS, type HelmApp } from "../../config/versions";
import { RELEASE_OPTIONS } from "./release-options";

/** The in-repo CRD charts (`npm run vendor-crds` copies each pinned chart's crds/ into one). */
export const CRD_CHARTS_DIR = join(REPO_ROOT, "constructs", "helm", "crds");

type Values = Record<string, unknown>;

export interface HelmAddonProps {
  /** Which pinned chart (key of HELM_CHARTS in config/versions.ts). */
  readonly app: HelmApp;
  /** Chart version; must be one of the pinned versions of that chart. */
  readonly version: string;
  readonly namespace: string;
  /** Release name; default the app name. */
  readonly releaseName?: string;
  /** The add-on's own values (built by its construct). */
  readonly values: Values;
  /** The user's values, merged last: the user always wins. */
  readonly userValues?: Values;
  /** Add-ons that must be installed first (CRDs before their users, the controller before ingresses). */
  readonly dependsOn?: HelmAddon[];
  /** Other Terraform resources to wait for (namespaces, secrets). */
  readonly after?: ITerraformDependable[];
  /** Seconds Helm waits for the release to become ready; default 600. */
  readonly timeoutSeconds?: number;
}

/** Deep merge for Helm values: objects merge, everything else (lists included) is replaced. */
export function mergeValues(base: Values, override: Values | undefined): Values {
  if (!override) return structuredClone(base);
  const out: Values = structuredClone(base);
  for (const [k, v] of Object.entries(override)) {
    const cur = out[k];
    out[k] =
      v && typeof v === "object" && !Array.isArray(v) && cur && typeof cur === "object" && !Array.isArray(cur)
        ? mergeValues(cur as Values, v as Values)
        : structuredClone(v);
  }
  return out;
}

/** Every leaf path of a values object, as `a.b.c` (list items are leaves). */
export function valuePaths(values: Values, prefix = ""): string[] {
  return Object.entries(values).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    return v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length ? valuePaths(v as Values, path) : [path];
  });
}

/**
 * Each vendored CRD chart's version and content hash, read once per process: every stack with the
 * chart would otherwise read and hash its 0.2-0.6 MB of CRDs again (cdktf hashes an asset's files).
 */
const crdCharts = new Map<string, { version?: string; hash: string }>();
function vendoredCrdChart(dir: string): { version?: string; hash: string } {
  let found = crdCharts.get(dir);
  if (!found) {
    const hash = createHash("sha256");
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const path = join(d, e.name);
        if (e.isDirectory()) walk(path);
        else hash.update(path.slice(dir.length)).update(readFileSync(path));
      }
    };
    walk(dir);
    found = { version: /^version: (.+)$/m.exec(readFileSync(join(dir, "Chart.yaml"), "utf8"))?.[1]?.trim(), hash: hash.digest("hex").slice(0, 32) };
    crdCharts.set(dir, found);
  }
  return found;
}

const RELEASE_NAME = /^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$/;
const REGISTRY = Symbol.for("cnc-platform.helm-addons");

/**
 * A Helm release with the chart, repository and version pinned in config/versions.ts, values
 * built by the add-on and merged with the user's (user last), installed atomically, and ordered
 * after the add-ons it declares. A dependency that is not in the same stack fails at synth with
 * a sentence naming both add-ons.
 */
export class HelmAddon extends Construct {
  readonly release: Release;
  /**
   * For a chart whose CRDs are vendored (config/versions.ts VENDORED_CRD_CHARTS): the
   * `<release>-crds` release that installs and upgrades them before the chart (which then skips
   * its crds/). Never deletes a CRD: each carries helm.sh/resource-policy: keep.
   */
  readonly crdRelease?: Release;
  readonly app: HelmApp;
  readonly version: string;
  readonly releaseName: string;
  readonly namespace: string;
  /** The final values given to Helm (for tests: every path must exist in the chart's values.yaml). */
  readonly values: Values;

  constructor(scope: Construct, id: string, props: HelmAddonProps) {
    super(scope, id);
    const chart = HELM_CHARTS[props.app];
    if (!chart) throw new Error(`HelmAddon ${id}: "${props.app}" is not a pinned chart (config/versions.ts)`);
    if (!(chart.versions as readonly string[]).includes(props.version)) {
      throw new Error(`HelmAddon ${props.app}: version ${props.version} is not pinned; use one of ${chart.versions.join(", ")} (config/versions.ts)`);
    }
    this.releaseName = props.releaseName ?? props.app;
    if (!RELEASE_NAME.test(this.releaseName)) throw new Error(`HelmAddon ${props.app}: release name "${this.releaseName}" is not a valid Helm release name (53 characters, lower-case)`);
    this.app = props.app;
    this.version = props.version;
    this.namespace = props.namespace;
    this.values = mergeValues(props.values, props.userValues);

    const registry = HelmAddon.registryOf(scope);
    for (const dep of props.dependsOn ?? []) {
      if (!registry.includes(dep)) {
        throw new Error(`HelmAddon ${props.app} needs ${dep.app} installed first, but ${dep.app} is not part of this stack; add the ${dep.app} add-on before ${props.app}.`);
      }
    }

    if ((VENDORED_CRD_CHARTS as readonly string[]).includes(props.app)) {
      const dir = join(CRD_CHARTS_DIR, props.app);
      const { version: vendored, hash } = vendoredCrdChart(dir);
      if (vendored !== props.version) {
        throw new Error(`HelmAddon ${props.app} ${props.version}: the vendored CRDs in constructs/helm/crds/${props.app} are of ${vendored}; run npm run vendor-crds after changing the chart version`);
      }
      const crdChart = new TerraformAsset(this, "crd-chart", { path: dir, type: AssetType.DIRECTORY, assetHash: hash });
      this.crdRelease = new Release(this, "crds", {
        name: `${this.releaseName}-crds`.slice(0, 53),
        chart: crdChart.path,
        description: `crds of ${chart.chart} ${props.version}`,
        namespace: props.namespace,
        ...RELEASE_OPTIONS,
        // Clusters installed before this release existed hold these CRDs from the chart's crds/
        // (no Helm owner): the first install adopts them instead of failing on "exists".
        takeOwnership: true,
        dependsOn: [...(props.after ?? [])],
      });
    }

    this.release = new Release(this, "release", {
      name: this.releaseName,
      repository: chart.repository,
      chart: chart.chart,
      version: props.version,
      namespace: props.namespace,
      ...RELEASE_OPTIONS,
      timeout: props.timeoutSeconds ?? 600,
      values: [dump(this.values, { lineWidth: -1, noRefs: true })],
      // Its CRDs come from the -crds release (upgraded with every bump), not from the chart's crds/.
      skipCrds: this.crdRelease ? true : undefined,
      dependsOn: [...(this.crdRelease ? [this.crdRelease] : []), ...(props.dependsOn ?? []).map((d) => d.release), ...(props.after ?? [])],
    });
    registry.push(this);
  }

  /** Every add-on created in the stack that holds `scope`, in creation order. */
  static registryOf(scope: IConstruct): HelmAddon[] {
    const holder = TerraformStack.of(scope) as unknown as Record<symbol, HelmAddon[]>;
    holder[REGISTRY] ??= [];
    return holder[REGISTRY];
  }
}
