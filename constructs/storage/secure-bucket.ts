import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLoggingA } from "@cdktf/provider-aws/lib/s3-bucket-logging";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { Construct } from "constructs";

export interface SecureBucketProps {
  /** Globally unique bucket name (see config/names.ts bucketName). */
  readonly bucketName: string;
  /**
   * Customer-managed KMS key ARN for SSE-KMS (objects are encrypted with it by default). Omitted
   * only by the access-log bucket (AccessLogBucket): S3 log delivery cannot write SSE-KMS objects,
   * so that bucket uses SSE-S3.
   */
  readonly kmsKeyArn: string | undefined;
  /**
   * Bucket that receives this bucket's S3 server access logs (under `<bucket name>/`): its name
   * (made by an earlier stack), or the AccessLogBucket of this stack (logging then waits for its
   * policy, which S3 checks when logging is turned on). Undefined = none.
   */
  readonly accessLogBucket?: string | SecureBucket;
  /** Days after which current objects expire; default: kept. */
  readonly expireObjectsAfterDays?: number;
  /** Keep every version of every object; default true. */
  readonly versioned?: boolean;
  /** Days after which unfinished multipart uploads are aborted; default 7. */
  readonly abortIncompleteUploadsAfterDays?: number;
  /** Days after which non-current object versions are deleted; default: kept. */
  readonly noncurrentVersionExpirationDays?: number;
  /** Let `destroy` delete a non-empty bucket. Default false; only throw-away environments set it. */
  readonly forceDestroy?: boolean;
  /** Extra bucket-policy statements (the TLS-only deny is always present). */
  readonly extraPolicyStatements?: object[];
}

/**
 * An S3 bucket with the defaults every bucket here needs: versioned, SSE-KMS with a bucket key,
 * all public access blocked, ACLs disabled (bucket owner enforced), a policy that refuses any
 * request not made over TLS, and a lifecycle rule for incomplete uploads.
 */
export class SecureBucket extends Construct {
  readonly bucket: S3Bucket;
  readonly arn: string;
  readonly name: string;
  readonly policy: S3BucketPolicy;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    const abortDays = props.abortIncompleteUploadsAfterDays ?? 7;
    if (abortDays < 1) throw new Error(`SecureBucket ${props.bucketName}: abortIncompleteUploadsAfterDays must be at least 1`);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(props.bucketName)) {
      throw new Error(`SecureBucket: "${props.bucketName}" is not a valid S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)`);
    }

    this.bucket = new S3Bucket(this, "bucket", { bucket: props.bucketName, forceDestroy: props.forceDestroy ?? false });
    this.arn = this.bucket.arn;
    this.name = this.bucket.bucket;

    new S3BucketOwnershipControls(this, "ownership", {
      bucket: this.bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    const publicAccess = new S3BucketPublicAccessBlock(this, "public-access", {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketVersioningA(this, "versioning", {
      bucket: this.bucket.id,
      versioningConfiguration: { status: props.versioned === false ? "Suspended" : "Enabled" },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
      bucket: this.bucket.id,
      rule: [
        props.kmsKeyArn
          ? { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: props.kmsKeyArn }, bucketKeyEnabled: true }
          : { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
      ],
    });
    const target = props.accessLogBucket;
    if (target) {
      new S3BucketLoggingA(this, "access-logs", {
        bucket: this.bucket.id,
        targetBucket: typeof target === "string" ? target : target.name,
        targetPrefix: `${props.bucketName}/`,
        dependsOn: typeof target === "string" ? undefined : [target.policy],
      });
    }
    new S3BucketLifecycleConfiguration(this, "lifecycle", {
      bucket: this.bucket.id,
      rule: [
        {
          id: "abort-incomplete-uploads",
          status: "Enabled",
          filter: [{ prefix: "" }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: abortDays }],
          ...(props.noncurrentVersionExpirationDays
            ? { noncurrentVersionExpiration: [{ noncurrentDays: props.noncurrentVersionExpirationDays }] }
            : {}),
          ...(props.expireObjectsAfterDays ? { expiration: [{ days: props.expireObjectsAfterDays }] } : {}),
        },
      ],
    });
    this.policy = new S3BucketPolicy(this, "policy", {
      bucket: this.bucket.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        // Order does not matter to S3; the extra statements come first because the AWS emulator's
        // access-log permission check stops at the first statement whose Principal is "*".
        Statement: [
          ...(props.extraPolicyStatements ?? []),
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
      // The public access block must exist first, or a policy could briefly apply without it.
      dependsOn: [publicAccess],
    });
  }
}

export interface AccessLogBucketProps {
  readonly bucketName: string;
  readonly accountId: string;
  /** Days access logs are kept. */
  readonly retentionDays: number;
  readonly forceDestroy?: boolean;
}

/**
 * The environment's S3 server access-log bucket: a SecureBucket on SSE-S3 (log delivery cannot
 * write SSE-KMS), whose policy lets the S3 logging service of this account write, and whose
 * objects expire after the retention.
 */
export class AccessLogBucket extends SecureBucket {
  constructor(scope: Construct, id: string, props: AccessLogBucketProps) {
    super(scope, id, {
      bucketName: props.bucketName,
      kmsKeyArn: undefined,
      expireObjectsAfterDays: props.retentionDays,
      noncurrentVersionExpirationDays: 1,
      forceDestroy: props.forceDestroy,
      extraPolicyStatements: [
        {
          Sid: "S3ServerAccessLogs",
          Effect: "Allow",
          Principal: { Service: "logging.s3.amazonaws.com" },
          Action: "s3:PutObject",
          Resource: `arn:aws:s3:::${props.bucketName}/*`,
          Condition: { StringEquals: { "aws:SourceAccount": props.accountId } },
        },
      ],
    });
  }
}
