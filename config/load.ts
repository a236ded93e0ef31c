/**
 * Finds and validates environments. An environment is a folder `environments/<name>/` holding
 * `environment.ts` whose default export is an EnvironmentInput; copying a folder adds one.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { BuildFailure } from "esbuild";
import Module from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { REPO_ROOT } from "./paths";
import type { z } from "zod";
import { environmentSchema, type Environment } from "./schema";
import { checkIdentities } from "./identity";

export const ENVIRONMENT_FILE = "environment.ts";
/** Beside the environment file: the provisioner database's restores, written by `make restore-db`. */
export const RESTORES_FILE = "database-restores.json";
export const DEFAULT_ENVIRONMENTS_DIR = join(REPO_ROOT, "environments");

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

/**
 * Compiles an environment file (and whatever it imports from the repository) with esbuild and
 * evaluates it as a CommonJS module. No TypeScript loader is needed, so the precompiled app
 * (dist/app) loads environments exactly as the sources do. A syntax error is reported with
 * esbuild's location and text; an error thrown while evaluating is reported with its message.
 */
function evaluateEnvironmentFile(file: string): Record<string, unknown> {
  const code = cachedCompile(file) ?? compileEnvironmentFile(file);
  const mod = new Module(file);
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(file));
  try {
    (mod as unknown as { _compile(code: string, filename: string): void })._compile(code, file);
  } catch (err) {
    throw new EnvironmentError(`${display(file)} could not be loaded: ${(err as Error).message.split("\n")[0]}. Fix the file and synthesize again.`);
  }
  return mod.exports as Record<string, unknown>;
}

/**
 * Compiled environment files are kept in node_modules/.cache/cnc-platform/environments/, with the
 * hash of every file that went into them: starting esbuild costs more than the rest of loading
 * an environment, and environment files rarely change between two synths.
 */
const COMPILE_CACHE_DIR = join(REPO_ROOT, "node_modules", ".cache", "cnc-platform", "environments");
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const cacheEntry = (file: string) => join(COMPILE_CACHE_DIR, `${createHash("sha256").update(file).digest("hex").slice(0, 32)}.json`);

function cachedCompile(file: string): string | undefined {
  try {
    const entry = JSON.parse(readFileSync(cacheEntry(file), "utf8")) as { inputs: Record<string, string>; code: string };
    return Object.entries(entry.inputs).every(([path, digest]) => sha256(path) === digest) ? entry.code : undefined;
  } catch {
    return undefined; // no entry, or an input is gone: compile
  }
}

function compileEnvironmentFile(file: string): string {
  let code: string;
  let inputs: Record<string, string>;
  try {
    // Loaded only here: a synth whose environment files are cached never starts esbuild.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { buildSync } = require("esbuild") as typeof import("esbuild");
    const out = buildSync({
      entryPoints: [file],
      bundle: true,
      packages: "external",
      write: false,
      platform: "node",
      format: "cjs",
      target: "node20",
      logLevel: "silent",
      metafile: true,
      absWorkingDir: dirname(file),
    });
    code = out.outputFiles[0].text;
    inputs = Object.fromEntries(Object.keys(out.metafile.inputs).map((p) => resolve(dirname(file), p)).map((p) => [p, sha256(p)]));
  } catch (err) {
    const messages = (err as BuildFailure).errors ?? [];
    if (!messages.length) throw err;
    const lines = messages.map((m) => {
      const at = m.location ? `${display(resolve(dirname(file), m.location.file))}:${m.location.line}:${m.location.column + 1}: ` : "";
      const source = m.location?.lineText ? `\n      ${m.location.lineText.trim()}` : "";
      return `  - ${at}${m.text}${source}`;
    });
    throw new EnvironmentError(`${display(file)} has a syntax error:\n${lines.join("\n")}\nFix the file and synthesize again.`);
  }
  try {
    mkdirSync(COMPILE_CACHE_DIR, { recursive: true });
    const tmp = `${cacheEntry(file)}.${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ inputs, code }));
    renameSync(tmp, cacheEntry(file));
  } catch {
    // a read-only checkout only loses the speed-up
  }
  return code;
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
  const raw = (evaluateEnvironmentFile(file) as { default?: unknown }).default;
  if (raw === undefined) {
    throw new EnvironmentError(`${display(file)} has no default export; end it with \`export default environment;\` (see environments/prod).`);
  }
  const restores = join(root, name, RESTORES_FILE);
  if (existsSync(restores) && raw && typeof raw === "object") {
    let parsed: { provisioner?: unknown };
    try {
      parsed = JSON.parse(readFileSync(restores, "utf8")) as { provisioner?: unknown };
    } catch (err) {
      throw new EnvironmentError(`${display(restores)} is not valid JSON (${(err as Error).message}); make restore-db writes it: take it from git as it was.`);
    }
    const input = raw as { provisioner?: Record<string, unknown> };
    return parseEnvironment(name, { ...input, provisioner: { ...input.provisioner, restores: parsed.provisioner ?? [] } }, file);
  }
  return parseEnvironment(name, raw, file);
}

/**
 * Every environment (or only `only`), validated. Any invalid one stops everything (a synth must
 * not silently drop an environment's stacks); the error names every broken folder and how to work
 * on the valid ones meanwhile.
 */
export function loadEnvironments(options: { root?: string; only?: string } = {}): Environment[] {
  const root = options.root ?? DEFAULT_ENVIRONMENTS_DIR;
  if (options.only) {
    const environments = [loadEnvironment(options.only, root)];
    // A copied folder must not keep another environment's identity (config/identity.ts).
    checkIdentities(environments, root);
    return environments;
  }
  const loaded: Environment[] = [];
  const broken: string[] = [];
  for (const name of discoverEnvironments(root)) {
    try {
      loaded.push(loadEnvironment(name, root));
    } catch (err) {
      if (!(err instanceof EnvironmentError)) throw err;
      broken.push(err.message);
    }
  }
  if (broken.length) {
    const meanwhile = loaded.length
      ? ` To work on ${loaded.map((e) => e.name).join(" or ")} meanwhile, select it: ENVIRONMENT=${loaded[0].name} npx cdktf synth (every make target takes ENVIRONMENT too).`
      : "";
    throw new EnvironmentError(`${broken.join("\n\n")}\n\nWith ENVIRONMENT unset, every folder under environments/ is synthesized, so ${broken.length === 1 ? "this one stops" : "these stop"} all of them.${meanwhile}`);
  }
  checkIdentities(loaded, root);
  return loaded;
}
