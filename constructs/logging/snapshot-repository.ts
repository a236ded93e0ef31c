import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import type { PolicyStatement } from "../eks/irsa-role";
import { PlatformKey } from "../security/kms-key";
import { SecureBucket } from "../storage/secure-bucket";

/** Name of the IAM role OpenSearch assumes to write a domain's manual snapshots (the "TheSnapshotRole" of AWS's guide). */
export const snapshotServiceRoleName = (domainName: string) => `${domainName}-snapshot-repository`;

export interface LogSnapshotRepositoryProps {
  /** The log domain whose manual snapshots the bucket holds (its name scopes the role's trust). */
  readonly domainName: string;
  /** Bucket name (config/names.ts bucketName(env, "log-snapshots")). */
  readonly bucketName: string;
  readonly region: string;
  readonly accountId: string;
  /** Bucket that receives the snapshot bucket's S3 server access logs; undefined = none. */
  readonly accessLogBucket?: string;
  /**
   * Days a replaced or deleted object version is kept before S3 removes it for good. A snapshot
   * the CronJob deletes (or anyone deletes through OpenSearch) stays recoverable that long. Default 30.
   */
  readonly noncurrentVersionDays?: number;
  readonly forceDestroy?: boolean;
  readonly keyDeletionWindowDays?: number;
}

/**
 * Where the log domain's manual snapshots live, and the role OpenSearch writes them with: a
 * SecureBucket (versioned, SSE-KMS with its own rotating key and a bucket key, TLS only, public
 * access blocked, access-logged), and an IAM role only `es.amazonaws.com` may assume, and only
 * for this domain of this account (aws:SourceAccount, aws:SourceArn), allowed to list that bucket
 * and read, write and delete its objects, and to use its key through S3 only.
 *
 * OpenSearch's repository-s3 setting `server_side_encryption: true` asks S3 for SSE-S3 (AES256)
 * on every object, overriding the bucket's KMS default; it is never set, and the bucket refuses
 * AES256 uploads, so every snapshot object is encrypted with the platform key.
 */
export class LogSnapshotRepository extends Construct {
  readonly bucket: SecureBucket;
  readonly key: PlatformKey;
  /** The role OpenSearch assumes (the repository's `role_arn`); the CronJob may pass exactly this one. */
  readonly serviceRole: IamRole;
  readonly serviceRoleArn: string;

  constructor(scope: Construct, id: string, props: LogSnapshotRepositoryProps) {
    super(scope, id);
    const roleName = snapshotServiceRoleName(props.domainName);
    if (roleName.length > 64) throw new Error(`LogSnapshotRepository: role name "${roleName}" is longer than IAM's 64 characters`);

    this.key = new PlatformKey(this, "key", {
      alias: props.bucketName,
      description: `Manual snapshots of OpenSearch domain ${props.domainName} in ${props.bucketName}`,
      deletionWindowDays: props.keyDeletionWindowDays,
    });
    const bucketArn = `arn:aws:s3:::${props.bucketName}`;
    this.bucket = new SecureBucket(this, "bucket", {
      bucketName: props.bucketName,
      kmsKeyArn: this.key.arn,
      noncurrentVersionExpirationDays: props.noncurrentVersionDays ?? 30,
      abortIncompleteUploadsAfterDays: 2,
      forceDestroy: props.forceDestroy,
      accessLogBucket: props.accessLogBucket,
      extraPolicyStatements: [
        {
          Sid: "DenySseS3Uploads",
          Effect: "Deny",
          Principal: "*",
          Action: "s3:PutObject",
          Resource: `${bucketArn}/*`,
          Condition: { StringEquals: { "s3:x-amz-server-side-encryption": "AES256" } },
        },
      ],
    });

    const domainArn = `arn:aws:es:${props.region}:${props.accountId}:domain/${props.domainName}`;
    this.serviceRole = new IamRole(this, "service-role", {
      name: roleName,
      description: `OpenSearch domain ${props.domainName} writes its manual snapshots to ${props.bucketName} with this role`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "es.amazonaws.com" },
            Action: "sts:AssumeRole",
            // Confused-deputy guard: only this account's domain of this name may use the role.
            Condition: { StringEquals: { "aws:SourceAccount": props.accountId }, ArnLike: { "aws:SourceArn": domainArn } },
          },
        ],
      }),
      maxSessionDuration: 3600,
    });
    this.serviceRoleArn = this.serviceRole.arn;
    new IamRolePolicy(this, "service-policy", {
      role: this.serviceRole.id,
      name: "snapshot-bucket",
      policy: JSON.stringify({ Version: "2012-10-17", Statement: snapshotBucketStatements(bucketArn, this.key.arn, props.region) }),
    });
  }
}

/** What OpenSearch needs of the snapshot bucket (AWS's documented minimum) and of its key. */
export function snapshotBucketStatements(bucketArn: string, keyArn: string, region: string): PolicyStatement[] {
  return [
    { Sid: "ListSnapshotBucket", Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: bucketArn },
    { Sid: "SnapshotObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: `${bucketArn}/*` },
    {
      Sid: "SnapshotBucketKey",
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: keyArn,
      Condition: { StringEquals: { "kms:ViaService": `s3.${region}.amazonaws.com` } },
    },
  ];
}
