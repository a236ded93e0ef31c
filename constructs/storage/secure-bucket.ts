import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
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
  /** Customer-managed KMS key ARN for SSE-KMS (objects are encrypted with it by default). */
  readonly kmsKeyArn: string;
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
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: props.kmsKeyArn }, bucketKeyEnabled: true }],
    });
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
        },
      ],
    });
    new S3BucketPolicy(this, "policy", {
      bucket: this.bucket.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
          ...(props.extraPolicyStatements ?? []),
        ],
      }),
      // The public access block must exist first, or a policy could briefly apply without it.
      dependsOn: [publicAccess],
    });
  }
}
