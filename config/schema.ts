/**
 * The environment contract: what an `environments/<name>/environment.ts` file may say.
 *
 * Every field is validated at synth. Unknown keys are refused (a typo must not silently fall back
 * to a default), and every message names the field and what was expected. Secrets are never
 * values here: the file holds Secrets Manager *names*, and the stacks read them at deploy time.
 */
import { z } from "zod";
import { APP_FRONTS } from "./apps";
import { cidrsOverlap, isCidr, parseCidr } from "./cidr";
import {
  HELM_CHARTS,
  IMAGES,
  SUPPORTED_EKS_VERSIONS,
  SUPPORTED_POSTGRES_VERSIONS,
  defaultAppVersions,
  type HelmApp,
} from "./versions";

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** The C&C apps that get a DNS name; the environment decides which are also public. */
export const CNC_APPS = [
  "grafana",
  "prometheus",
  "alertmanager",
  "thanos",
  "thanos-grpc",
  "opensearch",
  "kibana",
  "provisioner",
  "dashboard",
] as const;
export type CncApp = (typeof CNC_APPS)[number];

const DNS_LABEL = /^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$/;
const DOMAIN = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const ZONE_ID = /^Z[A-Z0-9]{1,31}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const IAM_ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+$/;
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const DURATION = /^(\d+)(h|d|w|y)$/;

/**
 * An IAM role ARN. EKS access entries refuse STS session ARNs and this platform uses no IAM users,
 * so both are refused with the ARN to use instead.
 */
function roleArn(what: string) {
  return z.string({ error: `expected an IAM role ARN (${what})` }).superRefine((arn, ctx) => {
    const session = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
    if (session) {
      const [, partition, account, role] = session;
      const sso = role.startsWith("AWSReservedSSO_") ? "aws-reserved/sso.amazonaws.com/" : "";
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(arn)} is an STS session (assumed-role) ARN, which EKS access entries refuse; use the role itself: arn:${partition}:iam::${account}:role/${sso}${role}`,
      });
    } else if (/^arn:aws[a-z-]*:iam::\d{12}:user\//.test(arn)) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(arn)} is an IAM user; this platform deploys and administers through roles only (no IAM users, no access keys): give the ARN of a role the user assumes` });
    } else if (!IAM_ROLE_ARN.test(arn)) {
      ctx.addIssue({ code: "custom", message: `expected an IAM role ARN such as arn:aws:iam::111111111111:role/platform-deploy (${what}), got ${JSON.stringify(arn)}` });
    }
  });
}

const cidr = (what = "an IPv4 CIDR block such as 10.0.0.0/16") =>
  z.string({ error: `expected ${what}` }).refine(isCidr, {
    error: (iss) => `expected ${what}, got ${JSON.stringify(iss.input)}`,
  });

const logRetention = z
  .number({ error: "expected a number of days" })
  .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
    error: (iss) => `expected one of CloudWatch's retention periods (${LOG_RETENTION_DAYS.join(", ")}), got ${iss.input}`,
  });

/** Parses "40h", "15d", "2w", "1y" into hours. */
export function durationHours(text: string): number {
  const m = DURATION.exec(text);
  if (!m) return NaN;
  const n = Number(m[1]);
  return n * { h: 1, d: 24, w: 24 * 7, y: 24 * 365 }[m[2] as "h" | "d" | "w" | "y"];
}
const duration = (min?: { hours: number; words: string }) =>
  z
    .string({ error: "expected a duration such as 30d" })
    .regex(DURATION, { error: (iss) => `expected a duration such as 30d or 2w, got ${JSON.stringify(iss.input)}` })
    .refine((d) => !min || durationHours(d) > min.hours, {
      error: (iss) => `expected a duration longer than ${min?.words}, got ${JSON.stringify(iss.input)}`,
    });

const nodeGroup = z
  .object({
    /** Node group name suffix (DNS label). */
    name: z.string().regex(DNS_LABEL, { error: "expected a lower-case DNS label such as general" }),
    /** EC2 instance types, in order of preference; at least one. */
    instanceTypes: z
      .array(z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, { error: "expected an EC2 instance type such as m6i.large" }))
      .min(1, { error: "expected at least one EC2 instance type, got an empty list" }),
    minSize: z.number().int().min(0),
    maxSize: z.number().int().min(1),
    desiredSize: z.number().int().min(0),
    /** Root volume size in GiB (gp3, encrypted). */
    diskSizeGiB: z.number().int().min(20).max(16384).default(50),
    /** ON_DEMAND (default) or SPOT. */
    capacityType: z.enum(["ON_DEMAND", "SPOT"]).default("ON_DEMAND"),
  })
  .strict()
  .superRefine((g, ctx) => {
    if (g.minSize > g.maxSize) {
      ctx.addIssue({ code: "custom", path: ["minSize"], message: `minSize (${g.minSize}) must not be greater than maxSize (${g.maxSize})` });
    }
    if (g.desiredSize < g.minSize || g.desiredSize > g.maxSize) {
      ctx.addIssue({
        code: "custom",
        path: ["desiredSize"],
        message: `desiredSize (${g.desiredSize}) must lie between minSize (${g.minSize}) and maxSize (${g.maxSize})`,
      });
    }
  });

