/**
 * Decommissioning one workload cluster (`make decommission ENVIRONMENT=<env> WORKLOAD=<name>`): the
 * steps that are not Terraform, each taking its client as a parameter (tests: moto and the
 * provisioner API stand-in). The driver (scripts/deploy.ts) runs them in this order:
 *
 *   1. {@link provisionerHold}: the provisioner's record of the cluster, refused while it has installations;
 *   2. {@link unregister}: the cluster deleted through the API, waited for until the provisioner has let it go;
 *   3. {@link deleteKubeconfig}: the kubeconfig secret registration stored;
 *   4. (Terraform) the `-apps` stack destroyed, then the AWS phase;
 *   5. {@link remainingRecords}: none of the names the workload's stacks declared is left in Route 53.
 */
import { DescribeDBSnapshotsCommand, type RDSClient } from "@aws-sdk/client-rds";
import { DeleteSecretCommand, DescribeSecretCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ListHostedZonesCommand, ListResourceRecordSetsCommand, type HostedZone, type Route53Client } from "@aws-sdk/client-route-53";
import type { ClusterSummary, ProvisionerAdminApi } from "./registration";
import { ToolError } from "./terraform";

export interface DecommissionTarget {
  environment: string;
  workload: string;
  /** EKS cluster name (`prod-alpha`). */
  clusterName: string;
  /** The kubeconfig secret registration stored (config/names.ts workloadKubeconfigSecretName). */
  secretName: string;
}

/** The provisioner's live record of the cluster (matched by its kubeconfig secret), if any. */
export async function registeredCluster(api: ProvisionerAdminApi, target: DecommissionTarget): Promise<ClusterSummary | undefined> {
  const clusters = await api.listClusters();
  return clusters.find((c) => c.ProvisionerMetadataExternal?.SecretName === target.secretName && !c.DeleteAt && c.State !== "deleted");
}

/**
 * The provisioner's record of the cluster, after checking that no installation runs on it:
 * refuses (ToolError, nothing changed) naming each one and how to move them.
 */
export async function provisionerHold(api: ProvisionerAdminApi, target: DecommissionTarget): Promise<ClusterSummary | undefined> {
  const cluster = await registeredCluster(api, target);
  if (!cluster) return undefined;
  const installations = await api.listClusterInstallations(cluster.ID);
  if (installations.length) {
    const listed = installations.map((ci) => `  - installation ${ci.InstallationID} (cluster installation ${ci.ID}, ${ci.State ?? "unknown state"})`).join("\n");
    throw new ToolError(
      `Workload cluster ${target.clusterName} (provisioner cluster ${cluster.ID}) still runs ${installations.length} installation(s), so it is not decommissioned and nothing was changed:\n${listed}\n` +
        `Move them to another workload cluster first: stop new ones landing here (cloud cluster update --cluster ${cluster.ID} --allow-installations=false), ` +
        `then cloud cluster installation migration --source-cluster ${cluster.ID} --target-cluster <other>, cloud cluster installation dns --source-cluster ${cluster.ID} --target-cluster <other>, ` +
        `cloud cluster installation switch-cluster --source-cluster ${cluster.ID} --target-cluster <other> and cloud cluster installation delete --cluster ${cluster.ID} (the inactive copies); ` +
        `or delete installations nobody needs (cloud installation delete --installation <id>). Then run make decommission ENVIRONMENT=${target.environment} WORKLOAD=${target.workload} again.`,
    );
  }
  return cluster;
}

/** Deletes the cluster through the API and waits until the provisioner reports it deleted (or forgets it). */
export async function unregister(
  api: ProvisionerAdminApi,
  cluster: ClusterSummary,
  opts: { log: (line: string) => void; timeoutMs?: number; pollMs?: number },
): Promise<void> {
  await api.deleteCluster(cluster.ID);
  const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
  for (;;) {
    const now = await api.getCluster(cluster.ID);
    if (!now || now.State === "deleted" || now.DeleteAt) {
      opts.log(`provisioner: cluster ${cluster.ID} deleted`);
      return;
    }
    if (now.State === "deletion-failed") {
      throw new ToolError(`The provisioner could not delete cluster ${cluster.ID} (state deletion-failed); see its log (kubectl -n provisioner logs deploy/provisioner-server). Nothing of the cluster's AWS resources was destroyed.`);
    }
    if (Date.now() > deadline) {
      throw new ToolError(`The provisioner has not finished deleting cluster ${cluster.ID} (state ${now.State}) after ${Math.round((opts.timeoutMs ?? 600_000) / 60_000)} minutes; nothing of its AWS resources was destroyed. Check its log, then run make decommission again.`);
    }
    opts.log(`provisioner: cluster ${cluster.ID} is ${now.State}; waiting`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 10_000));
  }
}

