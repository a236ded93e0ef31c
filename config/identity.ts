/**
 * Cross-environment identity check. Adding an environment is copying a folder, and a copy keeps
 * the original's identity: its state bucket, its `<env>/…` secret names, its `Environment` tag,
 * its zone ids, account, region and VPC blocks. A forgotten field would make the new
 * environment read the other's secrets and write state next to the other's, so an environment
 * is refused when
 *
 * - a name-bearing field (state bucket, secret names, tags, account alias, API audience,
 *   domains) carries another declared environment's name, or
 * - its state bucket, a zone id, or its account + region + an overlapping VPC block is also
 *   another declared environment's, unless both list each other in `sharesWith`.
 *
 * Loading one environment (ENVIRONMENT=staging) still compares it with every other folder: the
 * others are read raw (their default export, no schema validation) for these fields only, and a
 * folder that does not load is skipped here (its own load reports it).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { cidrsOverlap } from "./cidr";
import { EnvironmentError } from "./load";
import type { Environment } from "./schema";

const FILE = "environment.ts";

/** The fields of an environment that make it this environment and no other. */
export interface Identity {
  name: string;
  target: string;
  accountId?: string;
  region?: string;
  stateBucket?: string;
  /** Every name-bearing string, by field path (`alerts.webhookSecretName`, `tags.Environment`). */
  named: Array<[path: string, value: string]>;
  /** The C&C and workload VPC blocks, by field path. */
  cidrs: Array<[path: string, cidr: string]>;
  zoneIds: Array<[path: string, id: string]>;
  sharesWith: string[];
}

/** Field paths whose values name things that belong to one environment only. */
const NAME_BEARING = [
  /^stateBucket$/,
  /^tags\./,
  /secretName$/i,
  /^secrets\./,
  /^provisioner\.accountAlias$/,
  /^provisioner\.apiAuth\.audience$/,
  /^dns\.(private|public)Domain$/,
  /^workloads\[\d+\]\.installations\[\d+\]\.dns$/,
];

function strings(value: unknown, path: string, out: Array<[string, string]>): void {
  if (typeof value === "string") out.push([path, value]);
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, `${path}[${i}]`, out));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) strings(v, path ? `${path}.${k}` : k, out);
  }
}

