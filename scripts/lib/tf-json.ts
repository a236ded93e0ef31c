/**
 * Operations on a synthesized stack (`cdk.tf.json`) used by offline validation and the local
 * rehearsal: list its resources, and hold back the ones that cannot be checked or applied here
 * (with everything that depends on them), saying why for each.
 */

export type TfJson = {
  terraform?: { backend?: Record<string, unknown>; required_providers?: Record<string, unknown> } & Record<string, unknown>;
  provider?: Record<string, unknown>;
  resource?: Record<string, Record<string, unknown>>;
  data?: Record<string, Record<string, unknown>>;
  output?: Record<string, unknown>;
  locals?: Record<string, unknown>;
} & Record<string, unknown>;

export interface HeldBack {
  /** Terraform address, e.g. `helm_release.thanos_ABC` or `data.aws_eks_cluster.cnc_123`. */
  address: string;
  /** One sentence: why it was held back. */
  reason: string;
}

export interface PruneResult {
  json: TfJson;
  heldBack: HeldBack[];
  /** Addresses of the resources (not data sources) that remain. */
  kept: string[];
  /** Outputs removed because they read a held-back item. */
  droppedOutputs: string[];
}

/** Every resource and data source of a stack as address -> body. */
export function items(json: TfJson): Map<string, { kind: "resource" | "data"; type: string; body: unknown }> {
  const out = new Map<string, { kind: "resource" | "data"; type: string; body: unknown }>();
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    for (const [name, body] of Object.entries(byName)) out.set(`${type}.${name}`, { kind: "resource", type, body });
  }
  for (const [type, byName] of Object.entries(json.data ?? {})) {
    for (const [name, body] of Object.entries(byName)) out.set(`data.${type}.${name}`, { kind: "data", type, body });
  }
  return out;
}

/** Provider local name of a resource type (`aws_vpc` -> `aws`, `helm_release` -> `helm`). */
export const providerOf = (type: string) => type.split("_")[0];

const REF = /(?:data\.)?[a-z][a-z0-9_]*\.[A-Za-z0-9_-]+/g;

/** Addresses among `known` that `body` references (interpolations and depends_on alike). */
export function referencesIn(body: unknown, known: ReadonlySet<string>): string[] {
  const text = JSON.stringify(body);
  const found = new Set<string>();
  for (const m of text.matchAll(REF)) if (known.has(m[0])) found.add(m[0]);
  return [...found];
}

/**
 * Removes the items `hold` picks (it returns a reason, or undefined to keep), then everything that
 * references a removed item, transitively, plus provider blocks of providers left without users.
 */
export function prune(
  json: TfJson,
  hold: (address: string, type: string, kind: "resource" | "data") => string | undefined,
  /** Providers to remove whatever happens (e.g. not installable here). */
  unavailableProvider: (name: string) => boolean = () => false,
): PruneResult {
  const all = items(json);
  const known = new Set(all.keys());
  const held = new Map<string, string>();
  for (const [address, item] of all) {
    const reason = hold(address, item.type, item.kind);
    if (reason) held.set(address, reason);
  }
  // Dependents of held items cannot be planned either; iterate to a fixed point.
  const deps = new Map<string, string[]>();
  for (const [address, item] of all) deps.set(address, referencesIn(item.body, known).filter((a) => a !== address));
  let changed = true;
  while (changed) {
    changed = false;
    for (const [address, refs] of deps) {
      if (held.has(address)) continue;
      const blocker = refs.find((r) => held.has(r));
      if (blocker) {
        held.set(address, `depends on held-back ${blocker}`);
        changed = true;
      }
    }
  }

  const out: TfJson = JSON.parse(JSON.stringify(json));
  for (const section of ["resource", "data"] as const) {
    const byType = out[section] ?? {};
    for (const [type, byName] of Object.entries(byType)) {
      for (const name of Object.keys(byName)) {
        if (held.has(section === "data" ? `data.${type}.${name}` : `${type}.${name}`)) delete byName[name];
      }
      if (Object.keys(byName).length === 0) delete byType[type];
    }
    if (out[section] && Object.keys(out[section]!).length === 0) delete out[section];
  }
  const droppedOutputs: string[] = [];
  for (const [name, body] of Object.entries(out.output ?? {})) {
    if (referencesIn(body, new Set(held.keys())).length) {
      delete out.output![name];
      droppedOutputs.push(name);
    }
  }
  if (out.output && Object.keys(out.output).length === 0) delete out.output;

  // A provider nobody uses any more is removed, with its requirement, so `init` need not fetch it.
  const usedBefore = new Set<string>();
  const used = new Set<string>();
  for (const address of known) {
    usedBefore.add(providerOf(all.get(address)!.type));
    if (!held.has(address)) used.add(providerOf(all.get(address)!.type));
  }
  const providers = new Set([...Object.keys(out.provider ?? {}), ...Object.keys(out.terraform?.required_providers ?? {})]);
  for (const name of providers) {
    if (unavailableProvider(name) || (usedBefore.has(name) && !used.has(name))) {
      if (out.provider) delete out.provider[name];
      delete out.terraform?.required_providers?.[name];
    }
  }

  if (out.provider && Object.keys(out.provider).length === 0) delete out.provider;
  const heldBack = [...held].map(([address, reason]) => ({ address, reason })).sort((a, b) => a.address.localeCompare(b.address));
  const kept = [...known].filter((a) => !held.has(a) && !a.startsWith("data."));
  return { json: out, heldBack, kept, droppedOutputs };
}

/** Replaces whatever backend the stack has with a local one at `path` (for offline checks). */
export function withLocalBackend(json: TfJson, path: string): TfJson {
  const out: TfJson = JSON.parse(JSON.stringify(json));
  out.terraform = { ...(out.terraform ?? {}), backend: { local: { path } } };
  return out;
}
