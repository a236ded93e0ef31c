/**
 * Checks Helm value paths against a chart version's own values.yaml (copies in ../shared/charts).
 * A path is accepted when every key down to the leaf exists, or when it reaches a free-form
 * place: a map or list that is empty in the chart (`annotations: {}`), or a key the chart leaves
 * null/unset (`existingSecret:`). A key missing from a non-empty map is a typo or a value the
 * chart does not have.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { load } from "js-yaml";

export const CHARTS_DIR = resolve(__dirname, "..", "..", "..", "shared", "charts");

export function chartValues(chart: string, version: string): unknown {
  const file = join(CHARTS_DIR, chart, version, "values.yaml");
  if (!existsSync(file)) throw new Error(`no values.yaml for ${chart} ${version} under ${CHARTS_DIR}; is ../shared beside the repository?`);
  return load(readFileSync(file, "utf8"));
}

/** Returns the paths of `values` that the chart's values.yaml does not have. */
export function unknownPaths(values: Record<string, unknown>, chartDefaults: unknown, prefix = ""): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const node = chartDefaults as Record<string, unknown> | null | undefined;
    if (node === null || node === undefined) continue; // free-form below a null/unset key
    if (typeof node !== "object" || Array.isArray(node)) continue; // chart has a scalar/list here: we replace it
    if (Object.keys(node).length === 0) continue; // empty map in the chart: free-form
    if (!(key in node)) {
      out.push(path);
      continue;
    }
    const child = node[key];
    if (value && typeof value === "object" && !Array.isArray(value)) {
      out.push(...unknownPaths(value as Record<string, unknown>, child, path));
    }
  }
  return out;
}
