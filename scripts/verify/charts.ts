/**
 * Where the pinned charts' full sources are (../shared/charts/<chart>/<version>/chart beside the
 * repository, or CHARTS_DIR), and the CustomResourceDefinitions they ship: the schema source for
 * custom resources, and the API versions Helm is told a cluster with those charts installed serves.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { load, loadAll } from "js-yaml";
import { HELM_CHARTS } from "../../config/versions";
import { repoRoot } from "./helm";

/** JSON schema of a CRD version (openAPIV3Schema, structural). */
export type StructuralSchema = Record<string, any>;

export interface CrdVersion {
  group: string;
  version: string;
  kind: string;
  /** Whether the CRD version is served (and so can be applied). */
  served: boolean;
  schema?: StructuralSchema;
  /** Chart that ships it (chart/version). */
  source: string;
}

export function chartsRoot(): string {
  const dir = process.env.CHARTS_DIR?.trim() || resolve(repoRoot(), "..", "shared", "charts");
  if (!existsSync(dir)) {
    throw new Error(`The pinned chart sources are not at ${dir}: put the shared folder beside the repository (../shared/charts), or set CHARTS_DIR.`);
  }
  return dir;
}

/** The source folder of a pinned chart version. */
export function pinnedChartDir(chart: string, version: string): string {
  const dir = join(chartsRoot(), chart, version, "chart");
  if (!existsSync(join(dir, "Chart.yaml"))) throw new Error(`No chart source for ${chart} ${version} at ${dir} (../shared/charts/INDEX.md lists what is there).`);
  return dir;
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === "templates" || f === "unittests" ? [] : yamlFilesUnder(p);
    return /\.ya?ml$/.test(f) ? [p] : [];
  });
}

function crdDirs(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (!statSync(p).isDirectory()) return [];
    return f === "crds" ? [p] : crdDirs(p);
  });
}

/**
 * CRDs a chart renders from templates its source does not hold: external-secrets generates
 * templates/crds/*.yaml when the chart is packaged (its source at the tag has only a README
 * there). The chart's own unit tests keep what those templates render as helm-unittest snapshots
 * (tests/__snapshot__/crds_test.yaml.snap: the SecretStore CRD), which is the same generated CRD
 * at the same tag; they are read as CRDs of the chart.
 */
function snapshotCrdDocs(dir: string): unknown[] {
  const snapshots = join(dir, "tests", "__snapshot__");
  if (!existsSync(snapshots)) return [];
  return readdirSync(snapshots)
    .filter((f) => f.endsWith(".snap"))
    .sort()
    .flatMap((f) => {
      const tests = (load(readFileSync(join(snapshots, f), "utf8")) ?? {}) as Record<string, Record<string, string>>;
      // Only each file's first test (the chart's default values): later tests render variants.
      const first = Object.values(tests)[0] ?? {};
      return Object.values(first).flatMap((text) => (typeof text === "string" ? (loadAll(text) as unknown[]) : []));
    })
    .filter((d: any) => d?.kind === "CustomResourceDefinition");
}

/**
 * Custom resources this repository applies whose CRD is in no pinned chart source, each with the
 * reason and what checks it instead. The schema step reports them as not schema-checked, by
 * name; any other kind without a CRD is a finding.
 */
export const CRDS_NOT_IN_CHART_SOURCES: { apiVersion: string; kind: string; reason: string }[] = [
  {
    apiVersion: "external-secrets.io/v1",
    kind: "ExternalSecret",
    reason:
      "external-secrets 2.9.0 generates its CRDs when the chart is packaged; the pinned source holds only SecretStore's (in a test snapshot). " +
      "constructs/secrets/external-secrets.ts validates the fields it sets (names, keys, one secret per remote key) and test/secrets/external-secrets.test.ts their shape",
  },
];

/** Why an object is not schema-checked (its kind is in CRDS_NOT_IN_CHART_SOURCES), or undefined. */
export function notSchemaChecked(o: { apiVersion?: string; kind?: string }): string | undefined {
  return CRDS_NOT_IN_CHART_SOURCES.find((c) => c.apiVersion === o.apiVersion && c.kind === o.kind)?.reason;
}

let cache: Map<string, CrdVersion> | undefined;

/**
 * Every CRD version of the pinned charts, by `group/version/Kind`: the `crds/` folders (subcharts
 * included), and the CRD templates a chart generates at packaging as its unit-test snapshots keep them.
 */
export function pinnedCrds(): Map<string, CrdVersion> {
  if (cache) return cache;
  const out = new Map<string, CrdVersion>();
  for (const [app, pin] of Object.entries(HELM_CHARTS)) {
    for (const version of pin.versions) {
      const dir = join(chartsRoot(), pin.chart, version, "chart");
      if (!existsSync(dir)) continue;
      const docs = [
        ...crdDirs(dir).flatMap((crdDir) => yamlFilesUnder(crdDir).flatMap((file) => loadAll(readFileSync(file, "utf8")) as any[])),
        ...snapshotCrdDocs(dir),
      ];
      for (const doc of docs as any[]) {
        if (doc?.kind !== "CustomResourceDefinition") continue;
        for (const v of doc.spec?.versions ?? []) {
          const key = `${doc.spec.group}/${v.name}/${doc.spec.names.kind}`;
          if (out.has(key)) continue; // crds/ first
          out.set(key, {
            group: doc.spec.group,
            version: v.name,
            kind: doc.spec.names.kind,
            served: v.served !== false,
            schema: v.schema?.openAPIV3Schema,
            source: `${app} ${version}`,
          });
        }
      }
    }
  }
  cache = out;
  return out;
}
