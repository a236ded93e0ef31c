/**
 * Lists the stacks of ENVIRONMENT in deployment order (the order `make all` applies them), one per
 * line, or as a JSON array with --json (the CI diff matrix). --skip <layer> leaves out
 * `<env>-<layer>` (CI skips bootstrap, whose state is local to the person who applied it).
 *
 *   tsx scripts/stacks.ts [--json] [--skip bootstrap]
 *   tsx scripts/stacks.ts --environments [--json]   the real environments (target aws), for the workflows' matrices
 */
import { App } from "cdktf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvironmentError, loadEnvironment, loadEnvironments } from "../config/load";
import { MissingBundleError } from "../constructs/bundle";
import { buildEnvironment } from "../stacks";

const args = process.argv.slice(2);
const skip = args.includes("--skip") ? args[args.indexOf("--skip") + 1] : undefined;
const outdir = mkdtempSync(join(tmpdir(), "cnc-stacks-"));
try {
  if (args.includes("--environments")) {
    const real = loadEnvironments({}).filter((e) => e.target === "aws").map((e) => e.name);
    process.stdout.write(args.includes("--json") ? `${JSON.stringify(real)}\n` : `${real.join("\n")}\n`);
  } else {
    const env = loadEnvironment(process.env.ENVIRONMENT?.trim() || "local");
    const names = buildEnvironment(new App({ outdir }), env)
      .ordered.map((s) => s.node.id)
      .filter((n) => !skip || n !== `${env.name}-${skip}`);
    process.stdout.write(args.includes("--json") ? `${JSON.stringify(names)}\n` : `${names.join("\n")}\n`);
  }
} catch (err) {
  if (err instanceof EnvironmentError || err instanceof MissingBundleError) {
    process.stderr.write(`\nError: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