const existingNetwork = z
  .object({
    vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, { error: "expected a VPC id such as vpc-0123456789abcdef0" }),
    publicSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { error: "expected a subnet id" })),
    privateSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { error: "expected a subnet id" })),
  })
  .strict();

const network = z
  .object({
    /** The VPC block; subnets are carved out of it (/20 public and private per AZ for a /16). */
    cidr: cidr(),
    /** Availability zones to spread over (3 in production). */
    azs: z
      .array(z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/, { error: "expected an availability zone name such as eu-west-1a" }))
      .min(2, { error: "expected at least two availability zones (EKS requires two)" })
      .max(6),
    /** `per-az` (one NAT gateway per zone, production) or `single` (one in total, cheaper). */
    natGateways: z.enum(["per-az", "single"]).default("per-az"),
    /** Retention of the VPC flow-log group. */
    flowLogRetentionDays: logRetention.default(90),
    /**
     * ECR (API, registry) and STS interface endpoints in every VPC the environment creates, so image
     * pulls from ECR and IRSA token exchanges skip the NAT gateways. Each endpoint has an hourly
     * fee per zone; see README "Network costs". Default off (the S3 gateway endpoint is always on).
     */
    interfaceEndpoints: z.boolean().default(false),
    /** Use an existing VPC and subnets instead of creating them (upstream took ids as inputs). */
    existing: existingNetwork.optional(),
  })
  .strict()
  .superRefine((n, ctx) => {
    const p = parseCidr(n.cidr);
    if (p && (p.prefix < 16 || p.prefix > 20)) {
      ctx.addIssue({ code: "custom", path: ["cidr"], message: `expected a VPC block between /16 and /20 (subnets are carved out of it), got ${n.cidr}` });
    }
    if (new Set(n.azs).size !== n.azs.length) {
      ctx.addIssue({ code: "custom", path: ["azs"], message: "lists an availability zone twice" });
    }
    if (n.existing) {
      for (const key of ["publicSubnetIds", "privateSubnetIds"] as const) {
        if (n.existing[key].length < n.azs.length) {
          ctx.addIssue({
            code: "custom",
            path: ["existing", key],
            message: `has ${n.existing[key].length} subnet(s) but azs lists ${n.azs.length} zones; give one subnet per zone`,
          });
        }
      }
    }
  });

const cluster = z
  .object({
    /** EKS Kubernetes version; one of config/versions.ts SUPPORTED_EKS_VERSIONS. */
    kubernetesVersion: z.enum(SUPPORTED_EKS_VERSIONS, {
      error: (iss) => `expected a supported EKS version (${SUPPORTED_EKS_VERSIONS.join(", ")}), got ${JSON.stringify(iss.input)}`,
    }),
    /** Public API endpoint; off by default. When on, publicAccessCidrs must list who may reach it. */
    endpointPublicAccess: z.boolean().default(false),
    publicAccessCidrs: z.array(cidr()).default([]),
    /** VPN / admin networks allowed to reach the private API endpoint (and admin-only databases). */
    adminCidrs: z.array(cidr()).default([]),
    /**
     * IAM roles that run deploys (`make all`, CI): each gets cluster admin on every cluster of the
     * environment through an access entry, and the preflight of every Kubernetes stack refuses any
     * other caller. At least one. The deploy runner's own role is added automatically.
     */
    deployRoleArns: z.array(roleArn("deploy role")).min(1, { error: "expected at least one IAM role ARN that runs deploys (nobody would be admin of the clusters otherwise)" }),
    /** Further IAM roles granted cluster admin (people's SSO roles, break-glass). */
    adminPrincipalArns: z.array(roleArn("admin role")).default([]),
    /** Retention of the control-plane log group. */
    logRetentionDays: logRetention.default(90),
    nodeGroups: z.array(nodeGroup).min(1, { error: "expected at least one node group" }),
    /**
     * The EKS-optimized AMI release of the node groups (`release_version`): "latest" (default)
     * follows AWS's recommended release for the cluster's minor (an SSM parameter read at plan
     * time; a new AMI shows as an in-place, rolling node-group update, also in the drift check),
     * or a pinned release such as 1.34.2-20251120 that moves only when this file does. A pinned
     * release must belong to the cluster's minor.
     */
    nodeAmiRelease: z
      .string()
      .regex(/^(latest|\d+\.\d+\.\d+-\d{8})$/, { error: (iss) => `expected "latest" or an EKS-optimized AMI release such as 1.34.2-20251120 (aws ssm get-parameter --name /aws/service/eks/optimized-ami/<minor>/amazon-linux-2023/x86_64/standard/recommended/release_version), got ${JSON.stringify(iss.input)}` }).default("latest"),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.endpointPublicAccess && c.publicAccessCidrs.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["publicAccessCidrs"],
        message: "must list the networks allowed to reach the public API endpoint when endpointPublicAccess is true",
      });
    }
    c.publicAccessCidrs.forEach((block, i) => {
      if (parseCidr(block)?.prefix === 0) {
        ctx.addIssue({ code: "custom", path: ["publicAccessCidrs", i], message: "must not open the API to the whole internet (0.0.0.0/0)" });
      }
    });
    const names = c.nodeGroups.map((g) => g.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) ctx.addIssue({ code: "custom", path: ["nodeGroups", i, "name"], message: `duplicate node group name "${name}"` });
    });
  });

