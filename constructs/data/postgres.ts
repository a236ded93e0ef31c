import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { DbInstance } from "@cdktf/provider-aws/lib/db-instance";
import { DbParameterGroup } from "@cdktf/provider-aws/lib/db-parameter-group";
import { DbSubnetGroup } from "@cdktf/provider-aws/lib/db-subnet-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { SUPPORTED_POSTGRES_VERSIONS } from "../../config/versions";
import { PlatformKey } from "../security/kms-key";

export interface PostgresDatabaseProps {
  /** Instance identifier, e.g. `prod-provisioner`. */
  readonly identifier: string;
  /** Initial database name. */
  readonly databaseName: string;
  /**
   * PostgreSQL major version ("17"). RDS upgrades minors itself (auto_minor_version_upgrade) and a
   * major-only engine_version matches every minor, so an upgrade by AWS is no diff.
   */
  readonly engineVersion: string;
  readonly instanceClass: string;
  readonly allocatedStorageGiB?: number;
  readonly vpcId: string;
  /** Private subnets only. */
  readonly subnetIds: string[];
  /** Security groups (cluster nodes) that may connect on 5432. */
  readonly clientSecurityGroupIds: string[];
  /** Admin / VPN networks that may connect on 5432. */
  readonly adminCidrs?: string[];
  readonly backupRetentionDays: number;
  /** Production: deletion protection on and a final snapshot. */
  readonly production: boolean;
  /** Refuse DeleteDBInstance (a final snapshot is still taken in production). Default: `production`. */
  readonly deletionProtection?: boolean;
  /** A standby in a second zone (Multi-AZ). Default: `production`. */
  readonly multiAz?: boolean;
  readonly keyDeletionWindowDays?: number;
  /**
   * Enhanced monitoring (OS metrics) every N seconds: 1, 5, 10, 15, 30 or 60; 0 turns it off.
   * Default 60. (The AWS emulator does not keep this setting, so the rehearsal passes 0.)
   */
  readonly monitoringIntervalSeconds?: number;
  /** SNS topic for the instance's storage and CPU alarms; undefined = no alarms. */
  readonly alarmTopicArn?: string;
  /**
   * Point-in-time restores, oldest first (`make restore-db`). The last is the instance in use: a
   * new instance with its own identifier, at its own Terraform address, which `make restore-db`
   * restores and then imports in the plan it shows; nothing is replaced. The instance each restore
   * replaced is let go by Terraform (a `removed` block, destroy = false): it keeps running,
   * unmanaged, until someone deletes it by hand (docs/recovery.md).
   */
  readonly restores?: readonly { identifier: string; source: string; time: string }[];
}

const MONITORING_INTERVALS = [0, 1, 5, 10, 15, 30, 60];

/**
 * PostgreSQL on RDS with the safe defaults: private subnets only, not publicly accessible,
 * storage and Performance Insights encrypted with its own rotating key, the master password
 * created and rotated by RDS in Secrets Manager (never in Terraform state or code), TLS
 * required, DDL and slow statements (over 1 s) logged to CloudWatch, enhanced monitoring,
 * automated backups, reachable on 5432 only from the listed security groups and
 * networks; deletion protection and a final snapshot in production.
 */
export class PostgresDatabase extends Construct {
  readonly instance: DbInstance;
  readonly securityGroup: SecurityGroup;
  /** ARN of the Secrets Manager secret RDS keeps the master credentials in. */
  readonly masterSecretArn: string;
  /** The instance's KMS key (storage, Performance Insights and the master secret). */
  readonly keyArn: string;

