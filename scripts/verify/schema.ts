/**
 * Schema check of Kubernetes objects, offline.
 *
 * - Built-in kinds: against the Kubernetes API models generated from the Kubernetes OpenAPI
 *   (the models of the pinned @kubernetes/client-node, read from its files: field names, types,
 *   required fields), for the API group/versions the cluster's minor serves (SERVED_API_CHANGES).
 * - Custom resources: against the openAPIV3Schema of the CRDs in the pinned chart sources.
 *
 * Unknown fields, wrong types and missing required fields are findings naming the object and the
 * field path.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { notSchemaChecked, pinnedCrds, type StructuralSchema } from "./charts";
import { repoRoot } from "./helm";
import type { KubeObject } from "./render";

export interface SchemaFinding {
  /** `apps/v1 Deployment monitoring/kps-operator` */
  object: string;
  /** JSON-ish path of the field: `spec.template.spec.containers[0].resources.request` */
  field: string;
  message: string;
}

/**
 * API group/versions of built-in kinds removed (or added) by minor, beyond what the models know.
 * `removedIn` is the first minor that no longer serves it (Kubernetes deprecated API migration guide).
 */
export const REMOVED_APIS: { apiVersion: string; kinds?: string[]; removedIn: string }[] = [
  { apiVersion: "extensions/v1beta1", removedIn: "1.22" },
  { apiVersion: "networking.k8s.io/v1beta1", kinds: ["Ingress", "IngressClass"], removedIn: "1.22" },
  { apiVersion: "rbac.authorization.k8s.io/v1beta1", removedIn: "1.22" },
  { apiVersion: "apiextensions.k8s.io/v1beta1", removedIn: "1.22" },
  { apiVersion: "admissionregistration.k8s.io/v1beta1", kinds: ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"], removedIn: "1.22" },
  { apiVersion: "batch/v1beta1", kinds: ["CronJob"], removedIn: "1.25" },
  { apiVersion: "policy/v1beta1", kinds: ["PodDisruptionBudget", "PodSecurityPolicy"], removedIn: "1.25" },
  { apiVersion: "autoscaling/v2beta1", removedIn: "1.25" },
  { apiVersion: "discovery.k8s.io/v1beta1", removedIn: "1.25" },
  { apiVersion: "events.k8s.io/v1beta1", removedIn: "1.25" },
  { apiVersion: "node.k8s.io/v1beta1", removedIn: "1.25" },
  { apiVersion: "autoscaling/v2beta2", removedIn: "1.26" },
  { apiVersion: "flowcontrol.apiserver.k8s.io/v1beta1", removedIn: "1.26" },
  { apiVersion: "storage.k8s.io/v1beta1", kinds: ["CSIStorageCapacity"], removedIn: "1.27" },
  { apiVersion: "flowcontrol.apiserver.k8s.io/v1beta2", removedIn: "1.29" },
  { apiVersion: "flowcontrol.apiserver.k8s.io/v1beta3", removedIn: "1.32" },
];

/** The minor after `minor` (`1.35` -> `1.36`). */
export function nextMinor(minor: string): string {
  const [maj, min] = minor.split(".").map(Number);
  return `${maj}.${min + 1}`;
}

function minorLess(a: string, b: string): boolean {
  const [a1, a2] = a.split(".").map(Number);
  const [b1, b2] = b.split(".").map(Number);
  return a1 < b1 || (a1 === b1 && a2 < b2);
}

/** The removal that makes `apiVersion kind` unavailable at `minor`, if any. */
export function removedAt(apiVersion: string, kind: string, minor: string): string | undefined {
  const r = REMOVED_APIS.find((x) => x.apiVersion === apiVersion && (!x.kinds || x.kinds.includes(kind)) && !minorLess(minor, x.removedIn));
  return r?.removedIn;
}

/** API groups of built-in kinds (everything else must come from a CRD). */
const BUILTIN_GROUPS = new Set([
  "", "apps", "batch", "policy", "autoscaling", "rbac.authorization.k8s.io", "networking.k8s.io", "storage.k8s.io", "scheduling.k8s.io",
  "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io", "node.k8s.io", "certificates.k8s.io", "admissionregistration.k8s.io",
  "apiextensions.k8s.io", "apiregistration.k8s.io", "flowcontrol.apiserver.k8s.io", "resource.k8s.io", "extensions", "authentication.k8s.io", "authorization.k8s.io",
]);

export interface Field {
  baseName: string;
  type: string;
  format: string;
  required: boolean;
}
export type Model = Map<string, Field>;

let modelsDir: string | undefined;
function findModelsDir(): string {
  if (modelsDir) return modelsDir;
  let dir = repoRoot();
  for (;;) {
    const candidate = join(dir, "node_modules", "@kubernetes", "client-node", "dist", "gen", "models");
    if (existsSync(candidate)) return (modelsDir = candidate);
    const up = dirname(dir);
    if (up === dir) throw new Error("@kubernetes/client-node is not installed (run npm ci): its models are the schema of built-in kinds");
    dir = up;
  }
}

/** The Kubernetes version the models were generated from (client-node's README compatibility row). */
export const MODELS_KUBERNETES_VERSION = "1.34";

const models = new Map<string, Model | null>();
/** The fields of a built-in model (`V1Deployment`), or null when the API has no such model. */
export function model(name: string): Model | null {
  if (models.has(name)) return models.get(name)!;
  const js = join(findModelsDir(), `${name}.js`);
  if (!existsSync(js)) {
    models.set(name, null);
    return null;
  }
  const text = readFileSync(js, "utf8");
  const m = text.match(/attributeTypeMap = (\[[\s\S]*?\n\]);/);
  const attrs = (m ? JSON.parse(m[1]) : []) as { name: string; baseName: string; type: string; format: string }[];
  const dts = readFileSync(join(findModelsDir(), `${name}.d.ts`), "utf8");
  const required = new Set([...dts.matchAll(/^\s{4}'([^']+)': /gm)].map((x) => x[1]));
  const out: Model = new Map(attrs.map((a) => [a.baseName, { baseName: a.baseName, type: a.type, format: a.format, required: required.has(a.name) }]));
  models.set(name, out);
  return out;
}

/** Quantity-valued maps and fields: Kubernetes accepts a number there as well as a string. */
const QUANTITY = new Set(["limits", "requests", "capacity", "allocatable", "hard", "used", "sizeLimit", "storage"]);

function describe(o: KubeObject): string {
  const ns = o.metadata?.namespace ? `${o.metadata.namespace}/` : "";
  return `${o.apiVersion} ${o.kind} ${ns}${o.metadata?.name ?? "(no name)"}`;
}

function checkType(value: unknown, type: string, path: string, out: (field: string, message: string) => void, key: string): void {
  if (value === null || value === undefined) return;
  const kind = Array.isArray(value) ? "list" : typeof value;
  const expect = (ok: boolean, what: string) => {
    if (!ok) out(path, `expected ${what}, got ${kind} ${JSON.stringify(value).slice(0, 60)}`);
    return ok;
  };
  if (type === "any") return;
  if (type === "string") {
    expect(typeof value === "string" || (QUANTITY.has(key) && typeof value === "number"), "a string");
    return;
  }
  if (type === "number") return void expect(typeof value === "number", "a number");
  if (type === "boolean") return void expect(typeof value === "boolean", "a boolean");
  if (type === "Date") return void expect(typeof value === "string", "a timestamp string");
  if (type === "IntOrString") return void expect(typeof value === "string" || typeof value === "number", "an integer or a string");
  const arr = type.match(/^Array<(.+)>$/);
  if (arr) {
    if (expect(Array.isArray(value), "a list")) (value as unknown[]).forEach((v, i) => checkType(v, arr[1], `${path}[${i}]`, out, key));
    return;
  }
  const map = type.match(/^\{ \[key: string\]: (.+); \}$/);
  if (map) {
    if (expect(kind === "object", "a map")) for (const [k, v] of Object.entries(value as object)) checkType(v, map[1], `${path}.${k}`, out, key);
    return;
  }
  const m = model(type);
  if (!m) return; // a model the client does not describe: nothing to check against
  if (!expect(kind === "object", `an object (${type})`)) return;
  checkModel(value as Record<string, unknown>, m, path, out);
}

function checkModel(value: Record<string, unknown>, m: Model, path: string, out: (field: string, message: string) => void): void {
  for (const [k, v] of Object.entries(value)) {
    const f = m.get(k);
    const p = path ? `${path}.${k}` : k;
    if (!f) out(p, `unknown field "${k}"`);
    else checkType(v, f.type, p, out, k);
  }
  for (const f of m.values()) if (f.required && (value[f.baseName] === undefined || value[f.baseName] === null)) out(path ? `${path}.${f.baseName}` : f.baseName, "missing required field");
}

function checkStructural(value: unknown, schema: StructuralSchema | undefined, path: string, out: (field: string, message: string) => void): void {
  if (!schema || value === null || value === undefined) return;
  if (schema["x-kubernetes-int-or-string"]) {
    if (typeof value !== "string" && typeof value !== "number") out(path, `expected an integer or a string, got ${typeof value}`);
    return;
  }
  const kind = Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
  const t = schema.type as string | undefined;
  if (t) {
    const ok = t === kind || (t === "number" && kind === "integer") || (t === "object" && kind === "object");
    if (!ok) {
      out(path, `expected ${t}, got ${kind} ${JSON.stringify(value).slice(0, 60)}`);
      return;
    }
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkStructural(v, schema.items, `${path}[${i}]`, out));
    return;
  }
  if (kind !== "object") {
    if (schema.enum && !schema.enum.includes(value)) out(path, `must be one of ${schema.enum.join(", ")}, got ${JSON.stringify(value)}`);
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const r of schema.required ?? []) if (obj[r] === undefined || obj[r] === null) out(path ? `${path}.${r}` : r, "missing required field");
  for (const [k, v] of Object.entries(obj)) {
    const p = path ? `${path}.${k}` : k;
    if (schema.properties?.[k]) checkStructural(v, schema.properties[k], p, out);
    else if (schema.additionalProperties && typeof schema.additionalProperties === "object") checkStructural(v, schema.additionalProperties, p, out);
    else if (schema.additionalProperties === true || schema["x-kubernetes-preserve-unknown-fields"]) continue;
    else if (schema.properties || schema.type === "object") out(p, `unknown field "${k}"`);
  }
}

/** Model name of a built-in kind (`apps/v1` Deployment -> V1Deployment, core v1 Event -> CoreV1Event). */
export function builtinModel(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split("/").pop()!;
  const v = version[0].toUpperCase() + version.slice(1);
  for (const name of [`${v}${kind}`, `Core${v}${kind}`]) if (model(name)) return name;
  return undefined;
}

/** Checks one object at a cluster minor; returns its findings. */
export function checkObject(o: KubeObject, minor: string): SchemaFinding[] {
  const findings: SchemaFinding[] = [];
  const object = describe(o);
  const add = (field: string, message: string) => findings.push({ object, field, message });
  if (!o || typeof o.apiVersion !== "string" || typeof o.kind !== "string") {
    add("apiVersion", "missing apiVersion or kind");
    return findings;
  }
  const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
  if (BUILTIN_GROUPS.has(group)) {
    const removed = removedAt(o.apiVersion, o.kind, minor);
    if (removed) add("apiVersion", `${o.apiVersion} ${o.kind} is not served by Kubernetes ${minor} (removed in ${removed})`);
    const name = builtinModel(o.apiVersion, o.kind);
    if (!name) {
      if (!removed) add("apiVersion", `${o.apiVersion} ${o.kind} is not a kind of the Kubernetes API`);
      return findings;
    }
    checkModel(o as Record<string, unknown>, model(name)!, "", add);
    return findings;
  }
  const crd = pinnedCrds().get(`${o.apiVersion}/${o.kind}`);
  if (!crd) {
    // Listed, with its reason, in CRDS_NOT_IN_CHART_SOURCES: reported as not schema-checked.
    if (notSchemaChecked(o)) return findings;
    add("apiVersion", `${o.apiVersion} ${o.kind}: no CRD for it in the pinned chart sources`);
    return findings;
  }
  if (!crd.served) add("apiVersion", `${o.apiVersion} ${o.kind} is not served by its CRD (${crd.source})`);
  const { apiVersion: _a, kind: _k, metadata, ...rest } = o;
  if (metadata) checkModel(metadata as Record<string, unknown>, model("V1ObjectMeta")!, "metadata", add);
  const schema: StructuralSchema | undefined = crd.schema ? { ...crd.schema, properties: { ...crd.schema.properties } } : undefined;
  if (schema) {
    delete schema.properties.apiVersion;
    delete schema.properties.kind;
    delete schema.properties.metadata;
    schema.required = (schema.required ?? []).filter((r: string) => !["apiVersion", "kind", "metadata"].includes(r));
  }
  checkStructural(rest, schema, "", add);
  return findings;
}
