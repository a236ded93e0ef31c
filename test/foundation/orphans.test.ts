/** State left for stacks an environment no longer declares: found on disk and in a state bucket (moto). */
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrapDestroyRefusal, localStateStore, orphanStates, orphanWarning, s3StateStore } from "../../scripts/lib/orphans";
import { clientOptions, useMoto } from "../support/moto";

const state = (resources: number) =>
  JSON.stringify({ version: 4, resources: [{ mode: "data", type: "aws_vpc", name: "x", instances: [{}] }, { mode: "managed", type: "aws_vpc", name: "v", instances: Array.from({ length: resources }, () => ({})) }] });
const declared = ["local-bootstrap", "local-cluster", "local-workload-alpha", "local-workload-alpha-apps"];

describe("orphan state", () => {
  it("is a state on disk that holds resources for a stack no longer declared; empty states and declared stacks are not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "orphans-"));
    writeFileSync(join(dir, "local-cluster.tfstate"), state(12));
    writeFileSync(join(dir, "local-workload-beta.tfstate"), state(40));
    writeFileSync(join(dir, "local-workload-beta-apps.tfstate"), state(0));
    writeFileSync(join(dir, "local-workload-gamma.tfstate"), state(3));
    writeFileSync(join(dir, "notes.txt"), "not a state");
    // A state moved into the bucket leaves only an archived copy on disk, which is not a live state.
    writeFileSync(join(dir, "local-workload-delta.tfstate.migrated-2026-12-05T12-00-36Z"), state(7));
    const found = await orphanStates(localStateStore(dir, ".state/local/"), declared);
    expect(found).toEqual([
      { stack: "local-workload-beta", resources: 40 },
      { stack: "local-workload-gamma", resources: 3 },
    ]);
    const warning = orphanWarning("local", ".state/local/", found);
    expect(warning).toMatch(/^warn orphan state in \.state\/local\/: local-workload-beta \(40 resources\), local-workload-gamma \(3 resources\) are not declared by environments\/local/);
    expect(warning).toMatch(/Put workload beta, gamma back into environments\/local\/environment\.ts as it was, run make decommission ENVIRONMENT=local WORKLOAD=beta, then remove it again\./);
    expect(await orphanStates(localStateStore(join(dir, "missing"), "x"), declared)).toEqual([]);
  });

  describe("in a state bucket (moto)", () => {
    const aws = useMoto();

    it("is found by listing <env>/ and reading each state", async () => {
      const s3 = new S3Client({ ...clientOptions(aws.moto), forcePathStyle: true });
      await s3.send(new CreateBucketCommand({ Bucket: "cloud-prod-tfstate-111111111111" }));
      const put = (key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: "cloud-prod-tfstate-111111111111", Key: key, Body: body }));
      await put("prod/prod-cluster.tfstate", state(200));
      await put("prod/prod-workload-old.tfstate", state(150));
      await put("prod/prod-workload-old-apps.tfstate", state(30));
      await put("prod/archive/prod-workload-x.tfstate", state(5)); // not a stack key
      await put("staging/staging-workload-old.tfstate", state(9)); // another environment's
      const store = s3StateStore(s3, "cloud-prod-tfstate-111111111111", "prod");
      const found = await orphanStates(store, ["prod-cluster"]);
      expect(found).toEqual([
        { stack: "prod-workload-old", resources: 150 },
        { stack: "prod-workload-old-apps", resources: 30 },
      ]);
      expect(orphanWarning("prod", store.where, found)).toMatch(/^warn orphan state in s3:\/\/cloud-prod-tfstate-111111111111\/prod\/: .*run make decommission ENVIRONMENT=prod WORKLOAD=old/);

      // Bootstrap, which deletes this bucket, goes last: refused while any other state holds resources.
      await put("prod/prod-bootstrap.tfstate", state(24));
      expect(await bootstrapDestroyRefusal(store, "prod", "prod-bootstrap")).toMatch(
        /^prod-bootstrap is not destroyed while other stacks of prod still hold resources: prod-cluster \(200\), prod-workload-old \(150\), prod-workload-old-apps \(30\), whose state is in s3:\/\/cloud-prod-tfstate-111111111111\/prod\/ .*Nothing was changed\.$/,
      );
      for (const key of ["prod/prod-cluster.tfstate", "prod/prod-workload-old.tfstate", "prod/prod-workload-old-apps.tfstate"]) await put(key, state(0));
      expect(await bootstrapDestroyRefusal(store, "prod", "prod-bootstrap")).toBeUndefined();
      s3.destroy();
    });
  });
});