/**
 * Deletes the kubeconfig secret at once (no recovery window: it holds no credential, only the
 * cluster's endpoint, CA and an `aws eks get-token` exec, and a window would block re-creating a
 * workload of the same name for a week).
 */
export async function deleteKubeconfig(secrets: SecretsManagerClient, name: string): Promise<"deleted" | "absent"> {
  const exists = await secrets.send(new DescribeSecretCommand({ SecretId: name })).then(
    (d) => !d.DeletedDate,
    (err: Error) => (err.name === "ResourceNotFoundException" ? false : Promise.reject(new ToolError(`Could not read secret ${name} (${err.name}: ${err.message}).`))),
  );
  if (!exists) return "absent";
  await secrets.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  return "deleted";
}

/** The record names (no trailing dot, lower case) a stack's configuration declares literally. */
export function declaredRecordNames(json: { resource?: Record<string, Record<string, unknown>> }): string[] {
  return Object.values(json.resource?.aws_route53_record ?? {})
    .map((r) => (r as { name?: unknown }).name)
    .filter((n): n is string => typeof n === "string" && !n.includes("${"))
    .map((n) => n.replace(/\.$/, "").toLowerCase());
}

/** Which of `names` still have a record in any hosted zone of the account whose domain they fall in. */
export async function remainingRecords(route53: Route53Client, names: string[]): Promise<string[]> {
  if (!names.length) return [];
  const zones: HostedZone[] = [];
  let marker: string | undefined;
  do {
    const page = await route53.send(new ListHostedZonesCommand({ Marker: marker }));
    zones.push(...(page.HostedZones ?? []));
    marker = page.IsTruncated ? page.NextMarker : undefined;
  } while (marker);
  const wanted = new Set(names);
  const left = new Set<string>();
  for (const zone of zones) {
    const domain = (zone.Name ?? "").replace(/\.$/, "").toLowerCase();
    if (!names.some((n) => n === domain || n.endsWith(`.${domain}`))) continue;
    let start: { name?: string; type?: string } = {};
    for (;;) {
      const page = await route53.send(
        new ListResourceRecordSetsCommand({ HostedZoneId: zone.Id, StartRecordName: start.name, StartRecordType: start.type as never }),
      );
      for (const r of page.ResourceRecordSets ?? []) {
        const name = (r.Name ?? "").replace(/\.$/, "").toLowerCase();
        if (wanted.has(name)) left.add(`${name} (${r.Type}, zone ${domain})`);
      }
      if (!page.IsTruncated) break;
      start = { name: page.NextRecordName, type: page.NextRecordType };
    }
  }
  return [...left].sort();
}

/**
 * What decommissioning takes out of Terraform's hands instead of destroying, from the AWS phase's
 * synthesized JSON: its AWS Backup vaults (a vault that holds recovery points cannot be deleted,
 * and those points are the workload's last backups) and the KMS keys of what outlives the stack
 * (the database's key encrypts its final snapshot and its RDS recovery points; a vault's key its
 * EFS recovery points). Without its key, a kept snapshot could not be restored once the key's
 * deletion window ends.
 */
export function keptOnDecommission(json: { resource?: Record<string, Record<string, unknown>> }): string[] {
  const res = (json.resource ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
  const vaults = Object.keys(res.aws_backup_vault ?? {}).map((n) => `aws_backup_vault.${n}`);
  const keyRefs = [
    ...Object.values(res.aws_db_instance ?? {}).map((r) => r.kms_key_id),
    ...Object.values(res.aws_backup_vault ?? {}).map((r) => r.kms_key_arn),
  ];
  const keys = keyRefs
    .map((ref) => (typeof ref === "string" ? /^\$\{(aws_kms_key\.[\w-]+)\.arn\}$/.exec(ref)?.[1] : undefined))
    .filter((a): a is string => Boolean(a));
  return [...new Set([...vaults, ...keys])].sort();
}

/**
 * The final snapshots the AWS phase's databases will take on destroy that exist already (an
 * earlier cluster of the same name left them): RDS would refuse the deletion half-way
 * (DBSnapshotAlreadyExists), after the cluster was unregistered. Checked before anything changes.
 */
export async function finalSnapshotsInTheWay(rds: RDSClient, json: { resource?: Record<string, Record<string, unknown>> }): Promise<string[]> {
  const names = Object.values((json.resource?.aws_db_instance ?? {}) as Record<string, { final_snapshot_identifier?: string; skip_final_snapshot?: boolean }>)
    .filter((db) => db.final_snapshot_identifier && !db.skip_final_snapshot)
    .map((db) => db.final_snapshot_identifier!);
  const found: string[] = [];
  for (const name of names) {
    const exists = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: name })).then(
      (r) => (r.DBSnapshots ?? []).length > 0,
      (err: Error) => (err.name === "DBSnapshotNotFoundFault" || err.name === "DBSnapshotNotFound" ? false : Promise.reject(err)),
    );
    if (exists) found.push(name);
  }
  return found;
}
