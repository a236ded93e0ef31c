import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { discoverEnvironments, loadEnvironment, loadEnvironments } from "../../config/load";
import { environment, rejection } from "../support/synth";

const REPO = resolve(__dirname, "..", "..");

const configError = rejection;

describe("environment discovery", () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "envs-"));
    cpSync(join(REPO, "environments", "prod"), join(root, "prod"), { recursive: true });
    cpSync(join(REPO, "environments", "local"), join(root, "local"), { recursive: true });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("finds the shipped environments", () => {
    expect(discoverEnvironments()).toEqual(expect.arrayContaining(["local", "prod"]));
  });

  it("picks up a copied folder with no code change, and ENVIRONMENT selects only it", () => {
    cpSync(join(root, "prod"), join(root, "staging"), { recursive: true });
    expect(discoverEnvironments(root)).toEqual(["local", "prod", "staging"]);
    expect(loadEnvironments({ root, only: "staging" }).map((e) => e.name)).toEqual(["staging"]);

    const out = mkdtempSync(join(tmpdir(), "synth-"));
    const run = spawnSync(process.execPath, [join(REPO, "scripts", "app.cjs")], {
      cwd: REPO,
      env: { ...process.env, ENVIRONMENTS_DIR: root, ENVIRONMENT: "staging", CDKTF_OUTDIR: out, CDKTF_QUIET: "" },
      encoding: "utf8",
    });
    expect(run.stdout).toContain("environment staging");
    expect(run.status).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(Object.keys(manifest.stacks).sort()).toEqual(
      ["staging-bootstrap", "staging-cluster", "staging-post-install", "staging-route53", "staging-workload-alpha", "staging-workload-alpha-apps", "staging-workload-beta", "staging-workload-beta-apps"].sort(),
    );
    rmSync(out, { recursive: true, force: true });
  });

  it("names the folder and lists the known environments when ENVIRONMENT is unknown", () => {
    expect(() => loadEnvironment("nope", root)).toThrow(/There is no environment "nope".*Known environments: local, prod/);
  });

  it("stops synth with exit code 1 and a message naming the file and field", () => {
    mkdirSync(join(root, "broken"));
    const text = readFileSync(join(root, "prod", "environment.ts"), "utf8").replace(/  region: "us-east-1",\n/, "");
    writeFileSync(join(root, "broken", "environment.ts"), text);
    const run = spawnSync(process.execPath, [join(REPO, "scripts", "app.cjs")], {
      cwd: REPO,
      env: { ...process.env, ENVIRONMENTS_DIR: root, ENVIRONMENT: "broken", CDKTF_OUTDIR: join(root, "out") },
      encoding: "utf8",
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/broken\/environment\.ts is not a valid environment/);
    expect(run.stderr).toMatch(/region: is missing \(expected a string\)/);
    expect(run.stderr).not.toMatch(/at Object\.|node:internal/); // a sentence, not a stack trace
  });

  it("with ENVIRONMENT unset, a broken folder is named, and the valid ones can still be selected", () => {
    const run = spawnSync(process.execPath, [join(REPO, "scripts", "app.cjs")], {
      cwd: REPO,
      env: { ...process.env, ENVIRONMENTS_DIR: root, ENVIRONMENT: "", CDKTF_OUTDIR: join(root, "out-all") },
      encoding: "utf8",
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/broken\/environment\.ts is not a valid environment/);
    expect(run.stderr).toMatch(/With ENVIRONMENT unset, every folder under environments\/ is synthesized, so this one stops all of them\. To work on local or prod.* meanwhile, select it: ENVIRONMENT=local npx cdktf synth/);
    const one = spawnSync(process.execPath, [join(REPO, "scripts", "app.cjs")], {
      cwd: REPO,
      env: { ...process.env, ENVIRONMENTS_DIR: root, ENVIRONMENT: "local", CDKTF_OUTDIR: join(root, "out-local"), CDKTF_QUIET: "1" },
      encoding: "utf8",
    });
    expect(one.stderr).toBe("");
    expect(one.status).toBe(0);
  });
});

describe("environment validation: each mistake gets its own message", () => {
  it("accepts both shipped environments", () => {
    expect(environment("prod").name).toBe("prod");
    expect(environment("local").target).toBe("emulator");
  });

  it("a missing region", () => {
    expect(configError((e) => delete e.region)).toMatch(/environments\/prod\/environment\.ts is not a valid environment:\n {2}- region: is missing/);
  });

  it("a region that is not a region", () => {
    expect(configError((e) => (e.region = "Ireland"))).toMatch(/region: expected an AWS region such as eu-west-1, got "Ireland"/);
  });

  it("a CIDR that is not a CIDR", () => {
    expect(configError((e) => (e.network.cidr = "10.0.0.300/16"))).toMatch(/network\.cidr: expected an IPv4 CIDR block such as 10\.0\.0\.0\/16, got "10\.0\.0\.300\/16"/);
    expect(configError((e) => (e.network.cidr = "10.0.0.1/16"))).toMatch(/network\.cidr: expected an IPv4 CIDR block/);
  });

  it("a duplicate workload name", () => {
    expect(configError((e) => (e.workloads[1].name = "alpha"))).toMatch(/workloads\[1\]\.name: duplicate workload name "alpha" \(also at workloads\[0\]\)/);
  });

  it("an unknown key, at the top and nested", () => {
    expect(configError((e) => (e.regoin = "us-east-1"))).toMatch(/\(top level\): unknown key "regoin"/);
    expect(configError((e) => (e.cluster.nodeGroups[0].instanceType = "m6i.large"))).toMatch(/cluster\.nodeGroups\[0\]: unknown key "instanceType"/);
  });

  it("overlapping or invalid workload CIDRs and names", () => {
    expect(configError((e) => (e.workloads[0].cidr = "10.10.128.0/20"))).toMatch(/workloads\[0\]\.cidr: 10\.10\.128\.0\/20 overlaps the C&C VPC 10\.10\.0\.0\/16/);
    expect(configError((e) => (e.workloads[1].cidr = "10.20.0.0/20"))).toMatch(/workloads\[1\]\.cidr: 10\.20\.0\.0\/20 overlaps workloads\[0\] \("alpha"/);
    expect(configError((e) => (e.workloads[0].name = "Alpha_1"))).toMatch(/workloads\[0\]\.name: expected a lower-case DNS label/);
  });

  it("a secret written in as a value instead of a Secrets Manager name", () => {
    expect(configError((e) => (e.alerts.webhookSecretName = "https://chat.example.com/hooks/abc"))).toMatch(/alerts\.webhookSecretName/);
  });

  it("a real-AWS environment without its state bucket or private zone", () => {
    expect(configError((e) => delete e.stateBucket)).toMatch(/stateBucket: is required when target is "aws"/);
    expect(configError((e) => delete e.dns.privateZoneId)).toMatch(/dns\.privateZoneId: is required when target is "aws"/);
  });

  it("an availability zone outside the region", () => {
    expect(configError((e) => (e.network.azs[0] = "eu-west-1a"))).toMatch(/network\.azs\[0\]: "eu-west-1a" is not in region us-east-1/);
  });

  it("lists several problems at once", () => {
    const message = configError((e) => {
      delete e.region;
      e.network.cidr = "nope";
    });
    expect(message).toMatch(/region: is missing/);
    expect(message).toMatch(/network\.cidr: expected an IPv4 CIDR block/);
  });
});
