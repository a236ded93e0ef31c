/**
 * Where the pinned charts' full sources are (../shared/charts/<chart>/<version>/chart beside the
 * repository, or CHARTS_DIR), and the CustomResourceDefinitions they ship: the schema source for
 * custom resources, and the API versions Helm is told a cluster with those charts installed serves.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadAll } from "js-yaml";
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

let cache: Map<string, CrdVersion> | undefined;

/** Every CRD version in the `crds/` folders of the pinned charts (subcharts included), by `group/version/Kind`. */
export function pinnedCrds(): Map<string, CrdVersion> {
  if (cache) return cache;
  const out = new Map<string, CrdVersion>();
  for (const [app, pin] of Object.entries(HELM_CHARTS)) {
    for (const version of pin.versions) {
      const dir = join(chartsRoot(), pin.chart, version, "chart");
      if (!existsSync(dir)) continue;
      for (const crdDir of crdDirs(dir)) {
        for (const file of yamlFilesUnder(crdDir)) {
          for (const doc of loadAll(readFileSync(file, "utf8")) as any[]) {
            if (doc?.kind !== "CustomResourceDefinition") continue;
            for (const v of doc.spec?.versions ?? []) {
              const key = `${doc.spec.group}/${v.name}/${doc.spec.names.kind}`;
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
    }
  }
  cache = out;
  return out;
}
