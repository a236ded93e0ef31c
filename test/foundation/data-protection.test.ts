/**
 * Teardown guards: what holds data in a real environment carries prevent_destroy, and destroying
 * a real environment needs CONFIRM=<env>, refused before any AWS call.
 */
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { DATA_HOLDING_TYPES } from "../../constructs/security/data-protection";
import { freePort } from "../support/moto";
import { environment, synthEnvironment, synthShipped } from "../support/synth";

const REPO = resolve(__dirname, "..", "..");

/** Every resource of a data-holding type, per stack: address -> prevent_destroy. */
function holders(json: Record<string, any>): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const [stack, body] of Object.entries(json)) {
    for (const [type, byName] of Object.entries<Record<string, any>>(body.resource ?? {})) {
      if (!DATA_HOLDING_TYPES.has(type)) continue;
      for (const [name, r] of Object.entries(byName)) out[`${stack}: ${type}.${name}`] = r.lifecycle?.prevent_destroy === true;
    }
  }
  return out;
}

describe("data protection", () => {
  it("puts prevent_destroy on every database, bucket, file system, log domain, key and backup vault of prod", () => {
    const prod = holders(synthShipped("prod").json);
    const types = new Set(Object.keys(prod).map((a) => a.split(": ")[1].split(".")[0]));
    expect([...types].sort()).toEqual(["aws_backup_vault", "aws_db_instance", "aws_efs_file_system", "aws_kms_key", "aws_opensearch_domain", "aws_s3_bucket"]);
    expect(Object.keys(prod).length).toBeGreaterThan(20);
    expect(Object.entries(prod).filter(([, protectedOne]) => !protectedOne)).toEqual([]);
  });

  it("leaves the rehearsal (emulator) destroyable, and lifts the guard where the environment says dataProtection: false", () => {
    expect(Object.values(holders(synthShipped("local").json)).some(Boolean)).toBe(false);
    const lifted = holders(synthEnvironment(environment("prod", (e) => ((e as any).dataProtection = false))).json);
    expect(Object.values(lifted).some(Boolean)).toBe(false);
  });

  it("refuses make destroy of prod without CONFIRM=prod, even with AUTO_APPROVE=1, before any AWS call", async () => {
    // An endpoint nothing listens on, and no credentials: any AWS call would fail differently.
    const closed = `http://127.0.0.1:${await freePort()}`;
    const env = { ...process.env, ENVIRONMENT: "prod", AUTO_APPROVE: "1", CONFIRM: "", AWS_ENDPOINT_URL: closed, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "" };
    const run = spawnSync(join(REPO, "node_modules", ".bin", "tsx"), [join(REPO, "scripts", "deploy.ts"), "destroy", "all"], { cwd: REPO, env, encoding: "utf8" });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/Destroying prod-bootstrap, .* in environment prod \(account 111111111111, us-east-1\) needs CONFIRM=prod as well as the approval/);
    expect(run.stderr).toMatch(/Nothing was destroyed\. What holds data there \(\d+\):\n {2}- prod-bootstrap: aws_kms_key /);
    expect(run.stderr).toContain("prod-post-install: aws_db_instance prod-provisioner");
    expect(run.stderr).toMatch(/carry prevent_destroy \(dataProtection is on\): set dataProtection: false in environments\/prod\/environment\.ts first/);
    expect(run.stderr + run.stdout).not.toMatch(/credential|\bSTS\b|GetCallerIdentity|ECONNREFUSED/i);
    // A wrong name is no confirmation either.
    const wrong = spawnSync(join(REPO, "node_modules", ".bin", "tsx"), [join(REPO, "scripts", "deploy.ts"), "destroy", "all"], { cwd: REPO, env: { ...env, CONFIRM: "local" }, encoding: "utf8" });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/needs CONFIRM=prod/);
    // Confirmed, but the data is protected: refused whole, rather than destroying DNS and apps and
    // stopping at the first protected database.
    const confirmed = spawnSync(join(REPO, "node_modules", ".bin", "tsx"), [join(REPO, "scripts", "deploy.ts"), "destroy", "all"], { cwd: REPO, env: { ...env, CONFIRM: "prod" }, encoding: "utf8" });
    expect(confirmed.status).not.toBe(0);
    expect(confirmed.stderr).toMatch(/would stop half-way, after its DNS names and apps are gone\. Nothing was destroyed\./);
    expect(confirmed.stderr + confirmed.stdout).not.toMatch(/credential|\bSTS\b|GetCallerIdentity|ECONNREFUSED/i);
  });
});