const dns = z
  .object({
    /**
     * Private hosted zone shared by the C&C and the workload clusters (discovery records live here).
     * Required for real AWS; for target "emulator" the bootstrap stack creates stand-in zones and
     * every stack finds them by domain.
     */
    privateZoneId: z.string().regex(ZONE_ID, { error: "expected a Route53 hosted zone id such as Z0123456789ABCDEFGHIJ" }).optional(),
    privateDomain: z.string().regex(DOMAIN, { error: "expected a lower-case domain name such as internal.example.com" }),
    /** Optional public zone for the few apps that must be reachable from outside. */
    publicZoneId: z.string().regex(ZONE_ID, { error: "expected a Route53 hosted zone id" }).optional(),
    publicDomain: z.string().regex(DOMAIN, { error: "expected a lower-case domain name" }).optional(),
    /** Apps that also get a public name (they must be behind authentication). */
    publicApps: z.array(z.enum(CNC_APPS)).default([]),
  })
  .strict()
  .superRefine((d, ctx) => {
    d.publicApps.forEach((app, i) => {
      const spec = APP_FRONTS[app];
      if (!spec.authenticatedAtLoadBalancer) {
        ctx.addIssue({ code: "custom", path: ["publicApps", i], message: `"${app}" cannot have a public name: ${spec.why}` });
      }
    });
    if (d.publicApps.length > 0 && (!d.publicZoneId || !d.publicDomain)) {
      ctx.addIssue({ code: "custom", path: ["publicZoneId"], message: "is required (with publicDomain) when publicApps is not empty" });
    }
  });

const appVersions = z
  .object(
    Object.fromEntries(
      (Object.keys(HELM_CHARTS) as HelmApp[]).map((app) => [
        app,
        z
          .string()
          .refine((v) => (HELM_CHARTS[app].versions as readonly string[]).includes(v), {
            error: (iss) =>
              `expected a pinned ${app} chart version (${HELM_CHARTS[app].versions.join(", ")} in config/versions.ts), got ${JSON.stringify(iss.input)}`,
          })
          .optional(),
      ]),
    ) as Record<HelmApp, z.ZodOptional<z.ZodString>>,
  )
  .strict()
  .default({})
  .transform((v) => ({ ...defaultAppVersions(), ...Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) }) as Record<HelmApp, string>);

const monitoring = z
  .object({
    /** Thanos compactor retention per resolution; raw and 5m must each be longer than 10 days. */
    retention: z
      .object({
        raw: duration({ hours: 240, words: "10 days" }),
        fiveMinutes: duration({ hours: 240, words: "10 days" }),
        oneHour: duration({ hours: 240, words: "10 days" }),
      })
      .strict(),
    /** Local Prometheus TSDB retention (blocks are in S3 after 2 h anyway). */
    prometheusRetention: duration().default("2d"),
    prometheusStorageGiB: z.number().int().min(10).default(50),
    /** Cron schedule of the store-discovery CronJob. */
    storeDiscoverySchedule: z
      .string()
      .regex(/^(\S+\s+){4}\S+$/, { error: (iss) => `expected a five-field cron schedule such as "*/5 * * * *", got ${JSON.stringify(iss.input)}` })
      .default("*/5 * * * *"),
    alertmanagerStorageGiB: z.number().int().min(1).default(10),
  })
  .strict();

const secretName = z
  .string({ error: "expected the name of an AWS Secrets Manager secret (never the secret itself)" })
  .regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, { error: "expected the name of an AWS Secrets Manager secret" })
  .refine((s) => !/^https?:/.test(s), { error: "must name a Secrets Manager secret, not contain the webhook URL itself" });

const alerts = z
  .object({
    /** Secrets Manager secret holding the Mattermost incoming-webhook URL for alerts. */
    webhookSecretName: secretName,
    /**
     * A pager for critical alerts, besides Mattermost: PagerDuty (an Events API v2 routing key)
     * or Opsgenie (an API key), the key in this Secrets Manager secret (bootstrap creates it empty).
     */
    pager: z.object({ service: z.enum(["pagerduty", "opsgenie"]), secretName }).strict().optional(),
    /** Where alerts' runbook links point (one anchor per alert); default the repository's docs/runbooks.md. */
    runbookBaseUrl: z.string().regex(/^https:\/\/\S+$/, { error: "expected an https URL of the runbooks page" }).optional(),
  })
  .strict();

