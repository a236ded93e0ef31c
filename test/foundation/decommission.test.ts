/**
 * Decommissioning a workload cluster: the provisioner refuses while installations run on it (the
 * API stand-in answers as v0.90.0 does), the kubeconfig secret and DNS records are handled against
 * moto, the guard refuses before any AWS call, and lifting one workload's data protection touches
 * only that workload's stacks.
 */
import { CreateHostedZoneCommand, ChangeResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { CreateSecretCommand, DescribeSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CreateDBInstanceCommand, CreateDBSnapshotCommand, RDSClient } from "@aws-sdk/client-rds";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { declaredRecordNames, deleteKubeconfig, finalSnapshotsInTheWay, keptOnDecommission, provisionerHold, remainingRecords, unregister, type DecommissionTarget } from "../../scripts/lib/decommission";
import { startProvisionerStandIn, type ProvisionerStandIn } from "../../scripts/lib/provisioner-stand-in";
import { HttpProvisionerApi } from "../../scripts/lib/registration";
import { DATA_HOLDING_TYPES } from "../../constructs/security/data-protection";
import { freePort, useMoto } from "../support/moto";
import { environment, resourcesOf, synthEnvironment, synthShipped } from "../support/synth";

const REPO = resolve(__dirname, "..", "..");
const target: DecommissionTarget = { environment: "local", workload: "alpha", clusterName: "local-alpha", secretName: "local/workloads/alpha/kubeconfig" };

describe("decommissioning against the provisioner API stand-in", () => {
  let standIn: ProvisionerStandIn;
  let api: HttpProvisionerApi;
  beforeEach(async () => {
    standIn = await startProvisionerStandIn();
    api = new HttpProvisionerApi(standIn.url);
  });
  afterEach(() => standIn.close());

  it("refuses while an installation runs on the cluster, naming it and how to move it, and changes nothing", async () => {
    const cluster = await api.importCluster({ "external-cluster-secret-name": target.secretName, "allow-installations": true, "api-security-lock": false });
    await api.importCluster({ "external-cluster-secret-name": "local/workloads/beta/kubeconfig", "allow-installations": true, "api-security-lock": false });
    const res = await fetch(`${standIn.url}/stand-in/cluster_installations`, { method: "POST", body: JSON.stringify({ ClusterID: cluster.ID, InstallationID: "inst-rehearsal" }) });
    const ci = (await res.json()) as { ID: string };

    await expect(provisionerHold(api, target)).rejects.toThrow(
      new RegExp(`local-alpha \\(provisioner cluster ${cluster.ID}\\) still runs 1 installation\\(s\\).*\\n  - installation inst-rehearsal .*\\nMove them .*--allow-installations=false.*migration --source-cluster ${cluster.ID}`, "s"),
    );
    expect(standIn.requests.filter((r) => r.startsWith("DELETE"))).toEqual([]);
    // The provisioner itself refuses too (403), should anything call it anyway.
    await expect(api.deleteCluster(cluster.ID)).rejects.toThrow(/refused to delete cluster .* \(403\): it still has installations/);

    // Moved away: the hold returns the cluster, and unregistering deletes it (and only it).
    await fetch(`${standIn.url}/stand-in/cluster_installations/${ci.ID}`, { method: "DELETE" });
    const held = await provisionerHold(api, target);
    expect(held?.ID).toBe(cluster.ID);
    const lines: string[] = [];
    await unregister(api, held!, { log: (l) => lines.push(l), pollMs: 10 });
    expect(lines).toEqual([`provisioner: cluster ${cluster.ID} deleted`]);
    expect(standIn.clusters.map((c) => c.State)).toEqual(["deleted", "stable"]);
    // Once deleted, it is no longer registered: running again skips the provisioner step.
    expect(await provisionerHold(api, target)).toBeUndefined();
  });

  it("finds nothing to unregister for a cluster the provisioner never imported", async () => {
    expect(await provisionerHold(api, target)).toBeUndefined();
  });
});

describe("what decommissioning keeps", () => {
  it("takes the backup vault and the keys of the database and the vault out of Terraform, not the cluster's own keys", () => {
    const json = synthShipped("local").json["local-workload-alpha"];
    const kept = keptOnDecommission(json);
    expect(kept).toEqual(["aws_backup_vault.backups_vault_62432F40", "aws_kms_key.filestore-key_14BC09DA", "aws_kms_key.installations-db_key_21268AFD"]);
    // Each kept key is the one the database or the vault is encrypted with.
    const db = Object.values(json.resource.aws_db_instance as Record<string, { kms_key_id: string }>)[0];
    const vault = Object.values(json.resource.aws_backup_vault as Record<string, { kms_key_arn: string }>)[0];
    expect([db.kms_key_id, vault.kms_key_arn].sort()).toEqual(kept.filter((a) => a.startsWith("aws_kms_key.")).map((a) => `\${${a}.arn}`).sort());
    expect(keptOnDecommission({ resource: { aws_eks_cluster: { c: {} } } })).toEqual([]);
  });
});

describe("decommissioning's AWS steps (moto)", () => {
  const aws = useMoto({ secrets: SecretsManagerClient, route53: Route53Client, rds: RDSClient });

  it("finds a final snapshot an earlier cluster of the same name left, before anything changes", async () => {
    const json = { resource: { aws_db_instance: { db: { identifier: "prod-alpha-installations", final_snapshot_identifier: "prod-alpha-installations-final", skip_final_snapshot: false }, scratch: { identifier: "x", skip_final_snapshot: true } } } };
    expect(await finalSnapshotsInTheWay(aws.rds, json)).toEqual([]);
    await aws.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: "prod-alpha-installations", Engine: "postgres", DBInstanceClass: "db.t4g.micro", AllocatedStorage: 20, MasterUsername: "u", MasterUserPassword: "not-a-secret-1" }));
    await aws.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: "prod-alpha-installations", DBSnapshotIdentifier: "prod-alpha-installations-final" }));
    expect(await finalSnapshotsInTheWay(aws.rds, json)).toEqual(["prod-alpha-installations-final"]);
  });

  it("deletes the kubeconfig secret without a recovery window, and says when there is none", async () => {
    const { secrets } = aws;
    await secrets.send(new CreateSecretCommand({ Name: target.secretName, SecretString: "apiVersion: v1" }));
    expect(await deleteKubeconfig(secrets, target.secretName)).toBe("deleted");
    await expect(secrets.send(new DescribeSecretCommand({ SecretId: target.secretName }))).rejects.toThrow();
    expect(await deleteKubeconfig(secrets, target.secretName)).toBe("absent");
  });

  it("reports each declared DNS name still in a zone, and none once they are gone", async () => {
    const { route53 } = aws;
    const names = declaredRecordNames(synthShipped("local").json["local-workload-alpha"]);
    expect(names.sort()).toEqual(["alpha-grpc.internal.local.example.com", "alpha.prometheus.internal.local.example.com"]);
    const zone = (await route53.send(new CreateHostedZoneCommand({ Name: "internal.local.example.com", CallerReference: "decommission-test" }))).HostedZone!.Id!;
    const other = (await route53.send(new CreateHostedZoneCommand({ Name: "elsewhere.internal", CallerReference: "decommission-test-2" }))).HostedZone!.Id!;
    const change = (action: "UPSERT" | "DELETE", name: string, zoneId = zone) =>
      route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: [{ Action: action, ResourceRecordSet: { Name: name, Type: "A", TTL: 60, ResourceRecords: [{ Value: "10.0.0.1" }] } }] } }));
    await change("UPSERT", "alpha-grpc.internal.local.example.com");
    await change("UPSERT", "beta-grpc.internal.local.example.com");
    await change("UPSERT", "alpha-grpc.elsewhere.internal", other);
    expect(await remainingRecords(route53, names)).toEqual(["alpha-grpc.internal.local.example.com (A, zone internal.local.example.com)"]);
    await change("DELETE", "alpha-grpc.internal.local.example.com");
    expect(await remainingRecords(route53, names)).toEqual([]);
  });
});

