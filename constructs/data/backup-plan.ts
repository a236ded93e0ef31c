import { BackupPlan } from "@cdktf/provider-aws/lib/backup-plan";
import { BackupSelection } from "@cdktf/provider-aws/lib/backup-selection";
import { BackupVault } from "@cdktf/provider-aws/lib/backup-vault";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Construct } from "constructs";

export interface PlatformBackupPlanProps {
  /** Name prefix of the vault, plan, selection and role, e.g. `prod-alpha`. */
  readonly name: string;
  /** The customer-managed key the vault encrypts recovery points with (EFS; RDS snapshots keep their own key). */
  readonly kmsKeyArn: string;
  /** AWS Backup schedule expression, e.g. `cron(0 3 * * ? *)` (UTC). */
  readonly schedule: string;
  /** Days each recovery point is kept (1 to 36500). */
  readonly retentionDays: number;
  /** ARNs of what to back up: RDS instances, EFS file systems. At least one. */
  readonly resourceArns: string[];
}

/**
 * Daily backups by AWS Backup of what RDS's automated backups do not cover or keep long enough:
 * a vault encrypted with the platform's key, one plan (schedule and retention from the
 * environment), a role limited to AWS's managed backup and restore policies, and one selection
 * listing the resources by ARN. Restores: docs/recovery.md.
 */
export class PlatformBackupPlan extends Construct {
  readonly vault: BackupVault;
  readonly plan: BackupPlan;

  constructor(scope: Construct, id: string, props: PlatformBackupPlanProps) {
    super(scope, id);
    if (!props.resourceArns.length) throw new Error(`PlatformBackupPlan ${props.name}: nothing to back up (resourceArns is empty)`);
    if (!/^cron\(.+\)$|^rate\(.+\)$/.test(props.schedule)) {
      throw new Error(`PlatformBackupPlan ${props.name}: schedule must be an AWS Backup expression such as cron(0 3 * * ? *), got ${JSON.stringify(props.schedule)}`);
    }
    this.vault = new BackupVault(this, "vault", { name: `${props.name}-backups`, kmsKeyArn: props.kmsKeyArn });
    this.plan = new BackupPlan(this, "plan", {
      name: `${props.name}-daily`,
      rule: [
        {
          ruleName: "daily",
          targetVaultName: this.vault.name,
          schedule: props.schedule,
          startWindow: 60,
          completionWindow: 360,
          lifecycle: { deleteAfter: props.retentionDays },
        },
      ],
    });
    const role = new IamRole(this, "role", {
      name: `${props.name}-backup`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "backup.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
    });
    const policies = ["AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"].map(
      (p) => new IamRolePolicyAttachment(this, `role-${p}`, { role: role.name, policyArn: `arn:aws:iam::aws:policy/service-role/${p}` }),
    );
    new BackupSelection(this, "selection", {
      name: `${props.name}-data`,
      planId: this.plan.id,
      iamRoleArn: role.arn,
      resources: props.resourceArns,
      dependsOn: policies,
    });
  }
}