const oidcSettings = z
  .object({
    /** OpenID Connect issuer and endpoints of the identity provider. */
    issuer: z.string().url({ error: "expected the IdP issuer URL" }),
    authorizationEndpoint: z.string().url({ error: "expected the IdP authorization endpoint URL" }),
    tokenEndpoint: z.string().url({ error: "expected the IdP token endpoint URL" }),
    userInfoEndpoint: z.string().url({ error: "expected the IdP user-info endpoint URL" }),
    /** Secrets Manager secret holding {"clientId": "...", "clientSecret": "..."}. */
    clientSecretName: secretName,
  })
  .partial()
  .strict();

const auth = z
  .object({
    /** Authenticate every UI at the load balancer (ALB OIDC). On by default. */
    enabled: z.boolean().default(true),
    oidc: oidcSettings.optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (!a.enabled) return;
    const fields = ["issuer", "authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint", "clientSecretName"] as const;
    for (const f of fields) {
      if (!a.oidc?.[f]) {
        ctx.addIssue({ code: "custom", path: ["oidc", f], message: `is required when auth.enabled is true (the identity provider's ${f}); set it, or set auth.enabled to false` });
      }
    }
  });

const logging = z
  .object({
    /** OpenSearch engine version of the log domain. */
    engineVersion: z.enum(["OpenSearch_2.17", "OpenSearch_2.19"]).default("OpenSearch_2.19"),
    instanceType: z.string().regex(/^[a-z0-9]+\.[a-z0-9]+\.search$/, { error: "expected an OpenSearch instance type such as r6g.large.search" }).default("r6g.large.search"),
    /** Data nodes; spread over the zones (zone awareness when there are 3). */
    instanceCount: z.number().int().min(1).default(3),
    volumeGiB: z.number().int().min(10).default(100),
    /** Days the domain's own CloudWatch logs are kept. */
    logRetentionDays: logRetention.default(30),
    /** Days a day's `logs-*` index stays writable before it is made read-only and merged (ISM). */
    hotDays: z.number().int().min(1).max(365).default(7),
    /** Days after which a `logs-*` index is deleted (ISM); upstream's curator kept 30. */
    indexRetentionDays: z.number().int().min(2).max(3650).default(30),
    /**
     * Dedicated master nodes (3, one per zone): the domain keeps its quorum while data nodes are
     * replaced or busy. Safe default on; a small test domain may set `enabled: false` (cost).
     */
    dedicatedMasters: z
      .object({
        enabled: z.boolean().default(true),
        instanceType: z.string().regex(/^[a-z0-9]+\.[a-z0-9]+\.search$/, { error: "expected an OpenSearch instance type such as m6g.large.search" }).default("m6g.large.search"),
      })
      .strict()
      .default({ enabled: true, instanceType: "m6g.large.search" }),
    /**
     * Manual snapshots of the log domain into the environment's snapshot bucket (S3, SSE-KMS),
     * taken by the `opensearch-snapshots` CronJob, which also registers the repository and deletes
     * its own snapshots older than `retentionDays` (never the newest, never on a doubtful listing).
     * `schedule` is a five-field cron schedule (UTC).
     */
    snapshots: z
      .object({
        enabled: z.boolean().default(true),
        schedule: z
          .string()
          .regex(/^(\S+\s+){4}\S+$/, { error: (iss) => `expected a five-field cron schedule such as "30 2 * * *", got ${JSON.stringify(iss.input)}` })
          .default("30 2 * * *"),
        retentionDays: z.number().int().min(1).max(3650).default(30),
      })
      .strict()
      .default({ enabled: true, schedule: "30 2 * * *", retentionDays: 30 }),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.indexRetentionDays <= l.hotDays) {
      ctx.addIssue({ code: "custom", path: ["indexRetentionDays"], message: `must be more than hotDays (${l.hotDays}): an index is deleted only after it has left the hot state` });
    }
  });

