/**
 * Terraform CLI plumbing shared by `make validate`, the local rehearsal and the tests:
 * find the CLI and check its version, find the provider filesystem mirror, write a
 * project-local CLI configuration, and run commands with clear failures.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { REPO_ROOT } from "../../config/paths";
import { TERRAFORM_MIN_VERSION, TERRAFORM_PROVIDERS } from "../../config/versions";

export { REPO_ROOT };
const CACHE_DIR = join(REPO_ROOT, "node_modules", ".cache", "cnc-platform");

/** A failure the user can act on: the message is one paragraph saying what to do. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolError";
  }
}

function versionAtLeast(actual: string, wanted: string): boolean {
  const a = actual.split(".").map(Number);
  const w = wanted.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (w[i] ?? 0)) return (a[i] ?? 0) > (w[i] ?? 0);
  }
  return true;
}

/** Returns the Terraform version on PATH, or throws a ToolError saying what to install. */
export function checkTerraform(): string {
  const binary = process.env.TERRAFORM_BINARY || "terraform";
  let out: string;
  try {
    out = execFileSync(binary, ["version", "-json"], { encoding: "utf8", env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null" }, stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    throw new ToolError(
      `Terraform CLI not found ("${binary}" is not on PATH). Install Terraform ${TERRAFORM_MIN_VERSION} or newer ` +
        `(https://developer.hashicorp.com/terraform/install) and run the command again.`,
    );
  }
  const version = (JSON.parse(out) as { terraform_version: string }).terraform_version;
  if (!versionAtLeast(version, TERRAFORM_MIN_VERSION)) {
    throw new ToolError(
      `Terraform ${version} is too old: this project needs ${TERRAFORM_MIN_VERSION} or newer (S3-native state locking). ` +
        `Install a newer Terraform and run the command again.`,
    );
  }
  return version;
}

function platform(): string {
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch as "x64" | "arm64"] ?? process.arch;
  return `${process.platform}_${arch}`;
}

/** The mirror root holding `registry.terraform.io/hashicorp/<name>/<version>/<os_arch>/` for a provider. */
function holdsProvider(root: string, name: string, version: string): boolean {
  const dir = join(root, "registry.terraform.io", "hashicorp", name, version, platform());
  return existsSync(dir) && readdirSync(dir).some((f) => f.startsWith(`terraform-provider-${name}_`));
}

/**
 * Finds a filesystem mirror holding the pinned AWS provider: $TF_PROVIDER_MIRROR, the usual plugin
 * folders, then a search of the filesystem (cached). Never hard-coded: machines differ.
 */
export function findProviderMirror(): string {
  const { version } = TERRAFORM_PROVIDERS.aws;
  const candidates = [
    process.env.TF_PROVIDER_MIRROR,
    join(homedir(), ".terraform.d", "plugins"),
    join(homedir(), ".local", "share", "terraform", "plugins"),
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
  ].filter((c): c is string => !!c);
  const cacheFile = join(CACHE_DIR, "provider-mirror.json");
  if (existsSync(cacheFile)) candidates.push((JSON.parse(readFileSync(cacheFile, "utf8")) as { root: string }).root);
  for (const c of candidates) if (holdsProvider(c, "aws", version)) return c;

  if (process.env.TF_PROVIDER_MIRROR) {
    throw new ToolError(`TF_PROVIDER_MIRROR=${process.env.TF_PROVIDER_MIRROR} holds no hashicorp/aws ${version} provider for ${platform()}.`);
  }
  // The usual install places first (fast), then the whole filesystem.
  const search = (roots: string[], timeout: number) =>
    spawnSync(
      "find",
      [...roots, "(", "-path", "/proc", "-o", "-path", "/sys", "-o", "-path", "/dev", "-o", "-name", "node_modules", "-o", "-name", ".git", ")", "-prune", "-o",
        "-type", "f", "-name", `terraform-provider-aws_v${version}_*`, "-print"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout },
    ).stdout ?? "";
  const usual = ["/opt", "/usr/local", "/usr/share", "/usr/lib", "/var/lib", "/root", "/home", "/srv"].filter((d) => existsSync(d));
  let found = search(usual, 60_000);
  if (!found.trim()) found = search(["/"], 300_000);
  for (const file of found.split("\n").filter(Boolean)) {
    // <root>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/<binary>
    const root = resolve(dirname(file), "..", "..", "..", "..", "..");
    if (holdsProvider(root, "aws", version)) {
      mkdirSync(CACHE_DIR, { recursive: true });
      writeFileSync(cacheFile, JSON.stringify({ root }));
      return root;
    }
  }
  throw new ToolError(
    `No filesystem mirror of the hashicorp/aws ${version} provider was found on this machine. Offline validation needs it: ` +
      `put the provider in a mirror folder (registry.terraform.io/hashicorp/aws/${version}/${platform()}/) and export TF_PROVIDER_MIRROR=<that folder>, ` +
      `or skip the check with SKIP_TERRAFORM_VALIDATE=1.`,
  );
}

/** Which of our providers the mirror holds (the others cannot be initialized offline). */
export function mirroredProviders(mirror: string): Set<string> {
  const held = new Set<string>();
  for (const [name, p] of Object.entries(TERRAFORM_PROVIDERS)) if (holdsProvider(mirror, name, p.version)) held.add(name);
  return held;
}

/**
 * Writes a project-local Terraform CLI configuration that installs providers only from the mirror
 * (no registry access), and returns its path. Unpacked mirrors are symlinked, not copied, so a
 * 700 MB provider costs nothing per stack.
 */
export function writeCliConfig(mirror: string, dir = CACHE_DIR): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "terraformrc");
  writeFileSync(
    file,
    `# Written by scripts/lib/terraform.ts: providers come from the local filesystem mirror only.\n` +
      `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n` +
      `disable_checkpoint = true\n`,
  );
  return file;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs terraform in `cwd` with the given CLI config; resolves with output (never rejects on exit code). */
export function terraform(
  args: string[],
  cwd: string,
  cliConfig: string,
  extraEnv: NodeJS.ProcessEnv = {},
  onLine?: (line: string) => void,
  timeoutMs?: number,
): Promise<RunResult & { timedOut?: boolean }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.env.TERRAFORM_BINARY || "terraform", args, {
      cwd,
      env: { ...process.env, ...(cliConfig ? { TF_CLI_CONFIG_FILE: cliConfig } : {}), TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1", ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let pending = "";
    child.stdout.on("data", (d: Buffer) => {
      const text = d.toString();
      stdout += text;
      if (onLine) {
        pending += text;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        lines.forEach(onLine);
      }
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const timer = timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGINT"); // terraform stops gracefully and keeps its state consistent
          setTimeout(() => child.kill("SIGKILL"), 30_000).unref();
        }, timeoutMs)
      : undefined;
    child.on("error", reject);
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      if (onLine && pending) onLine(pending);
      resolvePromise({ code: code ?? 1, stdout, stderr, timedOut });
    });
  });
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping result order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return results;
}