/** The identity of a validated environment or of a raw (unvalidated) environment object. */
export function identityOf(name: string, env: unknown): Identity {
  const e = (env ?? {}) as Record<string, any>;
  const all: Array<[string, string]> = [];
  strings(e, "", all);
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const cidrs: Array<[string, string]> = [];
  if (str(e.network?.cidr)) cidrs.push(["network.cidr", e.network.cidr]);
  (Array.isArray(e.workloads) ? e.workloads : []).forEach((w: any, i: number) => str(w?.cidr) && cidrs.push([`workloads[${i}].cidr`, w.cidr]));
  const zoneIds: Array<[string, string]> = [];
  for (const k of ["privateZoneId", "publicZoneId"]) if (str(e.dns?.[k])) zoneIds.push([`dns.${k}`, e.dns[k]]);
  return {
    name,
    target: str(e.target) ?? "aws",
    accountId: str(e.accountId),
    region: str(e.region),
    stateBucket: str(e.stateBucket),
    named: all.filter(([p]) => NAME_BEARING.some((re) => re.test(p))),
    cidrs,
    zoneIds,
    sharesWith: Array.isArray(e.sharesWith) ? e.sharesWith.filter((s: unknown): s is string => typeof s === "string") : [],
  };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** `name` as a whole token: delimited by anything but a letter or digit ("cloud-prod-tfstate", "prod/cnc/x"). */
const token = (name: string) => new RegExp(`(?<![a-z0-9])${escape(name)}(?![a-z0-9])`, "gi");

/** Does `value` (a field of environment `own`) name environment `other`? Its own name is ignored first. */
export function carriesName(value: string, own: string, other: string): boolean {
  return token(other).test(value.replace(token(own), " "));
}

/** Every identity problem of `env` against the other declared environments, one line each. */
export function identityProblems(env: Identity, others: readonly Identity[]): string[] {
  const problems: string[] = [];
  for (const other of others) {
    if (other.name === env.name) continue;
    for (const [path, value] of env.named) {
      if (carriesName(value, env.name, other.name)) {
        problems.push(`${path}: "${value}" carries the name of environment "${other.name}" (a copied value?); use ${env.name}'s own`);
      }
    }
    const collisions: string[] = [];
    const bothAws = env.target === "aws" && other.target === "aws";
    if (bothAws && env.stateBucket && env.stateBucket === other.stateBucket) {
      collisions.push(`stateBucket: "${env.stateBucket}" is also the state bucket of environment "${other.name}"`);
    }
    if (bothAws) {
      for (const [path, id] of env.zoneIds) {
        const theirs = other.zoneIds.find(([, o]) => o === id);
        if (theirs) collisions.push(`${path}: ${id} is also ${theirs[0]} of environment "${other.name}"`);
      }
    }
    if (bothAws && env.accountId && env.accountId === other.accountId && env.region === other.region) {
      for (const [path, cidr] of env.cidrs) {
        const theirs = other.cidrs.find(([, o]) => cidrsOverlap(cidr, o));
        if (theirs) {
          collisions.push(
            `${path}: ${cidr} overlaps ${theirs[0]} (${theirs[1]}) of environment "${other.name}" in the same account ${env.accountId} and region ${env.region}`,
          );
        }
      }
    }
    if (collisions.length === 0) continue;
    const mine = env.sharesWith.includes(other.name);
    const theirs = other.sharesWith.includes(env.name);
    if (mine && theirs) continue;
    const hint = mine
      ? ` (${env.name} lists "${other.name}" in sharesWith, but ${other.name} does not list "${env.name}")`
      : "";
    problems.push(...collisions.map((c) => c + hint));
  }
  return problems;
}

/** Raw identities of every environment folder under `root` but `skip` (already loaded). */
function declaredIdentities(root: string, skip: ReadonlySet<string>): Identity[] {
  if (!existsSync(root)) return [];
  const out: Identity[] = [];
  for (const d of readdirSync(root, { withFileTypes: true })) {
    const file = join(root, d.name, FILE);
    if (!d.isDirectory() || skip.has(d.name) || !existsSync(file)) continue;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const raw = (require(file) as { default?: unknown }).default;
      if (raw !== undefined) out.push(identityOf(d.name, raw));
    } catch {
      // A folder that does not load is reported when it is itself loaded, not as another's problem.
    }
  }
  return out;
}

/**
 * Refuses any of `loaded` that carries another declared environment's identity (see the top of
 * this file). `root` is the environments folder; the environments not loaded are read raw.
 */
export function checkIdentities(loaded: readonly Environment[], root: string): void {
  const mine = loaded.map((e) => identityOf(e.name, e));
  const all = [...mine, ...declaredIdentities(root, new Set(loaded.map((e) => e.name)))];
  // The copy, not the original, is at fault: an environment whose fields carry another's name is reported first.
  const found = mine
    .map((env) => ({ env, problems: identityProblems(env, all) }))
    .filter((f) => f.problems.length > 0)
    .sort((a, b) => Number(b.problems.some((p) => p.includes("carries the name"))) - Number(a.problems.some((p) => p.includes("carries the name"))));
  for (const { env, problems } of found) {
    const file = join(root, env.name, FILE);
    const rel = file.startsWith(process.cwd() + "/") ? file.slice(process.cwd().length + 1) : file;
    throw new EnvironmentError(
      `${rel} keeps another environment's identity:\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
        `Give ${env.name} its own state bucket, secret names, tags, zones and network (a copied folder keeps the original's), ` +
        `or, where two environments share a state bucket, zone or account/region/CIDR on purpose, list each other in \`sharesWith\`.`,
    );
  }
}