describe("make decommission's guard (before any AWS call)", () => {
  const run = async (extra: Record<string, string>, workload: string) => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const env = { ...process.env, ENVIRONMENT: "prod", AUTO_APPROVE: "1", CONFIRM: "", AWS_ENDPOINT_URL: closed, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "", ...extra };
    return spawnSync(join(REPO, "node_modules", ".bin", "tsx"), [join(REPO, "scripts", "deploy.ts"), "decommission", workload], { cwd: REPO, env, encoding: "utf8" });
  };

  it("refuses prod's workload without CONFIRM=<cluster>, a wrong one, and an undeclared workload", async () => {
    const bare = await run({}, "beta");
    expect(bare.status).not.toBe(0);
    expect(bare.stderr).toMatch(/Decommissioning prod-beta destroys prod-workload-beta-apps and prod-workload-beta: .* needs CONFIRM=prod-beta as well as the approval .*Nothing was changed\./);
    expect((await run({ CONFIRM: "prod" }, "beta")).stderr).toMatch(/needs CONFIRM=prod-beta/);
    const unknown = await run({ CONFIRM: "prod-gamma" }, "gamma");
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/needs WORKLOAD=<name> of a workload environments\/prod declares \(alpha, beta\); got "gamma"/);
    for (const r of [bare, unknown]) expect(r.stderr + r.stdout).not.toMatch(/credential|\bSTS\b|GetCallerIdentity|ECONNREFUSED/i);
  }, 120_000);
});

describe("lifting one workload's data protection", () => {
  it("leaves every other stack of prod protected, and takes deletion protection off only that workload's database and load balancer", () => {
    const lifted = synthEnvironment(environment("prod", (e) => ((e.workloads as any[]).find((w) => w.name === "beta").dataProtection = false)));
    const protectedIn = (stack: any) =>
      Object.entries<Record<string, any>>(stack.resource ?? {})
        .filter(([type]) => DATA_HOLDING_TYPES.has(type))
        .flatMap(([, byName]) => Object.values(byName).map((r) => r.lifecycle?.prevent_destroy === true));
    for (const [name, stack] of Object.entries(lifted.json)) {
      const flags = protectedIn(stack);
      if (name.startsWith("prod-workload-beta")) expect(flags.some(Boolean)).toBe(false);
      else expect(flags.every(Boolean)).toBe(true);
    }
    const beta = lifted.json["prod-workload-beta"];
    const alpha = lifted.json["prod-workload-alpha"];
    expect(resourcesOf(beta, "aws_db_instance").map((d) => [d.deletion_protection, d.skip_final_snapshot])).toEqual([[false, false]]);
    expect(resourcesOf(beta, "aws_lb").map((l) => l.enable_deletion_protection)).toEqual([false]);
    expect(resourcesOf(alpha, "aws_db_instance").map((d) => d.deletion_protection)).toEqual([true]);
    expect(resourcesOf(alpha, "aws_lb").map((l) => l.enable_deletion_protection)).toEqual([true]);
  });
});
