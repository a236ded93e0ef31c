/**
 * `make restore-db ENVIRONMENT=<env> TIME=<RFC3339>`: the provisioner's database restored to a point
 * in time as a new instance (RestoreDBInstanceToPointInTime), imported by the post-install plan, recorded in
 * environments/<env>/database-restores.json so every later plan keeps it. The checks before any
 * plan take their RDS client as a parameter (tests: moto).
 */
import { DescribeDBInstanceAutomatedBackupsCommand, DescribeDBInstancesCommand, RestoreDBInstanceToPointInTimeCommand, type RDSClient } from "@aws-sdk/client-rds";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RESTORES_FILE } from "../../config/load";
import type { Environment } from "../../config/schema";
import { ToolError } from "./terraform";

export interface Restore {
  time: string;
  identifier: string;
  source: string;
}

/** TIME as RFC 3339 in UTC without fractions; refuses a malformed or future time in one sentence. */
export function parseRestoreTime(text: string | undefined, now: Date = new Date()): string {
  const value = text?.trim() ?? "";
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) {
    throw new ToolError(`make restore-db needs TIME=<RFC 3339 time>, such as TIME=2026-12-05T09:30:00Z (UTC) or TIME=2026-12-05T10:30:00+01:00; got ${value ? `"${value}"` : "none"}. Nothing was changed.`);
  }
  if (ms > now.getTime()) throw new ToolError(`TIME=${value} is in the future; a database can only be restored to a time that has passed. Nothing was changed.`);
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** The identifier of the provisioner's database in use: the last restore's, else `<env>-provisioner`. */
export function databaseInUse(env: Environment): string {
  return env.provisioner.restores.at(-1)?.identifier ?? `${env.name}-provisioner`;
}

/** The next restore: a new identifier derived from the time (`<env>-provisioner-r20261205093000`). */
export function nextRestore(env: Environment, time: string): Restore {
  const identifier = `${env.name}-provisioner-r${time.replace(/[-:TZ]/g, "")}`;
  if (env.provisioner.restores.some((r) => r.identifier === identifier)) {
    throw new ToolError(`${env.name}'s database was already restored to ${time} (${identifier}); pick another TIME. Nothing was changed.`);
  }
  return { time, identifier, source: databaseInUse(env) };
}

/**
 * Why the source cannot be restored to `time`, or undefined when it can: the instance must exist,
 * and the time must lie in its restore window (automated backups' earliest time, else its creation
 * or retention, up to LatestRestorableTime).
 */
export async function restoreWindowProblem(rds: RDSClient, identifier: string, time: string): Promise<string | undefined> {
  const found = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier })).then(
    (r) => r.DBInstances?.[0],
    (err: Error) => {
      if (err.name === "DBInstanceNotFoundFault" || err.name === "DBInstanceNotFound") return undefined;
      throw new ToolError(`Could not describe RDS instance ${identifier} (${err.name}: ${err.message}).`);
    },
  );
  if (!found) return `the database in use, ${identifier}, does not exist (is the post-install layer applied?)`;
  const at = Date.parse(time);
  const latest = found.LatestRestorableTime?.getTime();
  if (!found.BackupRetentionPeriod) return `${identifier} keeps no automated backups (backup retention 0), so it has no point in time to restore to`;
  if (latest !== undefined && at > latest) return `${time} is after ${identifier}'s latest restorable time, ${new Date(latest).toISOString()}; pick an earlier TIME, or wait a few minutes`;
  const backups = await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: identifier })).then(
    (r) => r.DBInstanceAutomatedBackups ?? [],
    () => [],
  );
  const earliest =
    backups.map((b) => b.RestoreWindow?.EarliestTime?.getTime()).find((t): t is number => t !== undefined) ??
    Math.max(found.InstanceCreateTime?.getTime() ?? 0, Date.now() - found.BackupRetentionPeriod * 86_400_000);
  if (at < earliest) return `${time} is before ${identifier}'s earliest restorable time, ${new Date(earliest).toISOString()} (backups are kept ${found.BackupRetentionPeriod} days)`;
  return undefined;
}

function restoresFile(root: string, env: string): string {
  return join(root, env, RESTORES_FILE);
}

