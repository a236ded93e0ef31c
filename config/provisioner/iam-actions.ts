/**
 * What the provisioner (mattermost-cloud v0.90.0, EKS provisioner) calls in AWS, as IAM actions,
 * from its source: the SDK v2 calls under internal/tools/aws (../shared/reference/
 * mattermost-cloud-v0.90.0.md, section e). The role's policy is built from these lists and a test
 * compares the two, so an action is added here (with where it is called) or nowhere.
 *
 * Left out on purpose: kops (this platform builds EKS clusters only).
 *
 * The S3 filestores (`aws-s3`, `aws-multitenant-s3`) give each installation an IAM user
 * `cloud-<installation id>` with a policy of the same name and an access key (tools/aws/iam.go,
 * filestore.go, filestore_multitenant.go): that is how v0.90.0 hands Mattermost its bucket. The
 * platform's own callers use IRSA only. These rights are off by default (provisioner.s3Filestores):
 * creating a policy with any document and attaching it to a user whose key it holds is IAM admin
 * in effect, whatever the names are scoped to.
 */
export const PROVISIONER_ACTIONS = {
  /** At start: the account alias and every zone's tags (tools/aws/client.go, route53.go). */
  startup: ["iam:ListAccountAliases", "route53:ListHostedZones", "route53:ListTagsForResource"],
  /** EKS clusters, node groups and add-ons (tools/aws/eks.go), with the roles they run as. */
  eks: [
    "eks:CreateCluster",
    "eks:DescribeCluster",
    "eks:DeleteCluster",
    "eks:UpdateClusterVersion",
    "eks:DescribeUpdate",
    "eks:CreateNodegroup",
    "eks:DescribeNodegroup",
    "eks:DeleteNodegroup",
    "eks:CreateAddon",
    "iam:PassRole",
  ],
  /** Network lookups and node launch templates (tools/aws/ec2.go, launch_template.go). */
  ec2Read: ["ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeImages", "ec2:DescribeLaunchTemplates", "ec2:DescribeAvailabilityZones"],
  ec2Write: ["ec2:CreateTags", "ec2:DeleteTags", "ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion", "ec2:DeleteLaunchTemplate"],
  /** Installation DNS records (tools/aws/route53.go). */
  route53Records: ["route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"],
  /** Cluster kubeconfigs and installation secrets (tools/aws/secrets_manager.go). */
  secrets: [
    "secretsmanager:GetSecretValue",
    "secretsmanager:CreateSecret",
    "secretsmanager:UpdateSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:RestoreSecret",
    // CreateSecret with Tags (database_multitenant.go createDatabaseUserSecret) needs it too.
    "secretsmanager:TagResource",
  ],
  /** Multitenant filestore and the state store (tools/aws/s3.go). */
  s3: [
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketVersioning",
    "s3:GetBucketVersioning",
    "s3:GetBucketTagging",
  ],
  /** Per-installation filestore users, their policy and access key (tools/aws/iam.go); only with provisioner.s3Filestores. */
  filestoreUsers: [
    "iam:CreateUser",
    "iam:GetUser",
    "iam:DeleteUser",
    "iam:CreateAccessKey",
    "iam:ListAccessKeys",
    "iam:DeleteAccessKey",
    "iam:CreatePolicy",
    "iam:GetPolicy",
    "iam:DeletePolicy",
    "iam:AttachUserPolicy",
    "iam:DetachUserPolicy",
    "iam:ListAttachedUserPolicies",
  ],
  /** Installation certificates found by tag, and the tagging API (tools/aws/acm.go, tags.go). */
  lookups: ["acm:ListCertificates", "acm:ListTagsForCertificate", "tag:GetResources", "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:AddTags"],
  /** Database lookups every installation's backend uses, whichever it is (tools/aws/rds.go). */
  rdsCore: ["rds:DescribeDBClusters", "rds:DescribeDBInstances", "rds:DescribeDBClusterEndpoints", "rds:AddTagsToResource"],
  /**
   * Database backends on RDS (tools/aws/database_*.go), and the security-group rules of a
   * database migration (database_migration.go); only with provisioner.rdsDatabases.
   */
  rds: [
    "rds:DescribeDBSubnetGroups",
    "rds:CreateDBCluster",
    "rds:CreateDBInstance",
    "rds:DeleteDBCluster",
    "rds:DeleteDBInstance",
    "rds:CreateDBClusterSnapshot",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
  ],
  /** Keys of those databases (tools/aws/kms.go); only with provisioner.rdsDatabases. */
  kms: [
    "kms:CreateKey",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:ScheduleKeyDeletion",
    // CreateKey with Tags (kms.go) needs TagResource; RDS needs a grant on the key it encrypts with.
    "kms:TagResource",
    "kms:CreateGrant",
  ],
} as const;

export type ProvisionerFeature = keyof typeof PROVISIONER_ACTIONS;

/** The action groups an environment turns on. */
export function provisionerFeatures(opts: { rdsDatabases: boolean; s3Filestores: boolean }): ProvisionerFeature[] {
  return (Object.keys(PROVISIONER_ACTIONS) as ProvisionerFeature[]).filter(
    (f) => (opts.rdsDatabases || (f !== "rds" && f !== "kms")) && (opts.s3Filestores || f !== "filestoreUsers"),
  );
}