  constructor(scope: Construct, id: string, props: PostgresDatabaseProps) {
    super(scope, id);
    if (!(SUPPORTED_POSTGRES_VERSIONS as readonly string[]).includes(props.engineVersion)) {
      throw new Error(
        `PostgresDatabase ${props.identifier}: engine version ${props.engineVersion} is not a supported major version (${SUPPORTED_POSTGRES_VERSIONS.join(", ")}); ` +
          `give the major only: RDS applies minor upgrades itself, and a pinned minor would show a diff after each one.`,
      );
    }
    const monitoringInterval = props.monitoringIntervalSeconds ?? 60;
    if (!MONITORING_INTERVALS.includes(monitoringInterval)) {
      throw new Error(`PostgresDatabase ${props.identifier}: monitoringIntervalSeconds must be one of ${MONITORING_INTERVALS.join(", ")}, got ${monitoringInterval}`);
    }
    const key = new PlatformKey(this, "key", { alias: `${props.identifier}-rds`, description: `RDS ${props.identifier}`, deletionWindowDays: props.keyDeletionWindowDays });
    const subnets = new DbSubnetGroup(this, "subnets", { name: props.identifier, subnetIds: props.subnetIds, description: `${props.identifier}: private subnets` });
    this.securityGroup = new SecurityGroup(this, "sg", { name: `${props.identifier}-postgres`, description: `${props.identifier}: PostgreSQL from cluster nodes and admin networks only`, vpcId: props.vpcId, tags: { Name: `${props.identifier}-postgres` } });
    props.clientSecurityGroupIds.forEach((sg, i) =>
      new VpcSecurityGroupIngressRule(this, `from-sg-${i}`, { securityGroupId: this.securityGroup.id, referencedSecurityGroupId: sg, ipProtocol: "tcp", fromPort: 5432, toPort: 5432, description: "PostgreSQL from cluster nodes" }),
    );
    (props.adminCidrs ?? []).forEach((cidr, i) =>
      new VpcSecurityGroupIngressRule(this, `from-admin-${i}`, { securityGroupId: this.securityGroup.id, cidrIpv4: cidr, ipProtocol: "tcp", fromPort: 5432, toPort: 5432, description: `PostgreSQL from admin network ${cidr}` }),
    );
    const major = props.engineVersion;
    const params = new DbParameterGroup(this, "params", {
      name: `${props.identifier}-pg${major}`,
      family: `postgres${major}`,
      description: `${props.identifier}: TLS required, DDL and slow statements logged`,
      parameter: [
        { name: "rds.force_ssl", value: "1" },
        // Query logging without logging every statement's data: schema changes, and anything slower than 1 s.
        { name: "log_statement", value: "ddl" },
        { name: "log_min_duration_statement", value: "1000" },
      ],
    });
    const monitoringRole =
      monitoringInterval > 0
        ? new IamRole(this, "monitoring-role", {
            name: `${props.identifier}-rds-monitoring`,
            description: `RDS enhanced monitoring of ${props.identifier}`,
            assumeRolePolicy: JSON.stringify({
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Principal: { Service: "monitoring.rds.amazonaws.com" }, Action: "sts:AssumeRole" }],
            }),
          })
        : undefined;
    const monitoringPolicy =
      monitoringRole &&
      new IamRolePolicyAttachment(this, "monitoring-policy", { role: monitoringRole.name, policyArn: "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole" });
    const restores = props.restores ?? [];
    const current = restores.at(-1);
    restores.forEach((r, i) => {
      const expected = i === 0 ? props.identifier : restores[i - 1].identifier;
      if (r.source !== expected) {
        throw new Error(`PostgresDatabase ${props.identifier}: restore ${i + 1} (${r.identifier}) is from ${r.source}, but the instance in use before it was ${expected}; database-restores.json lists restores in order, each from the one before.`);
      }
    });
    this.instance = new DbInstance(this, "db", {
      identifier: current?.identifier ?? props.identifier,
      engine: "postgres",
      engineVersion: props.engineVersion,
      instanceClass: props.instanceClass,
      allocatedStorage: props.allocatedStorageGiB ?? 50,
      maxAllocatedStorage: (props.allocatedStorageGiB ?? 50) * 4,
      storageType: "gp3",
      storageEncrypted: true,
      kmsKeyId: key.arn,
      dbName: props.databaseName,
      username: "platform_admin",
      manageMasterUserPassword: true,
      masterUserSecretKmsKeyId: key.arn,
      dbSubnetGroupName: subnets.name,
      vpcSecurityGroupIds: [this.securityGroup.id],
      parameterGroupName: params.name,
      publiclyAccessible: false,
      multiAz: props.multiAz ?? props.production,
      backupRetentionPeriod: props.backupRetentionDays,
      copyTagsToSnapshot: true,
      deletionProtection: props.deletionProtection ?? props.production,
      skipFinalSnapshot: !props.production,
      finalSnapshotIdentifier: props.production ? `${current?.identifier ?? props.identifier}-final` : undefined,
      monitoringInterval,
      monitoringRoleArn: monitoringRole?.arn,
      // RDS checks the role's policy when monitoring starts.
      dependsOn: monitoringPolicy ? [monitoringPolicy] : undefined,
      performanceInsightsEnabled: true,
      performanceInsightsKmsKeyId: key.arn,
      performanceInsightsRetentionPeriod: 7,
      autoMinorVersionUpgrade: true,
      iamDatabaseAuthenticationEnabled: true,
      enabledCloudwatchLogsExports: ["postgresql", "upgrade"],
    });
    if (props.alarmTopicArn) {
      const alarm = (id: string, metric: string, operator: string, threshold: number, periods: number, description: string) =>
        new CloudwatchMetricAlarm(this, `alarm-${id}`, {
          alarmName: `${props.identifier}-rds-${id}`,
          alarmDescription: description,
          namespace: "AWS/RDS",
          metricName: metric,
          dimensions: { DBInstanceIdentifier: current?.identifier ?? props.identifier },
          statistic: metric === "FreeStorageSpace" ? "Minimum" : "Average",
          period: 300,
          evaluationPeriods: periods,
          threshold,
          comparisonOperator: operator,
          treatMissingData: "missing",
          alarmActions: [props.alarmTopicArn!],
          okActions: [props.alarmTopicArn!],
          dependsOn: [this.instance],
        });
      // Storage autoscaling grows the volume up to max_allocated_storage; alarm when even that runs short.
      alarm("free-storage", "FreeStorageSpace", "LessThanThreshold", Math.floor((props.allocatedStorageGiB ?? 50) * 1024 ** 3 * 0.1), 1, `${props.identifier}: less than 10% of the initial storage is free`);
      alarm("cpu", "CPUUtilization", "GreaterThanThreshold", 80, 3, `${props.identifier}: CPU above 80% for 15 minutes`);
    }
    if (restores.length) {
      // Each restore's instance lives at its own address; the ones before it are forgotten, not destroyed.
      const stack = TerraformStack.of(this);
      const original = stack.getLogicalId(this.instance);
      const address = (i: number) => (i < 0 ? original : `${original}_restore${i + 1}`);
      this.instance.overrideLogicalId(address(restores.length - 1));
      const removed = Array.from({ length: restores.length }, (_, i) => ({ from: `aws_db_instance.${address(i - 1)}`, lifecycle: { destroy: false } }));
      stack.addOverride("removed", removed);
    }
    this.masterSecretArn = this.instance.masterUserSecret.get(0).secretArn;
    this.keyArn = key.arn;
  }
}