/** The file's content before this run (undefined when it did not exist), to put back if nothing was restored. */
export function recordRestore(root: string, env: Environment, restore: Restore): string | undefined {
  const file = restoresFile(root, env.name);
  const before = existsSync(file) ? readFileSync(file, "utf8") : undefined;
  const doc = {
    $comment: "Written by make restore-db: the provisioner database's point-in-time restores, oldest first; the last is in use. Commit it; do not edit it by hand (docs/recovery.md).",
    provisioner: [...env.provisioner.restores, restore],
  };
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return before;
}

/** Puts the file back as it was before {@link recordRestore}. */
export function undoRecord(root: string, envName: string, before: string | undefined, rm: (file: string) => void): void {
  const file = restoresFile(root, envName);
  if (before === undefined) rm(file);
  else writeFileSync(file, before);
}

/**
 * Restores `restore.source` to `restore.time` as `restore.identifier`, with the source's network,
 * parameter group, encryption, Multi-AZ, logging and tags, and a master password RDS manages in
 * Secrets Manager with the source's key; waits until it is available. An instance of that name
 * that exists already (a run that stopped half-way) is waited for and kept, not restored again.
 */
export async function restoreInstance(rds: RDSClient, restore: Restore, opts: { log: (line: string) => void; pollMs?: number; timeoutMs?: number }): Promise<void> {
  const describe = (id: string) =>
    rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })).then(
      (r) => r.DBInstances?.[0],
      (err: Error) => (err.name === "DBInstanceNotFoundFault" || err.name === "DBInstanceNotFound" ? undefined : Promise.reject(err)),
    );
  if (await describe(restore.identifier)) {
    opts.log(`${restore.identifier} exists already (an earlier run restored it); waiting for it and keeping it`);
  } else {
    const source = await describe(restore.source);
    if (!source) throw new ToolError(`The database in use, ${restore.source}, does not exist; nothing was restored.`);
    await rds.send(
      new RestoreDBInstanceToPointInTimeCommand({
        SourceDBInstanceIdentifier: restore.source,
        TargetDBInstanceIdentifier: restore.identifier,
        RestoreTime: new Date(restore.time),
        DBInstanceClass: source.DBInstanceClass,
        DBSubnetGroupName: source.DBSubnetGroup?.DBSubnetGroupName,
        VpcSecurityGroupIds: (source.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId!).filter(Boolean),
        DBParameterGroupName: source.DBParameterGroups?.[0]?.DBParameterGroupName,
        MultiAZ: source.MultiAZ,
        PubliclyAccessible: false,
        StorageType: source.StorageType,
        MaxAllocatedStorage: source.MaxAllocatedStorage,
        CopyTagsToSnapshot: source.CopyTagsToSnapshot,
        DeletionProtection: source.DeletionProtection,
        EnableIAMDatabaseAuthentication: source.IAMDatabaseAuthenticationEnabled,
        EnableCloudwatchLogsExports: source.EnabledCloudwatchLogsExports,
        ManageMasterUserPassword: true,
        MasterUserSecretKmsKeyId: source.MasterUserSecret?.KmsKeyId,
        Tags: source.TagList,
      }),
    );
    opts.log(`RestoreDBInstanceToPointInTime: ${restore.source} at ${restore.time} -> ${restore.identifier}`);
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 90 * 60_000);
  let last = "";
  for (;;) {
    const now = await describe(restore.identifier);
    const status = now?.DBInstanceStatus ?? "not visible yet";
    if (status === "available") {
      opts.log(`${restore.identifier} is available (${now?.Endpoint?.Address ?? "no endpoint reported"})`);
      return;
    }
    if (["failed", "incompatible-restore", "incompatible-parameters", "incompatible-network", "storage-full"].includes(status)) {
      throw new ToolError(`The restore of ${restore.identifier} ended in state ${status}; see its events (aws rds describe-events --source-identifier ${restore.identifier} --source-type db-instance). Nothing in use changed.`);
    }
    if (Date.now() > deadline) throw new ToolError(`${restore.identifier} is still ${status} after ${Math.round((opts.timeoutMs ?? 5_400_000) / 60_000)} minutes; run make restore-db again with the same TIME to keep waiting. Nothing in use changed.`);
    if (status !== last) opts.log(`${restore.identifier}: ${status}; waiting (a restore takes from minutes to hours, with the database's size)`);
    last = status;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 30_000));
  }
}
