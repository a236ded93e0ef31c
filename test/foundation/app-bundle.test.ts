/**
 * The precompiled app (dist/app, run by scripts/app.cjs, cdktf.json's "app"): it synthesizes
 * exactly what cdktf's default path synthesizes from the sources, never runs or ships code older
 * than its sources, and does not depend on where it is started from.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { App, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcPeeringConnection } from "@cdktf/provider-aws/lib/vpc-peering-connection";
import { buildEnvironment } from "../../stacks";
import { environment } from "../support/synth";
import { PlatformStack } from "../../stacks/platform-stack";
import { refuseCrossStackReferences, synthesize } from "../../scripts/lib/synth";
import { appCommand } from "../../scripts/lib/bench-app";

const REPO = resolve(__dirname, "..", "..");

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Runs cdktf.json's app command as cdktf does (through a shell) in `cwd`. */
function runApp(cwd: string, env: Record<string, string>) {
  return spawnSync("sh", ["-c", appCommand()], { cwd, encoding: "utf8", env: { ...process.env, CDKTF_QUIET: "", ...env } });
}

describe("the precompiled app", () => {
  const work = mkdtempSync(join(tmpdir(), "app-bundle-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("is what cdktf.json runs, with no TypeScript loader", () => {
    expect(appCommand()).toBe("node --max-semi-space-size=32 scripts/app.cjs");
  });

  it("synthesizes byte for byte what cdktf's default path synthesizes from the sources, for every shipped environment", () => {
    // Reference: the TypeScript sources, cdktf's own prepareStack (the cross-stack pass the
    // platform skips) and cdktf's own creation stacks (which the bundle records only on demand).
    const reference = join(work, "reference");
    const skip = PlatformStack.prototype.prepareStack;
    PlatformStack.prototype.prepareStack = TerraformStack.prototype.prepareStack;
    try {
      synthesize({ outdir: reference });
    } finally {
      PlatformStack.prototype.prepareStack = skip;
    }
    const bundled = join(work, "bundled");
    const run = runApp(REPO, { CDKTF_OUTDIR: bundled, ENVIRONMENT: "" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);

    const files = filesUnder(reference);
    expect(files.filter((f) => f.endsWith("cdk.tf.json")).length).toBeGreaterThanOrEqual(14);
    expect(filesUnder(bundled)).toEqual(files);
    const differing = files.filter((f) => !readFileSync(join(reference, f)).equals(readFileSync(join(bundled, f))));
    expect(differing).toEqual([]);
  });

  it("prints its stack listing on stdout (cdktf's CLI shows an app's stderr as errors)", () => {
    const run = runApp(REPO, { CDKTF_OUTDIR: join(work, "listing"), ENVIRONMENT: "local" });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^environment local \(emulator, us-east-1\): local-bootstrap, local-cluster, /m);
    expect(run.stderr).toBe("");
  });

  it("finds the repository from its own location, wherever it is started", () => {
    const elsewhere = join(work, "elsewhere");
    mkdirSync(elsewhere);
    const run = spawnSync(process.execPath, [join(REPO, "scripts", "app.cjs")], {
      cwd: elsewhere,
      encoding: "utf8",
      env: { ...process.env, ENVIRONMENT: "local", CDKTF_QUIET: "1" },
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(existsSync(join(elsewhere, "cdktf.out", "stacks", "local-cluster", "cdk.tf.json"))).toBe(true);
  });

  it("shows an environment file's syntax error with esbuild's location and text", () => {
    const envs = join(work, "broken-envs");
    mkdirSync(join(envs, "oops"), { recursive: true });
    const text = readFileSync(join(REPO, "environments", "local", "environment.ts"), "utf8").replace('region: "us-east-1",', 'region: "us-east-1"\n  region2 "x",');
    writeFileSync(join(envs, "oops", "environment.ts"), text);
    const run = runApp(REPO, { ENVIRONMENTS_DIR: envs, ENVIRONMENT: "oops", CDKTF_OUTDIR: join(work, "oops-out") });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/oops\/environment\.ts has a syntax error:\n {2}- .*oops\/environment\.ts:\d+:\d+: Expected "}" but found "region2"/);
    expect(run.stderr).toMatch(/region2 "x",/); // the offending line
    expect(run.stderr).not.toMatch(/Transform failed|at Object\.|node:internal/);
  });
});

describe("references across stacks (the pass the app skips)", () => {
  it("are refused by every in-process synthesis, naming both stacks, even where the two stacks share logical ids", () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), "xref-")) });
    const cnc = new TerraformStack(app, "t-cluster");
    const workload = new TerraformStack(app, "t-workload-a");
    for (const s of [cnc, workload]) new AwsProvider(s, "aws", { region: "us-east-1" });
    // The same construct path in both stacks gives the same logical id: a plain reference would
    // silently name the workload's own VPC.
    const cncVpc = new Vpc(new Construct(cnc, "network"), "vpc", { cidrBlock: "10.0.0.0/16" });
    const ownVpc = new Vpc(new Construct(workload, "network"), "vpc", { cidrBlock: "10.1.0.0/16" });
    new VpcPeeringConnection(workload, "peer", { vpcId: ownVpc.id, peerVpcId: cncVpc.id });
    expect(() => refuseCrossStackReferences(app, [cnc, workload])).toThrow(
      /1 reference\(s\) cross from one stack to another:\n {2}- t-workload-a refers to aws_vpc\.network_vpc_[0-9A-F]+\.id of t-cluster\n.*find the other stack's resource with a data source/s,
    );
  });

  it("find nothing in the shipped environments", () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), "xref-")) });
    const stacks = [environment("local"), environment("prod")].flatMap((env) => buildEnvironment(app, env).ordered);
    expect(() => refuseCrossStackReferences(app, stacks)).not.toThrow();
  });
});

