/**
 * `npm run vendor-crds`: copies the CRDs of every pinned chart that ships them outside a hook
 * (config/versions.ts VENDORED_CRD_CHARTS) from the chart's own source
 * (../shared/charts/<chart>/<version>/chart/crds/) into constructs/helm/crds/<app>/files/, as the
 * files of a small in-repo chart (constructs/helm/crd-chart-template/) that the `<release>-crds`
 * release installs before the chart and upgrades on every chart bump (constructs/helm/addon.ts).
 * Run it after changing such a chart's version; a test fails while the copies differ from the
 * pinned sources.
 */
import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../config/paths";
import { HELM_CHARTS, VENDORED_CRD_CHARTS } from "../config/versions";
import { pinnedChartDir } from "./verify/charts";

export const CRD_CHARTS_DIR = join(REPO_ROOT, "constructs", "helm", "crds");
const TEMPLATE = join(REPO_ROOT, "constructs", "helm", "crd-chart-template");

/** The CRD manifests of a chart source's crds/ folder (kustomization files are not objects). */
export function crdFilesOf(chartDir: string): string[] {
  return readdirSync(join(chartDir, "crds"))
    .filter((f) => /\.ya?ml$/.test(f) && !/^kustomization\.ya?ml$/.test(f))
    .sort();
}

function main(): void {
  for (const app of VENDORED_CRD_CHARTS) {
    const spec = HELM_CHARTS[app];
    const version = spec.versions[spec.versions.length - 1];
    const source = pinnedChartDir(spec.chart, version);
    const out = join(CRD_CHARTS_DIR, app);
    rmSync(out, { recursive: true, force: true });
    cpSync(TEMPLATE, out, { recursive: true });
    writeFileSync(
      join(out, "Chart.yaml"),
      `apiVersion: v2\nname: ${app}-crds\ndescription: The CRDs of ${spec.chart} ${version}, copied from the chart's crds/ by npm run vendor-crds (never edit by hand)\ntype: application\nversion: ${version}\n`,
    );
    mkdirSync(join(out, "files"), { recursive: true });
    const files = crdFilesOf(source);
    for (const f of files) copyFileSync(join(source, "crds", f), join(out, "files", f));
    console.log(`${app} ${version}: ${files.length} file(s) -> ${out.slice(REPO_ROOT.length + 1)}/files`);
  }
}

if (require.main === module) main();
