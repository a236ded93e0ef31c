/**
 * The reviewed exceptions to the policy checks (scripts/verify/policy.ts): one entry per check and
 * resource that the check does not fit, with the reason. The README's security section lists them.
 *
 * `resource` is `<terraform type>.<construct path inside its stack>` (the same in every
 * environment); a trailing `*` matches a prefix. `environments` limits an entry to the named
 * environments. An entry that matches no finding fails the policy step, so this file cannot keep
 * stale excuses.
 */
export interface PolicyException {
  check: string;
  resource: string;
  environments?: readonly string[];
  /** The resource exists only in environments that declare it (installations); no shipped one does, so it is not stale. */
  mayBeAbsent?: boolean;
  reason: string;
}

/** The cheaper pre-production environment (environments/staging): same shape as prod, fewer spares. */
const STAGING = ["staging"] as const;

/** The rehearsal environment, destroyed at the end of every run against the AWS emulator. */
const REHEARSAL = ["local"] as const;

export const POLICY_EXCEPTIONS: readonly PolicyException[] = [
  // --- Every environment
  // Secrets Manager rotation: each value is issued by a system that alone can rotate it, or rotated by a reviewed apply.
  { check: "CKV2_AWS_57", resource: "aws_secretsmanager_secret.alerts-webhook", reason: "A Mattermost incoming-webhook URL, issued by the Mattermost server the alerts go to; a rotation Lambda would need admin rights there to issue a new one. Rotated by hand: create a new webhook, put its URL in the secret, delete the old one." },
  { check: "CKV2_AWS_57", resource: "aws_secretsmanager_secret.alerts-pager", reason: "A PagerDuty routing key or Opsgenie API key, issued by that service; rotating it needs the vendor's API and account, not AWS's. Rotated by hand in the vendor's console, then put into the secret." },
  { check: "CKV2_AWS_57", resource: "aws_secretsmanager_secret.oidc-client", reason: "The app login's OIDC client secret, issued by the identity provider, which alone can rotate it (with its own expiry). Rotated by hand: a new secret in the IdP, put into this secret, the old one revoked." },
  { check: "CKV2_AWS_57", resource: "aws_secretsmanager_secret.provisioner-api-client", reason: "The OAuth2 client the tooling calls the provisioner API with, issued by the identity provider, which alone can rotate it. Rotated by hand there, then put into the secret." },
  { check: "CKV2_AWS_57", resource: "aws_secretsmanager_secret.provisioner-ssh-key", reason: "An SSH public key (the provisioner's start-up check reads it; kops would install it on nodes): public, not a credential; replacing it is a key change made by hand." },
  { check: "CKV2_AWS_57", resource: "aws_secretsmanager_secret.grafana-admin", reason: "Grafana's local admin, a break-glass account: people log in through the OIDC login in front of Grafana. Grafana reads this password only when it first creates its database, so a scheduled rotation would change the secret and not the account. Rotated by hand: the new value into the secret, then grafana cli admin reset-admin-password and a restart (README, Secrets)." },
  { check: "CKV2_AWS_57", resource: "aws_secretsmanager_secret.redis-auth-*", reason: "A workload's Redis AUTH token, passed to ElastiCache by the workload's AWS phase. ElastiCache changes it only through ModifyReplicationGroup (ROTATE, then SET), which Terraform does when the value changes: rotation is a reviewed apply (a new value, then make workloads), not a Lambda on a schedule. No client of the platform reads the token yet." },
  { check: "CKV2_AWS_57", resource: "aws_secretsmanager_secret.db-*", mayBeAbsent: true, reason: "An installation's DSN, with its own database user, written by an operator; its password is rotated with that user (ALTER ROLE, then the new DSN into the secret, which the DSN sync copies within 15 minutes). RDS rotates the master secrets itself." },
  { check: "CKV_AWS_18", resource: "aws_s3_bucket.access-logs/bucket", reason: "It is the access-log bucket itself: logging it into itself would log its own log writes without end." },
  { check: "CKV_AWS_145", resource: "aws_s3_bucket.access-logs/bucket", reason: "S3 server access-log delivery cannot write SSE-KMS objects; the log bucket uses SSE-S3 (AES256), every other bucket SSE-KMS." },
  { check: "CKV_AWS_91", resource: "aws_lb.monitoring-endpoints/nlb", reason: "NLB access logs are written for TLS listeners only; this NLB's listeners are TCP (Thanos gRPC and Prometheus carry their own transport), so AWS would write nothing." },
  { check: "CKV_AWS_272", resource: "aws_lambda_function.dns-registration/function", reason: "The bundle is built from this repository and uploaded by Terraform under the deploy role; code signing needs an AWS Signer job over an S3 object, which this flow does not have. Integrity rests on the reviewed commit and the deploy role." },
  { check: "CKV_AWS_272", resource: "aws_lambda_function.alerts-forwarder/function", reason: "Same as the DNS-registration Lambda: built from this repository and uploaded by Terraform under the deploy role, with no Signer job in the flow." },
  { check: "CKV_K8S_38", resource: "kubernetes_deployment_v1.autoscaler/deployment", reason: "The Cluster Autoscaler watches pods and nodes and evicts pods through the Kubernetes API; its ClusterRole is the upstream example's." },
  { check: "CKV_K8S_38", resource: "kubernetes_cron_job_v1.store-discovery/cronjob", reason: "Store discovery writes the Thanos endpoints ConfigMap (and may restart the query Deployment) through the Kubernetes API; its Role allows only that." },
  // Tags without a recorded digest (config/image-digests.json): no registry is reachable from the
  // machine that built this change, and a digest is never written down unverified. Run
  // `npm run pin-images` where the registries are reachable, commit the file, and delete these.
  { check: "CKV_K8S_43", resource: "kubernetes_deployment_v1.provisioner/*", reason: "mattermost/mattermost-cloud:v0.90.0 has no verified digest yet (npm run pin-images records it); until then the release tag is pulled on every start (imagePullPolicy Always)." },
  { check: "CKV_K8S_43", resource: "kubernetes_deployment_v1.opensearch-dashboards/deployment", reason: "aws-sigv4-proxy:1.10 has no verified digest yet (npm run pin-images records it)." },
  { check: "CKV_K8S_43", resource: "kubernetes_deployment_v1.autoscaler/deployment", reason: "registry.k8s.io/autoscaling/cluster-autoscaler (one release per EKS minor) has no verified digest yet (npm run pin-images records them)." },
  { check: "CKV_K8S_43", resource: "kubernetes_deployment_v1.uptime/deployment", reason: "quay.io/prometheus/blackbox-exporter:v0.28.0 has no verified digest yet (npm run pin-images records it)." },
  { check: "CKV_K8S_43", resource: "kubernetes_cron_job_v1.db-sync-*", mayBeAbsent: true, reason: "Declared installations' DSN sync runs the provisioner image (for its AWS CLI): mattermost/mattermost-cloud:v0.90.0 has no verified digest yet." },

  // --- The rehearsal only (`local`, against the AWS emulator; a real environment gets the protection)
  { check: "CKV_AWS_157", resource: "aws_db_instance.*", environments: REHEARSAL, reason: "Multi-AZ is for availability of real data; the rehearsal's databases hold none." },
  { check: "CKV_AWS_293", resource: "aws_db_instance.*", environments: REHEARSAL, reason: "make destroy must delete the rehearsal's databases; real environments keep deletion protection and a final snapshot." },
  { check: "CKV_AWS_150", resource: "aws_lb.monitoring-endpoints/nlb", environments: REHEARSAL, reason: "make destroy must delete the rehearsal's load balancer; real environments keep deletion protection." },
  { check: "CKV_AWS_118", resource: "aws_db_instance.*", environments: REHEARSAL, reason: "The emulator does not keep MonitoringInterval, so enhanced monitoring would leave a diff in the rehearsal's second plan; real environments use 60 s." },
  { check: "CKV_AWS_173", resource: "aws_lambda_function.*", environments: REHEARSAL, reason: "The emulator does not keep a function's KMSKeyArn, so an encrypted environment would leave a diff in the second plan; real environments encrypt the functions' settings with the stack key." },
  { check: "CKV_AWS_147", resource: "aws_codebuild_project.*", environments: REHEARSAL, reason: "The emulator reports the AWS-managed key whatever is set, so a customer key would leave a diff in the second plan; real environments encrypt builds with the stack key." },

  // --- staging only (a real environment whose availability is traded for cost; prod keeps each)
  { check: "CKV_AWS_157", resource: "aws_db_instance.*", environments: STAGING, reason: "staging sets multiAz: false: a zone outage stops its provisioner and installations until RDS recovers the instance, which staging accepts at half the database cost. Backups, deletion protection and the final snapshot stay on." },
  { check: "CKV_AWS_318", resource: "aws_opensearch_domain.logs/domain", environments: STAGING, reason: "staging's log domain has two data nodes and no dedicated masters (logging.dedicatedMasters.enabled: false): a data-node replacement may pause log ingestion there, which staging accepts; prod keeps three masters." },
  { check: "CKV2_AWS_59", resource: "aws_opensearch_domain.logs/domain", environments: STAGING, reason: "Same as CKV_AWS_318: staging's log domain runs without dedicated masters to save their cost." },
];