describe("a bundle older than its sources", () => {
  // A copy of the repository (sources, dist, node_modules linked) in which sources change.
  const clone = mkdtempSync(join(tmpdir(), "stale-clone-"));
  beforeAll(() => {
    const tracked = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO, encoding: "utf8" }).stdout.split("\0").filter(Boolean);
    for (const file of tracked) {
      if (!existsSync(join(REPO, file))) continue;
      mkdirSync(join(clone, file, ".."), { recursive: true });
      cpSync(join(REPO, file), join(clone, file));
    }
    cpSync(join(REPO, "dist"), join(clone, "dist"), { recursive: true });
    symlinkSync(join(REPO, "node_modules"), join(clone, "node_modules"));
  });
  afterAll(() => rmSync(clone, { recursive: true, force: true }));

  it("is rebuilt before synthesis: a changed construct and a changed service both reach cdktf.out, and unchanged sources rebuild nothing", () => {
    const built = statSync(join(clone, "dist", "app", "main.js")).mtimeMs;
    const quiet = runApp(clone, { ENVIRONMENT: "local", CDKTF_QUIET: "1" });
    expect(quiet.stderr).toBe("");
    expect(quiet.status).toBe(0);
    expect(statSync(join(clone, "dist", "app", "main.js")).mtimeMs).toBe(built);

    // A stack: the store-discovery schedule it passes. A service: its log line.
    const construct = join(clone, "stacks", "post-install-stack.ts");
    const before = readFileSync(construct, "utf8");
    writeFileSync(construct, before.replace("schedule: env.monitoring.storeDiscoverySchedule,", 'schedule: "7 * * * *",'));
    expect(readFileSync(construct, "utf8")).not.toBe(before);
    const service = join(clone, "cronjobs", "store-discovery", "main.ts");
    writeFileSync(service, `${readFileSync(service, "utf8")}\n// marker-${Date.now()}\nconsole.log("stale-bundle-marker");\n`);

    const run = runApp(clone, { ENVIRONMENT: "local", CDKTF_QUIET: "1" });
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/Bundles are older than their sources \(.*stacks\/post-install-stack\.ts changed \(app\).*\): rebuilding them/s);
    expect(run.stderr).toMatch(/cronjobs\/store-discovery\/main\.ts changed \(store-discovery\)/);
    const stack = readFileSync(join(clone, "cdktf.out", "stacks", "local-post-install", "cdk.tf.json"), "utf8");
    expect(stack).toContain('"schedule": "7 * * * *"');
    // The CronJob's code reaches the cluster as the gzipped bundle in a ConfigMap asset.
    const assets = filesUnder(join(clone, "cdktf.out", "stacks", "local-post-install", "assets")).filter((f) => f.endsWith(".gz") && f.startsWith("store-discovery_"));
    expect(assets.length).toBe(1);
    expect(gunzipSync(readFileSync(join(clone, "cdktf.out", "stacks", "local-post-install", "assets", assets[0]))).toString()).toContain("stale-bundle-marker");
  });

  it("never runs V8's cached code for other bytes: an edit of the same length to the bundle takes effect", () => {
    const first = runApp(clone, { ENVIRONMENT: "local", CDKTF_QUIET: "1" }); // leaves a code cache
    expect(first.status).toBe(0);
    expect(readdirSync(join(clone, "dist", "app")).filter((f) => f.endsWith(".v8cache"))).toHaveLength(1);
    const bundle = join(clone, "dist", "app", "main.js");
    const text = readFileSync(bundle, "utf8");
    expect(text).toContain('"7 * * * *"');
    writeFileSync(bundle, text.replace('"7 * * * *"', '"8 * * * *"'));
    const run = runApp(clone, { ENVIRONMENT: "local", CDKTF_QUIET: "1" });
    expect(run.status).toBe(0);
    expect(readFileSync(join(clone, "cdktf.out", "stacks", "local-post-install", "cdk.tf.json"), "utf8")).toContain('"schedule": "8 * * * *"');
  });

  it("is rebuilt once when two synths start together: the second waits for the first's build and uses it", async () => {
    const service = join(clone, "cronjobs", "store-discovery", "main.ts");
    writeFileSync(service, `${readFileSync(service, "utf8")}\nconsole.log("concurrent-marker");\n`);
    const runOne = (out: string) =>
      new Promise<{ code: number | null; stderr: string }>((done) => {
        const child = spawn("sh", ["-c", appCommand()], { cwd: clone, env: { ...process.env, ENVIRONMENT: "local", CDKTF_QUIET: "1", CDKTF_OUTDIR: join(clone, out) } });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => done({ code, stderr }));
      });
    const [a, b] = await Promise.all([runOne("out-a"), runOne("out-b")]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect([a, b].filter((r) => /rebuilding them/.test(r.stderr))).toHaveLength(1);
    for (const out of ["out-a", "out-b"]) {
      const dir = join(clone, out, "stacks", "local-post-install", "assets");
      const gz = filesUnder(dir).find((f) => f.endsWith(".gz") && f.startsWith("store-discovery_"))!;
      expect(gunzipSync(readFileSync(join(dir, gz))).toString()).toContain("concurrent-marker");
    }
  });

  it("refuses in one paragraph when it cannot be rebuilt, and synthesizes nothing", () => {
    const service = join(clone, "lambdas", "dns-registration", "index.ts");
    writeFileSync(service, `${readFileSync(service, "utf8")}\nconst broken = ;\n`);
    const out = join(clone, "refused-out");
    const run = runApp(clone, { ENVIRONMENT: "local", CDKTF_QUIET: "1", CDKTF_OUTDIR: out });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/lambdas\/dns-registration\/index\.ts changed/);
    expect(run.stderr).toMatch(/Error: could not rebuild the bundles .* Run `make bundle` and fix what it reports/);
    expect(existsSync(out)).toBe(false);
  });
});
