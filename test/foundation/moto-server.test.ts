/**
 * The emulator's corrections of moto (scripts/lib/moto-server.py), checked against the emulator
 * the tests and the rehearsal start. The RDS point-in-time restore and the managed secret kept on
 * modify are checked where make restore-db uses them (restore-db.test.ts).
 */
import { CreateClusterCommand, DescribeClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { CreateDBInstanceCommand, DescribeDBInstancesCommand, RDSClient } from "@aws-sdk/client-rds";
import { useMoto } from "../support/moto";

describe("the emulator's moto, corrected where it differs from AWS", () => {
  const aws = useMoto({ eks: EKSClient, rds: RDSClient });

  it("gives each EKS cluster its own OIDC issuer, so each can have its IAM OIDC provider", async () => {
    const issuers: string[] = [];
    for (const name of ["cnc", "workload"]) {
      await aws.eks.send(new CreateClusterCommand({ name, version: "1.34", roleArn: "arn:aws:iam::123456789012:role/eks", resourcesVpcConfig: { subnetIds: ["subnet-1"] } }));
      issuers.push((await aws.eks.send(new DescribeClusterCommand({ name }))).cluster!.identity!.oidc!.issuer!);
    }
    for (const issuer of issuers) expect(issuer).toMatch(/^https:\/\/oidc\.eks\.us-east-1\.amazonaws\.com\/id\/[0-9A-F]{32}$/);
    expect(issuers[0]).not.toBe(issuers[1]);
  });

  it("gives each RDS instance its own resource id, which the provider finds an instance by", async () => {
    for (const id of ["provisioner", "installations"]) {
      await aws.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: "postgres", DBInstanceClass: "db.t4g.micro", AllocatedStorage: 20, MasterUsername: "platform_admin", ManageMasterUserPassword: true }));
    }
    const { DBInstances: all = [] } = await aws.rds.send(new DescribeDBInstancesCommand({}));
    const ids = all.map((d) => d.DbiResourceId);
    expect(new Set(ids).size).toBe(2);
    const [one] = (await aws.rds.send(new DescribeDBInstancesCommand({ Filters: [{ Name: "dbi-resource-id", Values: [ids[0]!] }] }))).DBInstances ?? [];
    expect(one.DBInstanceIdentifier).toBe(all[0].DBInstanceIdentifier);
  });
});
