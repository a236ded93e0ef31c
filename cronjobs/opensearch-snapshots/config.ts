/**
 * Configuration of the OpenSearch snapshot CronJob, from environment variables. Everything is
 * checked before any call; a bad value names the variable.
 */
import { ConfigError, HTTP_URL, flag, optional, required, withHookFromFile, type Env } from "../../lib/discovery/env";

export interface SnapshotConfig {
  /** The domain's endpoint, e.g. https://vpc-prod-logs-abc.us-east-1.es.amazonaws.com (OPENSEARCH_ENDPOINT). */
  endpoint: URL;
  /** Region the domain is in, for SigV4 and the repository's `region` (AWS_REGION). */
  region: string;
  /** Name of the manual snapshot repository inside the domain (SNAPSHOT_REPOSITORY). */
  repository: string;
  /** The S3 bucket the repository writes to (SNAPSHOT_BUCKET). */
  bucket: string;
  /** The role OpenSearch assumes to reach the bucket (SNAPSHOT_ROLE_ARN). */
  roleArn: string;
  /** Folder inside the bucket (SNAPSHOT_BASE_PATH); default none (the bucket's root). */
  basePath?: string;
  /** Days this job keeps its own snapshots (SNAPSHOT_RETENTION_DAYS, default 30). */
  retentionDays: number;
  /** First part of the job's snapshot names, `<prefix>-YYYY-MM-DD` (SNAPSHOT_PREFIX, default "daily"). */
  prefix: string;
  /** Index patterns a snapshot holds, comma-separated (SNAPSHOT_INDICES, default "logs-*"). */
  indices: string;
  /** How long to wait for a snapshot to finish (SNAPSHOT_WAIT_SECONDS, default 2700). */
  waitMs: number;
  /** Pause between two looks at a running snapshot (SNAPSHOT_POLL_SECONDS, default 15). */
  pollMs: number;
  /** Pause before retrying a call the domain refused because another snapshot operation runs (default 30 s, 5 tries). */
  busyRetryMs: number;
  busyRetries: number;
  /** Allow one run to delete more than half of the job's snapshots (ALLOW_MASS_DELETION, default false). */
  allowMassDeletion: boolean;
  /** Mattermost incoming webhook for failures (MATTERMOST_ALERTS_HOOK or MATTERMOST_ALERTS_HOOK_FILE). */
  alertsHook: string;
  /** Environment name shown in alerts (ENVIRONMENT_NAME). */
  environment: string;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const REPOSITORY = /^[a-z0-9][a-z0-9_-]{0,99}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const PREFIX = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const INDICES = /^[^\s"\\/?<>|#]+(,[^\s"\\/?<>|#]+)*$/;
const BASE_PATH = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = optional(env, name, String(fallback), /^\d+$/, `a whole number from ${min} to ${max}`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(`${name}=${value} is malformed; expected a whole number from ${min} to ${max}.`);
  return n;
}

export function readConfig(rawEnv: Env): SnapshotConfig {
  const env = withHookFromFile(rawEnv);
  const endpointText = required(env, "OPENSEARCH_ENDPOINT", HTTP_URL, "the domain's endpoint URL, such as https://vpc-prod-logs-abc.us-east-1.es.amazonaws.com");
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw new ConfigError(`OPENSEARCH_ENDPOINT=${JSON.stringify(endpointText)} is malformed; expected the domain's endpoint URL.`);
  }
  if (endpoint.pathname !== "/" || endpoint.search) {
    throw new ConfigError(`OPENSEARCH_ENDPOINT=${JSON.stringify(endpointText)} has a path or query; give the endpoint alone (scheme and host).`);
  }
  const basePath = optional(env, "SNAPSHOT_BASE_PATH", "", BASE_PATH, "a folder path inside the bucket such as opensearch/manual (no leading or trailing slash)");
  return {
    endpoint,
    region: required(env, "AWS_REGION", REGION, "an AWS region such as us-east-1"),
    repository: required(env, "SNAPSHOT_REPOSITORY", REPOSITORY, "a repository name (lower-case letters, digits, '-' and '_')"),
    bucket: required(env, "SNAPSHOT_BUCKET", BUCKET, "an S3 bucket name"),
    roleArn: required(env, "SNAPSHOT_ROLE_ARN", ROLE_ARN, "the ARN of the IAM role OpenSearch assumes, arn:aws:iam::<account>:role/<name>"),
    basePath: basePath || undefined,
    retentionDays: integer(env, "SNAPSHOT_RETENTION_DAYS", 30, 1, 3650),
    prefix: optional(env, "SNAPSHOT_PREFIX", "daily", PREFIX, "a lower-case name prefix such as daily"),
    indices: optional(env, "SNAPSHOT_INDICES", "logs-*", INDICES, "comma-separated index patterns such as logs-*"),
    waitMs: integer(env, "SNAPSHOT_WAIT_SECONDS", 2700, 1, 86_400) * 1000,
    pollMs: integer(env, "SNAPSHOT_POLL_SECONDS", 15, 1, 3600) * 1000,
    busyRetryMs: 30_000,
    busyRetries: 5,
    allowMassDeletion: flag(env, "ALLOW_MASS_DELETION"),
    alertsHook: required(env, "MATTERMOST_ALERTS_HOOK", HTTP_URL, "an http(s) URL of a Mattermost incoming webhook"),
    environment: optional(env, "ENVIRONMENT_NAME", "unknown"),
  };
}
