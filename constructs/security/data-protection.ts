/**
 * prevent_destroy on every resource that holds data, applied to a whole stack as a cdktf Aspect:
 * a resource of one of these types added later is protected without anyone remembering to.
 * PlatformStack applies it in real accounts when the environment's `dataProtection` is on (the
 * default); the emulator's rehearsal destroys everything, so it never gets it.
 */
import { TerraformResource, type IAspect } from "cdktf";
import type { IConstruct } from "constructs";

/** Resource types whose destruction loses data (or, for KMS keys, makes encrypted data unreadable). */
export const DATA_HOLDING_TYPES: ReadonlySet<string> = new Set([
  "aws_db_instance",
  "aws_rds_cluster",
  "aws_s3_bucket",
  "aws_efs_file_system",
  "aws_opensearch_domain",
  "aws_kms_key",
  "aws_backup_vault",
]);

export class PreventDataDestruction implements IAspect {
  visit(node: IConstruct): void {
    if (node instanceof TerraformResource && DATA_HOLDING_TYPES.has(node.terraformResourceType)) {
      node.lifecycle = { ...node.lifecycle, preventDestroy: true };
    }
  }
}