const provisioner = z
  .object({
    /** `mattermost/mattermost-cloud` image tag; one of config/versions.ts IMAGES.provisioner.tags. */
    imageTag: z
      .string()
      .refine((t) => t !== "latest", { error: "must be a pinned tag, not \"latest\"" })
      .refine((t) => t === "latest" || (IMAGES.provisioner.tags as readonly string[]).includes(t), {
        error: (iss) => `expected a pinned provisioner tag (${IMAGES.provisioner.tags.join(", ")}), got ${JSON.stringify(iss.input)}`,
      }),
    /** Replicas of the installation supervisor Deployment. */
    supervisorReplicas: z.number().int().min(1, { error: "must be at least 1" }).default(3),
    /** PostgreSQL engine version of the provisioner's RDS instance. */
    postgresVersion: z.enum(SUPPORTED_POSTGRES_VERSIONS, {
      error: (iss) => `expected a supported PostgreSQL major version (${SUPPORTED_POSTGRES_VERSIONS.join(", ")}; RDS applies minor upgrades itself), got ${JSON.stringify(iss.input)}`,
    }),
    dbInstanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/).default("db.t4g.medium"),
    backupRetentionDays: z.number().int().min(1).max(35).default(14),
    /** A standby in a second zone (RDS Multi-AZ). On by default; a staging environment may turn it off to halve the database's cost. The emulator never gets one. */
    multiAz: z.boolean().default(true),
    /**
     * Point-in-time restores of the provisioner's database, oldest first, written by `make
     * restore-db` into environments/<env>/database-restores.json (not edited by hand). The last one
     * is the instance in use; each earlier instance was let go by Terraform (kept running, unmanaged).
     */
    restores: z
      .array(
        z.object({
          /** The restore point, RFC 3339 (UTC). */
          time: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, { error: "expected an RFC 3339 time in UTC, such as 2026-12-05T09:30:00Z" }),
          /** The new instance's identifier. */
          identifier: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: "expected an RDS instance identifier" }),
          /** The instance it was restored from. */
          source: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: "expected an RDS instance identifier" }),
        }),
      )
      .default([]),
    /** Git URL of the utility Helm values the provisioner applies to workload clusters (the server refuses to start without it). */
    utilitiesGitUrl: z.string().url({ error: "expected the https URL of the utilities Helm values repository" }),
    /** Path of the utilities repository on that host, e.g. /gitops/gitops.git (`--utilities-git-path`; required at start). */
    utilitiesGitPath: z.string().regex(/^\/[\w./-]+$/, { error: "expected the repository path on the git host, such as /gitops/gitops.git" }),
    /**
     * IAM account alias the server reads at start (`mattermost-cloud-<env>`: exactly three
     * dash-separated parts; `<env>` becomes its environment name). Default `mattermost-cloud-<environment name>`.
     * Aliases are unique across all of AWS and an account has one: pick another if it is taken.
     */
    accountAlias: z.string().regex(/^mattermost-cloud-[a-z0-9]+$/, { error: "expected mattermost-cloud-<env> (three dash-separated parts, <env> lower-case letters and digits): the provisioner reads its environment from it" }).optional(),
    /** Secrets Manager secret holding the SSH public key kops and the server's start-up check need (bootstrap creates it empty). */
    sshPublicKeySecretName: secretName,
    /** Manage RDS databases for installations (adds the RDS and KMS rights the database backends use). */
    rdsDatabases: z.boolean().default(true),
    /**
     * S3 filestores for installations: adds the rights to create each one's IAM user `cloud-<id>`,
     * its policy and key. Off by default: those rights make the provisioner IAM admin in effect
     * (README, Provisioner); turn on only where that is accepted.
     */
    s3Filestores: z.boolean().default(false),
    /**
     * JWT verification of every API call (`--issuer`, `--audience`, `--jwks-url`): without it the
     * API is open to anyone who reaches it. The issuer defaults to auth.oidc.issuer. The client
     * secret ({"clientId", "clientSecret"}) is what `make register-workloads` gets its token with
     * (OAuth2 client credentials at auth.oidc.tokenEndpoint).
     */
    apiAuth: z
      .object({
        issuer: z.string().url({ error: "expected the IdP issuer URL" }).optional(),
        /** Where make register-workloads gets its token (client credentials); default auth.oidc.tokenEndpoint. */
        tokenEndpoint: z.string().url({ error: "expected the IdP's token endpoint URL" }).optional(),
        audience: z.string().min(1, { error: "expected the audience the provisioner's tokens are issued for" }),
        jwksUrl: z.string().url({ error: "expected the IdP's JWKS URL" }),
        /** OAuth2 scope asked for with client credentials; default `<audience>/.default`. */
        scope: z.string().optional(),
        clientSecretName: secretName,
      })
      .strict(),
    /** Networks allowed to reach installations' private ingress (`--allow-list-cidr-range`); default the C&C VPC. */
    allowListCidrs: z.array(cidr()).min(1, { error: "expected at least one CIDR block (the server refuses an empty list); leave the field out for the C&C VPC" }).optional(),
  })
  .strict();

const deployRunner = z
  .object({
    /**
     * Run deploys from a GitHub Actions runner hosted by AWS CodeBuild inside the C&C VPC, the only
     * place (besides the VPN) that reaches every private API endpoint. On by default.
     */
    enabled: z.boolean().default(true),
    /** The repository whose workflows use the runner, e.g. https://github.com/example/cnc-platform. */
    repositoryUrl: z.string().regex(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/, { error: "expected the repository's https://github.com/<owner>/<name> URL" }),
    /** AWS CodeConnections connection to GitHub (created and authorized once in the console). */
    connectionArn: z.string().regex(/^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection\/[\w-]+$/, {
      error: "expected the ARN of an AWS CodeConnections connection to GitHub (arn:aws:codeconnections:<region>:<account>:connection/<id>)",
    }),
    /** CodeBuild compute type of the runner. */
    computeType: z.enum(["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"]).default("BUILD_GENERAL1_MEDIUM"),
    /** Days the runner's build logs are kept. */
    logRetentionDays: logRetention.default(90),
  })
  .strict();

