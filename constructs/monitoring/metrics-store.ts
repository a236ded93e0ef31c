import { Construct } from "constructs";
import { dump } from "js-yaml";
import type { PolicyStatement } from "../eks/irsa-role";
import { PlatformKey } from "../security/kms-key";
import { SecureBucket } from "../storage/secure-bucket";

export interface MetricsStoreProps {
  /** Bucket name (config/names.ts bucketName(env, "metrics")). */
  readonly bucketName: string;
  readonly region: string;
  /** Days before non-current block versions are removed (the compactor rewrites blocks). Default 30. */
  readonly noncurrentVersionDays?: number;
  readonly forceDestroy?: boolean;
  readonly keyDeletionWindowDays?: number;
  /** Bucket that receives the store's S3 server access logs; undefined = none. */
  readonly accessLogBucket?: string;
}

/**
 * The environment's Thanos block store: a secure bucket (versioned, SSE-KMS with its own
 * rotating key, TLS only, public access blocked, unfinished uploads aborted), and the Thanos
 * objstore configuration that reaches it with the SDK's default credentials (IRSA): no keys.
 */
export class MetricsStore extends Construct {
  readonly bucket: SecureBucket;
  readonly key: PlatformKey;
  /** Contents of the `objstore.yml` every Thanos component and sidecar reads. */
  readonly objstoreConfig: string;

  constructor(scope: Construct, id: string, props: MetricsStoreProps) {
    super(scope, id);
    this.key = new PlatformKey(this, "key", {
      alias: `${props.bucketName}`,
      description: `Thanos metric blocks in ${props.bucketName}`,
      deletionWindowDays: props.keyDeletionWindowDays,
    });
    this.bucket = new SecureBucket(this, "bucket", {
      bucketName: props.bucketName,
      kmsKeyArn: this.key.arn,
      noncurrentVersionExpirationDays: props.noncurrentVersionDays ?? 30,
      abortIncompleteUploadsAfterDays: 2,
      forceDestroy: props.forceDestroy,
      accessLogBucket: props.accessLogBucket,
    });
    this.objstoreConfig = dump(
      {
        type: "S3",
        config: {
          bucket: props.bucketName,
          endpoint: `s3.${props.region}.amazonaws.com`,
          region: props.region,
          // No access_key/secret_key: the SDK chain picks up the pod's IRSA web identity. Objects
          // are encrypted by the bucket's default SSE-KMS key.
          aws_sdk_auth: true,
        },
      },
      { lineWidth: -1 },
    );
  }

  /** IAM statements that let a Thanos component read and write blocks (and use the key). */
  statements(access: "read" | "write"): PolicyStatement[] {
    const objectActions = access === "write" ? ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] : ["s3:GetObject"];
    return [
      { Sid: "ListBlocks", Effect: "Allow", Action: ["s3:ListBucket"], Resource: this.bucket.arn },
      { Sid: "Blocks", Effect: "Allow", Action: objectActions, Resource: `${this.bucket.arn}/*` },
      {
        Sid: "BlockKey",
        Effect: "Allow",
        Action: access === "write" ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"],
        Resource: this.key.arn,
      },
    ];
  }
}
