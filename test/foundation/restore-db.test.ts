/**
 * make restore-db: the restored instance is a new resource restored from the one in use, the old
 * one is let go without being destroyed, the provisioner's endpoint and secret follow the new one;
 * the time is checked against the source's restore window (moto), before anything is written.
 */
import { CreateDBInstanceCommand, DescribeDBInstancesCommand, ModifyDBInstanceCommand, RDSClient } from "@aws-sdk/client-rds";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvironment } from "../../config/load";
import { nextRestore, parseRestoreTime, recordRestore, restoreInstance, restoreWindowProblem, undoRecord } from "../../scripts/lib/restore";
import { useMoto } from "../support/moto";
import { environment, resourcesOf, synthEnvironment, synthShipped } from "../support/synth";

const restored = { identifier: "local-provisioner-r20261205093000", source: "local-provisioner", time: "2026-12-05T09:30:00Z" };

function deploymentEnv(stack: any): Record<string, string> {
  const deployment = resourcesOf(stack, "kubernetes_deployment_v1").find((d) => d.metadata.name === "provisioner-server");
  return Object.fromEntries(deployment.spec.template.spec.container[0].env.map((e: any) => [e.name, e.value]));
}

describe("a restore of the provisioner's database", () => {
  it("manages the restored instance at a new address, lets the old one go undestroyed, and moves the provisioner to it", () => {
    const before = synthShipped("local").json["local-post-install"];
    const [original] = Object.keys(before.resource.aws_db_instance);
    const after = synthEnvironment(environment("local", (e) => ((e.provisioner as any).restores = [restored]))).json["local-post-install"];

    expect(Object.keys(after.resource.aws_db_instance)).toEqual([`${original}_restore1`]);
    const db = after.resource.aws_db_instance[`${original}_restore1`];
    expect(db.identifier).toBe(restored.identifier);
    // make restore-db restores it and imports it in the plan it shows: nothing is created or replaced by Terraform.
    expect(db.restore_to_point_in_time).toBeUndefined();
    expect({ ...db, identifier: undefined, lifecycle: undefined }).toEqual({ ...before.resource.aws_db_instance[original], identifier: undefined, lifecycle: undefined });
    expect(after.removed).toEqual([{ from: `aws_db_instance.${original}`, lifecycle: { destroy: false } }]);

    // The provisioner reads the new instance's endpoint and managed secret; before, the old one's.
    expect(deploymentEnv(before).DB_ENDPOINT).toBe(`\${aws_db_instance.${original}.endpoint}`);
    expect(deploymentEnv(after).DB_ENDPOINT).toBe(`\${aws_db_instance.${original}_restore1.endpoint}`);
    expect(deploymentEnv(after).DB_SECRET_ARN).toContain(`aws_db_instance.${original}_restore1.master_user_secret[0].secret_arn`);
    // Its IAM policy and everything else follow the new instance: nothing refers to the old one.
    expect(JSON.stringify(after.resource).split(`aws_db_instance.${original}_restore1.master_user_secret`).length).toBeGreaterThan(2);
    expect(JSON.stringify(after)).not.toContain(`aws_db_instance.${original}.`);
  });

  it("chains: a second restore is from the first, and forgets both earlier instances", () => {
    const second = { identifier: "local-provisioner-r20261206080000", source: restored.identifier, time: "2026-12-06T08:00:00Z" };
    const json = synthEnvironment(environment("local", (e) => ((e.provisioner as any).restores = [restored, second]))).json["local-post-install"];
    const [address] = Object.keys(json.resource.aws_db_instance);
    expect(address).toMatch(/_restore2$/);
    expect(json.removed.map((r: any) => r.from)).toEqual([`aws_db_instance.${address.replace(/_restore2$/, "")}`, `aws_db_instance.${address.replace(/_restore2$/, "_restore1")}`]);
    expect(() => synthEnvironment(environment("local", (e) => ((e.provisioner as any).restores = [restored, { ...second, source: "local-provisioner" }])))).toThrow(
      /restore 2 \(local-provisioner-r20261206080000\) is from local-provisioner, but the instance in use before it was local-provisioner-r20261205093000/,
    );
  });

  it("is recorded beside the environment file, read back by the loader, and put back when nothing was restored", () => {
    const root = mkdtempSync(join(tmpdir(), "restores-"));
    cpSync(join(__dirname, "..", "..", "environments", "local"), join(root, "local"), { recursive: true });
    const env = loadEnvironment("local", root);
    const next = nextRestore(env, parseRestoreTime("2026-12-05T10:30:00+01:00", new Date("2026-12-05T12:00:00Z")));
    expect(next).toEqual(restored);
    const before = recordRestore(root, env, next);
    expect(before).toBeUndefined();
    expect(loadEnvironment("local", root).provisioner.restores).toEqual([restored]);
    expect(() => nextRestore(loadEnvironment("local", root), restored.time)).toThrow(/already restored to 2026-12-05T09:30:00Z/);
    undoRecord(root, "local", before, (f) => rmSync(f));
    expect(existsSync(join(root, "local", "database-restores.json"))).toBe(false);
    expect(loadEnvironment("local", root).provisioner.restores).toEqual([]);
    // A file broken by hand is named, with what to do.
    require("node:fs").writeFileSync(join(root, "local", "database-restores.json"), "{ not json");
    expect(() => loadEnvironment("local", root)).toThrow(/database-restores\.json is not valid JSON .*take it from git/);
    expect(readFileSync(join(root, "local", "environment.ts"), "utf8")).toContain("workloads");
  });

  it("refuses a malformed or future TIME in one sentence", () => {
    expect(() => parseRestoreTime(undefined)).toThrow(/needs TIME=<RFC 3339 time>, such as TIME=2026-12-05T09:30:00Z .*got none/);
    expect(() => parseRestoreTime("yesterday")).toThrow(/got "yesterday"/);
    expect(() => parseRestoreTime("2026-12-05 09:30")).toThrow(/RFC 3339/);
    expect(() => parseRestoreTime("2030-01-01T00:00:00Z", new Date("2026-12-05T00:00:00Z"))).toThrow(/is in the future/);
  });

  describe("against the emulator's RDS (moto)", () => {
    const aws = useMoto({ rds: RDSClient });

    it("checks the source exists, keeps backups, and that TIME lies in its window", async () => {
      const { rds } = aws;
      const now = Date.now();
      const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
      expect(await restoreWindowProblem(rds, "local-provisioner", iso(now - 60_000))).toMatch(/does not exist \(is the post-install layer applied\?\)/);
      await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: "local-provisioner", Engine: "postgres", DBInstanceClass: "db.t4g.micro", AllocatedStorage: 20, MasterUsername: "platform_admin", MasterUserPassword: "not-a-secret-1", BackupRetentionPeriod: 7 }));
      await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: "no-backups", Engine: "postgres", DBInstanceClass: "db.t4g.micro", AllocatedStorage: 20, MasterUsername: "platform_admin", MasterUserPassword: "not-a-secret-1", BackupRetentionPeriod: 0 }));
      const created = Date.now() + 1_000;
      await new Promise((r) => setTimeout(r, 2_500));
      expect(await restoreWindowProblem(rds, "local-provisioner", iso(created))).toBeUndefined();
      expect(await restoreWindowProblem(rds, "local-provisioner", iso(now + 3_600_000))).toMatch(/after local-provisioner's latest restorable time/);
      expect(await restoreWindowProblem(rds, "local-provisioner", iso(now - 30 * 86_400_000))).toMatch(/before local-provisioner's earliest restorable time, .*kept 7 days/);
      expect(await restoreWindowProblem(rds, "no-backups", iso(created))).toMatch(/keeps no automated backups/);

      // The restore itself: a new instance from the source, waited for; a second run keeps it.
      const lines: string[] = [];
      const restore = { identifier: "local-provisioner-r1", source: "local-provisioner", time: iso(created) };
      await restoreInstance(rds, restore, { log: (l) => lines.push(l), pollMs: 10 });
      expect(lines[0]).toBe(`RestoreDBInstanceToPointInTime: local-provisioner at ${iso(created)} -> local-provisioner-r1`);
      expect(lines.at(-1)).toMatch(/^local-provisioner-r1 is available/);
      const { DBInstances: all = [] } = await rds.send(new DescribeDBInstancesCommand({}));
      expect(all.map((d) => d.DBInstanceIdentifier).sort()).toEqual(["local-provisioner", "local-provisioner-r1", "no-backups"]);
      // As on AWS (and unlike plain moto, see scripts/lib/moto-server.py): the restored instance is
      // standalone, and each instance has its own resource id, which the provider finds it by.
      const restored = all.find((d) => d.DBInstanceIdentifier === "local-provisioner-r1")!;
      expect(restored.ReadReplicaSourceDBInstanceIdentifier).toBeUndefined();
      expect(new Set(all.map((d) => d.DbiResourceId)).size).toBe(3);
      for (const d of all) expect(d.DbiResourceId).toMatch(/^db-[A-Z0-9]{26}$/);
      // The provider sends ManageMasterUserPassword=true when it first updates an imported instance;
      // as on AWS, the instance keeps its secret (the provisioner's policy names its ARN).
      const secretArn = restored.MasterUserSecret?.SecretArn;
      expect(secretArn).toMatch(/^arn:aws:secretsmanager:.*:secret:rds!db-/);
      await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: "local-provisioner-r1", ManageMasterUserPassword: true, ApplyImmediately: true }));
      const [after] = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: "local-provisioner-r1" }))).DBInstances ?? [];
      expect(after.MasterUserSecret?.SecretArn).toBe(secretArn);
      lines.length = 0;
      await restoreInstance(rds, restore, { log: (l) => lines.push(l), pollMs: 10 });
      expect(lines[0]).toMatch(/local-provisioner-r1 exists already \(an earlier run restored it\)/);
      await expect(restoreInstance(rds, { ...restore, identifier: "x-r2", source: "gone" }, { log: () => undefined })).rejects.toThrow(/The database in use, gone, does not exist; nothing was restored/);
    });
  });
});