const workload = z
  .object({
    /** Cluster name suffix: `<env>-workload-<name>`; must be a DNS label (it becomes `<name>-grpc.<domain>`). */
    name: z
      .string()
      .regex(DNS_LABEL, {
        error: (iss) => `expected a lower-case DNS label (letters, digits, hyphens; starts with a letter), got ${JSON.stringify(iss.input)}`,
      })
      .refine((n) => !n.endsWith("-apps"), { error: (iss) => `must not end in "-apps" (the Kubernetes phase of each workload is the stack <env>-workload-<name>-apps), got ${JSON.stringify(iss.input)}` }),
    /** The workload VPC block; must not overlap the C&C VPC or another workload. */
    cidr: cidr(),
    azs: z.array(z.string()).min(2).optional(),
    kubernetesVersion: z.enum(SUPPORTED_EKS_VERSIONS).optional(),
    nodeGroups: z.array(nodeGroup).min(1),
    /** Optional per-cluster services. */
    redis: z.boolean().default(false),
    /** The node type of the Redis replication group (two nodes, automatic failover) when `redis` is on. */
    /**
     * This workload's own data protection (see the environment's `dataProtection`): prevent_destroy
     * on what holds data, and deletion protection on its database and monitoring load balancer.
     * Default: the environment's. `make decommission` lifts it for the one workload it removes
     * (after CONFIRM=<cluster> and the approval), so nobody has to edit it by hand.
     */
    dataProtection: z.boolean().optional(),
    /** The workload's node AMI release (see cluster.nodeAmiRelease); default: the C&C's when both run the same minor, else "latest". */
    nodeAmiRelease: z
      .string()
      .regex(/^(latest|\d+\.\d+\.\d+-\d{8})$/, { error: (iss) => `expected "latest" or an EKS-optimized AMI release such as 1.34.2-20251120 (aws ssm get-parameter --name /aws/service/eks/optimized-ami/<minor>/amazon-linux-2023/x86_64/standard/recommended/release_version), got ${JSON.stringify(iss.input)}` }).optional(),
    redisNodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, { error: (iss) => `expected an ElastiCache node type such as cache.t4g.medium, got ${JSON.stringify(iss.input)}` }).default("cache.t4g.medium"),
    efs: z.boolean().default(false),
    /** The shared PostgreSQL of this cluster's installations. */
    database: z
      .object({
        engineVersion: z.enum(SUPPORTED_POSTGRES_VERSIONS, {
          error: (iss) => `expected a supported PostgreSQL major version (${SUPPORTED_POSTGRES_VERSIONS.join(", ")}; RDS applies minor upgrades itself), got ${JSON.stringify(iss.input)}`,
        }),
        instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/),
        backupRetentionDays: z.number().int().min(1).max(35),
        /** A standby in a second zone (RDS Multi-AZ); default on. The emulator never gets one. */
        multiAz: z.boolean().default(true),
      })
      .strict()
      .default({ engineVersion: "17", instanceClass: "db.r6g.large", backupRetentionDays: 14, multiAz: true }),
    /** A few installations declared here (most are created by the provisioner at run time). */
    installations: z
      .array(
        z
          .object({
            name: z.string().regex(DNS_LABEL, { error: "expected a lower-case DNS label" }),
            dns: z.string().regex(DOMAIN, { error: "expected the installation's domain name" }),
            size: z.enum(["100users", "1000users", "5000users", "10000users"]),
            version: z.string().regex(/^\d+\.\d+\.\d+$/, { error: "expected a pinned Mattermost version such as 10.11.2" }),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export const environmentSchema = z
  .object({
    /** 12-digit AWS account id (a placeholder in templates). */
    accountId: z.string().regex(/^\d{12}$/, { error: (iss) => `expected a 12-digit AWS account id, got ${JSON.stringify(iss.input)}` }),
    region: z
      .string({ error: "expected an AWS region such as eu-west-1" })
      .regex(REGION, { error: (iss) => `expected an AWS region such as eu-west-1, got ${JSON.stringify(iss.input)}` }),
    /**
     * `aws`: a real account, S3 state. `emulator`: a local AWS API emulator (moto) reached through
     * AWS_ENDPOINT_URL, with local state and no credential checks.
     */
    target: z.enum(["aws", "emulator"]).default("aws"),
    /** Remote state bucket (created by `make bootstrap`); required for target "aws". */
    stateBucket: z.string().regex(S3_BUCKET, { error: "expected an S3 bucket name" }).optional(),
    /** Tags on every AWS resource (provider default_tags). */
    tags: z.record(z.string(), z.string()).default({}),
    /**
     * Environments this one shares a state bucket, a hosted zone, or an account + region + VPC
     * range with on purpose; both must list each other (config/identity.ts refuses it otherwise).
     */
    sharesWith: z.array(z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, { error: "expected the name of another environment (its folder name)" })).default([]),
    network,
    cluster,
    dns,
    alerts,
    monitoring,
    auth,
    logging: logging.default({
      engineVersion: "OpenSearch_2.19",
      instanceType: "r6g.large.search",
      instanceCount: 3,
      volumeGiB: 100,
      logRetentionDays: 30,
      hotDays: 7,
      indexRetentionDays: 30,
      dedicatedMasters: { enabled: true, instanceType: "m6g.large.search" },
      snapshots: { enabled: true, schedule: "30 2 * * *", retentionDays: 30 },
    }),
    /**
     * S3 server access logs of every bucket, delivered to the environment's access-log bucket
     * (created by bootstrap, SSE-S3 because S3 log delivery cannot write SSE-KMS objects).
     * Safe default on; `retentionDays` bounds what they cost.
     */
    accessLogs: z
      .object({ enabled: z.boolean().default(true), retentionDays: z.number().int().min(1).max(3650).default(365) })
      .strict()
      .default({ enabled: true, retentionDays: 365 }),
    /**
     * Terraform's prevent_destroy on every resource that holds data (databases, buckets, file
     * systems, the log domain, KMS keys) in a real account (target "aws"), so no plan can delete
     * or replace them. Set false only to delete the environment for real (README "Deleting an
     * environment"). The emulator's rehearsal ignores it.
     */
    dataProtection: z.boolean().default(true),
    /**
     * AWS Backup of every database (the provisioner's and each workload's) and EFS file system, on
     * top of RDS's automated backups: a daily recovery point kept `retentionDays`, in a vault per
     * stack encrypted with the platform's key. `schedule` is an AWS Backup expression (UTC).
     */
    backups: z
      .object({
        enabled: z.boolean().default(true),
        schedule: z
          .string()
          .regex(/^cron\(.+\)$/, { error: (iss) => `expected an AWS Backup cron expression such as "cron(0 3 * * ? *)", got ${JSON.stringify(iss.input)}` })
          .default("cron(0 3 * * ? *)"),
        retentionDays: z.number().int().min(1).max(36500).default(35),
      })
      .strict()
      .default({ enabled: true, schedule: "cron(0 3 * * ? *)", retentionDays: 35 }),
    /** Secrets Manager names of the apps' own secrets (values are never in this file). */
    secrets: z
      .object({
        /** {"user": "...", "password": "..."} for the Grafana admin. */
        grafanaAdmin: secretName,
        /**
         * How often the External Secrets Operator reads each secret again into its Kubernetes
         * Secret (a Go duration: "1h", "15m"); a value changed in Secrets Manager reaches the
         * Secret within this interval. Default 1h.
         */
        refreshInterval: z
          .string()
          .regex(/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/, { error: (iss) => `expected a duration such as "1h" or "15m", got ${JSON.stringify(iss.input)}` })
          .refine((v) => v !== "0s" && !/^0+(ms|s|m|h)$/.test(v), { error: "a refresh interval of 0 syncs once and never again; give a duration such as \"1h\"" })
          .default("1h"),
      })
      .strict(),
    provisioner,
    /** Where deploys run: the CodeBuild-hosted GitHub Actions runner in the C&C VPC. */
    deployRunner,
    /** Pinned chart versions per app; omitted apps use the newest pinned version. */
    versions: appVersions,
    /**
     * Node autoscaling (the Cluster Autoscaler) in the C&C and every workload cluster: each node
     * group scales between its minSize and maxSize; a cluster never exceeds the sum of its maxSizes.
     */
    autoscaling: z.object({ enabled: z.boolean().default(true) }).strict().default({ enabled: true }),
    /** Workload clusters watched by this C&C; each becomes `<env>-workload-<name>`. */
    workloads: z.array(workload).default([]),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (!e.provisioner.apiAuth.issuer && !e.auth.oidc?.issuer) {
      ctx.addIssue({ code: "custom", path: ["provisioner", "apiAuth", "issuer"], message: "is required when auth.oidc.issuer is not set (the provisioner verifies tokens of this issuer)" });
    }
    if (!e.provisioner.apiAuth.tokenEndpoint && !e.auth.oidc?.tokenEndpoint) {
      ctx.addIssue({ code: "custom", path: ["provisioner", "apiAuth", "tokenEndpoint"], message: "is required when auth.oidc.tokenEndpoint is not set (make register-workloads gets its API token there)" });
    }
    if (!e.auth.enabled && e.dns.publicApps.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["dns", "publicApps"],
        message: `lists ${e.dns.publicApps.join(", ")} as public while auth.enabled is false; a public app must be behind authentication`,
      });
    }
    if (e.target === "aws" && !e.dns.privateZoneId) {
      ctx.addIssue({ code: "custom", path: ["dns", "privateZoneId"], message: "is required when target is \"aws\" (the existing private hosted zone)" });
    }
    if (e.target === "aws" && !e.stateBucket) {
      ctx.addIssue({ code: "custom", path: ["stateBucket"], message: "is required when target is \"aws\" (the S3 bucket `make bootstrap` creates)" });
    }
    for (const [key, list] of [["deployRoleArns", e.cluster.deployRoleArns], ["adminPrincipalArns", e.cluster.adminPrincipalArns]] as const) {
      list.forEach((arn, i) => {
        const account = /:(\d{12}):/.exec(arn)?.[1];
        if (account && account !== e.accountId) {
          ctx.addIssue({ code: "custom", path: ["cluster", key, i], message: `names a role in account ${account}, but the environment lives in ${e.accountId}; access entries take roles of the cluster's own account` });
        }
      });
    }
    // Version skew: the C&C (whose provisioner, Prometheus federation and Thanos talk to every
    // workload cluster) is upgraded first and never falls more than one minor behind a workload.
    const minor = (v: string) => Number(v.split(".")[1]);
    e.workloads.forEach((w, i) => {
      if (w.kubernetesVersion && minor(w.kubernetesVersion) > minor(e.cluster.kubernetesVersion) + 1) {
        ctx.addIssue({
          code: "custom",
          path: ["workloads", i, "kubernetesVersion"],
          message: `${w.kubernetesVersion} is more than one minor ahead of the C&C's ${e.cluster.kubernetesVersion} (cluster.kubernetesVersion); upgrade the C&C first, one minor at a time`,
        });
      }
    });
    // A pinned node AMI release belongs to one minor.
    const releaseMinor = (r: string) => r.split(".").slice(0, 2).join(".");
    if (e.cluster.nodeAmiRelease !== "latest" && releaseMinor(e.cluster.nodeAmiRelease) !== e.cluster.kubernetesVersion) {
      ctx.addIssue({ code: "custom", path: ["cluster", "nodeAmiRelease"], message: `${e.cluster.nodeAmiRelease} is a release for Kubernetes ${releaseMinor(e.cluster.nodeAmiRelease)}, but the cluster runs ${e.cluster.kubernetesVersion}: pin a ${e.cluster.kubernetesVersion} release, or set "latest"` });
    }
    e.workloads.forEach((w, i) => {
      const version = w.kubernetesVersion ?? e.cluster.kubernetesVersion;
      if (w.nodeAmiRelease && w.nodeAmiRelease !== "latest" && releaseMinor(w.nodeAmiRelease) !== version) {
        ctx.addIssue({ code: "custom", path: ["workloads", i, "nodeAmiRelease"], message: `${w.nodeAmiRelease} is a release for Kubernetes ${releaseMinor(w.nodeAmiRelease)}, but workload ${w.name} runs ${version}: pin a ${version} release, or set "latest"` });
      }
    });
    for (const [i, az] of e.network.azs.entries()) {
      if (!az.startsWith(e.region)) {
        ctx.addIssue({ code: "custom", path: ["network", "azs", i], message: `"${az}" is not in region ${e.region}` });
      }
    }
    const seen = new Map<string, number>();
    // Installation names are records in the public zone: unique, and not a public app's name.
    const taken = new Map<string, string>(e.dns.publicApps.map((app) => [`${app}.${e.dns.publicDomain}`, `the public app ${app}`]));
    e.workloads.forEach((w, i) =>
      w.installations.forEach((inst, j) => {
        const other = taken.get(inst.dns);
        if (other) ctx.addIssue({ code: "custom", path: ["workloads", i, "installations", j, "dns"], message: `${inst.dns} is already the name of ${other}; give each installation its own name` });
        taken.set(inst.dns, `installation ${inst.name} of ${w.name}`);
      }),
    );
    e.workloads.forEach((w, i) => {
      // A declared installation is served by its cluster's ALB with the environment's public
      // wildcard certificate, and named in the public zone: one label under dns.publicDomain.
      w.installations.forEach((inst, j) => {
        if (!e.dns.publicDomain || !e.dns.publicZoneId && e.target === "aws") {
          ctx.addIssue({ code: "custom", path: ["workloads", i, "installations", j, "dns"], message: "needs dns.publicDomain and dns.publicZoneId: installations are named in the public zone" });
        } else if (inst.dns.slice(0, inst.dns.indexOf(".")) !== inst.dns.replace(`.${e.dns.publicDomain}`, "") || !inst.dns.endsWith(`.${e.dns.publicDomain}`)) {
          ctx.addIssue({
            code: "custom",
            path: ["workloads", i, "installations", j, "dns"],
            message: `must be one label under the public domain, such as ${inst.name}.${e.dns.publicDomain} (the public wildcard certificate covers exactly that), got ${JSON.stringify(inst.dns)}`,
          });
        }
      });
      if (seen.has(w.name)) {
        ctx.addIssue({ code: "custom", path: ["workloads", i, "name"], message: `duplicate workload name "${w.name}" (also at workloads[${seen.get(w.name)}])` });
      }
      seen.set(w.name, i);
      if (cidrsOverlap(w.cidr, e.network.cidr)) {
        ctx.addIssue({ code: "custom", path: ["workloads", i, "cidr"], message: `${w.cidr} overlaps the C&C VPC ${e.network.cidr}; VPC peering needs disjoint blocks` });
      }
      e.workloads.slice(0, i).forEach((other, j) => {
        if (cidrsOverlap(w.cidr, other.cidr)) {
          ctx.addIssue({ code: "custom", path: ["workloads", i, "cidr"], message: `${w.cidr} overlaps workloads[${j}] ("${other.name}", ${other.cidr})` });
        }
      });
    });
  });

/** What an environment file is written as (defaults may be omitted). */
export type EnvironmentInput = z.input<typeof environmentSchema>;
/** The validated environment with defaults applied, plus its name (the folder name). */
export type Environment = z.output<typeof environmentSchema> & { name: string };
export type NodeGroupConfig = z.output<typeof nodeGroup>;
export type WorkloadConfig = z.output<typeof workload>;
