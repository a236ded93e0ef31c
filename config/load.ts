/**
 * Finds and validates environments. An environment is a folder `environments/<name>/` holding
 * `environment.ts` whose default export is an EnvironmentInput; copying a folder adds one.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { z } from "zod";
import { environmentSchema, type Environment } from "./schema";
import { checkIdentities } from "./identity";

export const ENVIRONMENT_FILE = "environment.ts";
export const DEFAULT_ENVIRONMENTS_DIR = resolve(__dirname, "..", "environments");

/** A user-facing configuration problem: the message says which file, which field and what to do. */
export class EnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnvironmentError";
  }
}

const ENV_NAME = /^[a-z][a-z0-9-]{0,19}$/;

function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}

/** Names of every folder under `root` that holds an environment file, sorted. */
export function discoverEnvironments(root = DEFAULT_ENVIRONMENTS_DIR): string[] {
  if (!existsSync(root)) {
    throw new EnvironmentError(`No environments folder at ${display(root)}: create environments/<name>/${ENVIRONMENT_FILE} (copy environments/prod).`);
  }
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, ENVIRONMENT_FILE)))
    .map((d) => d.name)
    .sort();
}

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    out += typeof part === "number" ? `[${part}]` : out ? `.${String(part)}` : String(part);
  }
  return out || "(top level)";
}

/** Turns zod issues into one line each: `field: what was expected`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], raw?: unknown): string[] {
  const at = (path: readonly PropertyKey[]) =>
    path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), raw);
  return issues.map((issue) => {
    const where = pathText(issue.path);
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.map((k) => `"${k}"`).join(", ");
      return `${where}: unknown key ${keys} (check the spelling against config/schema.ts)`;
    }
    if (issue.code === "invalid_type" && (/received undefined/.test(issue.message) || (raw !== undefined && at(issue.path) === undefined))) {
      return `${where}: is missing (expected ${issue.expected === "string" ? "a string" : issue.expected})`;
    }
    if (issue.code === "invalid_value" && "values" in issue) {
      const got = raw !== undefined ? `, got ${JSON.stringify(at(issue.path))}` : "";
      return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}${got}`;
    }
    return `${where}: ${issue.message}`;
  });
}

/** Validates a raw environment object; `file` is only used in messages. */
export function parseEnvironment(name: string, raw: unknown, file: string): Environment {
  if (!ENV_NAME.test(name)) {
    throw new EnvironmentError(
      `${display(file)}: the folder name "${name}" cannot name an environment; use a lower-case DNS label of at most 20 characters (it prefixes every stack and resource name).`,
    );
  }
  const result = environmentSchema.safeParse(raw);
  if (!result.success) {
    const lines = describeIssues(result.error.issues, raw);
    throw new EnvironmentError(
      `${display(file)} is not a valid environment:\n${lines.map((l) => `  - ${l}`).join("\n")}\n` +
        `Fix the field(s) above (each is documented in config/schema.ts) and synthesize again.`,
    );
  }
  return { ...result.data, name };
}

/** Loads and validates `root/<name>/environment.ts`. */
export function loadEnvironment(name: string, root = DEFAULT_ENVIRONMENTS_DIR): Environment {
  const file = join(root, name, ENVIRONMENT_FILE);
  if (!existsSync(file)) {
    const known = existsSync(root) ? discoverEnvironments(root) : [];
    throw new EnvironmentError(
      `There is no environment "${name}" (no ${display(file)}). Known environments: ${known.join(", ") || "none"}. ` +
        `To add one, copy environments/prod to environments/${name} and edit it.`,
    );
  }
  let raw: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as { default?: unknown };
    raw = mod.default;
  } catch (err) {
    throw new EnvironmentError(`${display(file)} could not be loaded: ${(err as Error).message.split("\n")[0]}. Fix the file's syntax and synthesize again.`);
  }
  if (raw === undefined) {
    throw new EnvironmentError(`${display(file)} has no default export; end it with \`export default environment;\` (see environments/prod).`);
  }
  return parseEnvironment(name, raw, file);
}

/** Every environment (or only `only`), validated; the first invalid one stops everything. */
export function loadEnvironments(options: { root?: string; only?: string } = {}): Environment[] {
  const root = options.root ?? DEFAULT_ENVIRONMENTS_DIR;
  const names = options.only ? [options.only] : discoverEnvironments(root);
  const environments = names.map((n) => loadEnvironment(n, root));
  // A copied folder must not keep another environment's identity (config/identity.ts).
  checkIdentities(environments, root);
  return environments;
}
