import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchLogResourcePolicy } from "@cdktf/provider-aws/lib/cloudwatch-log-resource-policy";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { OpensearchDomain } from "@cdktf/provider-aws/lib/opensearch-domain";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Fn, TerraformProvider, TerraformResource } from "cdktf";
import { Construct } from "constructs";
import { PlatformKey } from "../security/kms-key";

/** opensearch-project/opensearch: manages roles inside the domain (no prebuilt cdktf binding exists). */
export const OPENSEARCH_PROVIDER = { source: "opensearch-project/opensearch", version: "2.3.1" } as const;

export interface LogDomainProps {
  /** Domain name (28 characters at most), e.g. `prod-logs`. */
  readonly domainName: string;
  readonly engineVersion: string;
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly volumeGiB: number;
  readonly vpcId: string;
  /** Private subnets (at least `zoneCount`; the first `zoneCount` are used). */
  readonly subnetIds: string[];
  /** Zones the environment spans; the domain spreads over up to three of them. */
  readonly zoneCount: number;
  /** Security groups (C&C nodes) and CIDR blocks (workload VPCs) allowed to reach it on 443. */
  readonly allowedSecurityGroupIds: string[];
  readonly allowedCidrs: string[];
  /** IAM principals allowed to assume the domain's admin role (fine-grained access control master). */
  readonly adminPrincipalArns: string[];
  readonly accountId: string;
  readonly region: string;
  readonly logRetentionDays: number;
  /** IAM roles (fluent-bit IRSA roles) mapped as backend roles allowed to write `logs-*` indices. */
  readonly writerRoleArns: string[];
  /** IAM roles mapped to read-only search and Dashboards use (the Dashboards signing proxy). */
  readonly readerRoleArns?: string[];
  /**
   * IAM roles mapped to the built-in `manage_snapshots` role (the snapshot CronJob): fine-grained
   * access control admits repository registration and snapshots only for mapped roles.
   */
  readonly snapshotRoleArns?: string[];
  readonly keyDeletionWindowDays?: number;
  /** Three dedicated master nodes of this type; undefined = none (small test domains only). */
  readonly dedicatedMasterInstanceType?: string;
  /** KMS key (allowing the CloudWatch Logs service) that encrypts the domain's log groups. */
  readonly logsKmsKeyArn: string;
  /** Days a `logs-*` index stays writable ("hot") before it is made read-only and merged. */
  readonly hotDays: number;
  /** Days after which a `logs-*` index is deleted (ISM policy); more than hotDays. */
  readonly indexRetentionDays: number;
  /** SNS topic for the domain's CloudWatch alarms. */
  readonly alarmTopicArn: string;
}

/** The ISM policy applied to every new `logs-*` index: hot, then read-only and merged, then deleted. */
export function logRetentionPolicy(hotDays: number, retentionDays: number): Record<string, unknown> {
  if (!(hotDays >= 1 && retentionDays > hotDays)) {
    throw new Error(`LogDomain: indices must stay hot at least a day and be deleted after they leave the hot state (hotDays ${hotDays}, indexRetentionDays ${retentionDays})`);
  }
  return {
    policy: {
      description: `logs-* indices: writable for ${hotDays} days, then read-only; deleted after ${retentionDays} days`,
      default_state: "hot",
      states: [
        { name: "hot", actions: [], transitions: [{ state_name: "warm", conditions: { min_index_age: `${hotDays}d` } }] },
        { name: "warm", actions: [{ read_only: {} }, { force_merge: { max_num_segments: 1 } }], transitions: [{ state_name: "delete", conditions: { min_index_age: `${retentionDays}d` } }] },
        { name: "delete", actions: [{ delete: {} }], transitions: [] },
      ],
      ism_template: [{ index_patterns: ["logs-*"], priority: 100 }],
    },
  };
}

/** The index template of fluent-bit's daily `logs-*` indices. */
export const LOGS_INDEX_TEMPLATE = {
  index_patterns: ["logs-*"],
  priority: 100,
  template: {
    settings: { number_of_shards: 1, number_of_replicas: 1, refresh_interval: "30s" },
    mappings: { properties: { "@timestamp": { type: "date" }, log: { type: "text" }, kubernetes: { properties: { namespace_name: { type: "keyword" }, pod_name: { type: "keyword" }, container_name: { type: "keyword" } } } } },
  },
};

const TLS_POLICY = "Policy-Min-TLS-1-2-PFS-2023-10";
const LOG_TYPES = ["INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS", "ES_APPLICATION_LOGS", "AUDIT_LOGS"] as const;

class OpensearchProvider extends TerraformProvider {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: Record<string, unknown>,
  ) {
    super(scope, id, {
      terraformResourceType: "opensearch",
      terraformGeneratorMetadata: { providerName: "opensearch", providerVersionConstraint: OPENSEARCH_PROVIDER.version },
      terraformProviderSource: OPENSEARCH_PROVIDER.source,
    });
  }
  protected synthesizeAttributes(): Record<string, unknown> {
    return this.config;
  }
}

class OpensearchResource extends TerraformResource {
  constructor(
    scope: Construct,
    id: string,
    type: string,
    provider: TerraformProvider,
    private readonly attributes: Record<string, unknown>,
    dependsOn: TerraformResource[] = [],
  ) {
    super(scope, id, { terraformResourceType: type, terraformGeneratorMetadata: { providerName: "opensearch" }, provider, dependsOn });
  }
  protected synthesizeAttributes(): Record<string, unknown> {
    return this.attributes;
  }
}

/**
 * The managed OpenSearch domain that receives every cluster's logs: inside the C&C VPC,
 * encrypted at rest (own key) and between nodes, HTTPS only with a modern TLS policy,
 * fine-grained access control with an IAM master role (no internal users), zone awareness
 * across three zones when there are three, and its own logs in CloudWatch. The fluent-bit IRSA
 * roles are mapped as backend roles of a writer role limited to `logs-*` indices.
 */
export class LogDomain extends Construct {
  readonly domain: OpensearchDomain;
  readonly adminRole: IamRole;
  readonly endpoint: string;
  /** The index lifecycle (ISM policy, template): log shippers wait for it, or a first index could miss it. */
  readonly lifecycle: TerraformResource[];

  constructor(scope: Construct, id: string, props: LogDomainProps) {
    super(scope, id);
    if (props.domainName.length > 28) throw new Error(`LogDomain: "${props.domainName}" is longer than OpenSearch's 28 characters`);
    // subnetIds may be a lookup (a token list of unknown length): count zones from the environment.
    const zones = Math.min(props.zoneCount, 3);
    if (props.instanceCount < zones && zones > 1) {
      throw new Error(`LogDomain ${props.domainName}: ${props.instanceCount} data node(s) cannot spread over ${zones} zones; use at least ${zones}`);
    }

    const key = new PlatformKey(this, "key", { alias: `${props.domainName}-opensearch`, description: `OpenSearch domain ${props.domainName}`, deletionWindowDays: props.keyDeletionWindowDays });
    const sg = new SecurityGroup(this, "sg", { name: `${props.domainName}-opensearch`, description: "OpenSearch: HTTPS from log shippers and admins only", vpcId: props.vpcId, tags: { Name: `${props.domainName}-opensearch` } });
    props.allowedSecurityGroupIds.forEach((g, i) =>
      new VpcSecurityGroupIngressRule(this, `https-from-sg-${i}`, { securityGroupId: sg.id, referencedSecurityGroupId: g, ipProtocol: "tcp", fromPort: 443, toPort: 443, description: "HTTPS from cluster nodes" }),
    );
    props.allowedCidrs.forEach((c, i) =>
      new VpcSecurityGroupIngressRule(this, `https-from-cidr-${i}`, { securityGroupId: sg.id, cidrIpv4: c, ipProtocol: "tcp", fromPort: 443, toPort: 443, description: `HTTPS from ${c}` }),
    );

    this.adminRole = new IamRole(this, "admin-role", {
      name: `${props.domainName}-opensearch-admin`,
      description: `Fine-grained access control master of OpenSearch domain ${props.domainName}`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { AWS: props.adminPrincipalArns.length ? props.adminPrincipalArns : `arn:aws:iam::${props.accountId}:root` }, Action: "sts:AssumeRole" }],
      }),
    });

    const logGroups = LOG_TYPES.map((t) => new CloudwatchLogGroup(this, `log-${t}`, { name: `/aws/opensearch/${props.domainName}/${t.toLowerCase()}`, retentionInDays: props.logRetentionDays, kmsKeyId: props.logsKmsKeyArn }));
    const logPolicy = new CloudwatchLogResourcePolicy(this, "log-policy", {
      policyName: `${props.domainName}-opensearch-logs`,
      policyDocument: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "es.amazonaws.com" },
            Action: ["logs:PutLogEvents", "logs:CreateLogStream"],
            Resource: logGroups.map((g) => `${g.arn}:*`),
            Condition: { StringEquals: { "aws:SourceAccount": props.accountId } },
          },
        ],
      }),
    });

    const domainArn = `arn:aws:es:${props.region}:${props.accountId}:domain/${props.domainName}`;
    this.domain = new OpensearchDomain(this, "domain", {
      domainName: props.domainName,
      engineVersion: props.engineVersion,
      clusterConfig: {
        instanceType: props.instanceType,
        instanceCount: props.instanceCount,
        zoneAwarenessEnabled: zones > 1,
        zoneAwarenessConfig: zones > 1 ? { availabilityZoneCount: zones } : undefined,
        ...(props.dedicatedMasterInstanceType
          ? { dedicatedMasterEnabled: true, dedicatedMasterCount: 3, dedicatedMasterType: props.dedicatedMasterInstanceType }
          : { dedicatedMasterEnabled: false }),
      },
      ebsOptions: { ebsEnabled: true, volumeType: "gp3", volumeSize: props.volumeGiB },
      encryptAtRest: { enabled: true, kmsKeyId: key.arn },
      nodeToNodeEncryption: { enabled: true },
      domainEndpointOptions: { enforceHttps: true, tlsSecurityPolicy: TLS_POLICY },
      advancedSecurityOptions: {
        enabled: true,
        anonymousAuthEnabled: false,
        internalUserDatabaseEnabled: false,
        masterUserOptions: { masterUserArn: this.adminRole.arn },
      },
      vpcOptions: { subnetIds: Fn.slice(props.subnetIds, 0, zones), securityGroupIds: [sg.id] },
      // IAM lets account principals talk HTTP to the domain; fine-grained access control decides what they may do.
      accessPolicies: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${props.accountId}:root` }, Action: "es:ESHttp*", Resource: `${domainArn}/*` }],
      }),
      logPublishingOptions: LOG_TYPES.map((t, i) => ({ logType: t, cloudwatchLogGroupArn: logGroups[i].arn, enabled: true })),
      dependsOn: [logPolicy],
    });
    this.endpoint = this.domain.endpoint;

    // Inside the domain: a writer role for log shippers, mapped to their IAM roles.
    const provider = new OpensearchProvider(this, "opensearch", {
      alias: "logs",
      url: `https://${this.domain.endpoint}`,
      aws_region: props.region,
      aws_assume_role_arn: this.adminRole.arn,
      sign_aws_requests: true,
      healthcheck: false,
    });
    const writer = new OpensearchResource(this, "writer-role", "opensearch_role", provider, {
      role_name: "log_writer",
      description: "fluent-bit: create and write logs-* indices",
      cluster_permissions: ["cluster_monitor", "indices:data/write/bulk"],
      index_permissions: [{ index_patterns: ["logs-*"], allowed_actions: ["crud", "create_index", "indices:admin/mapping/put"] }],
    });
    new OpensearchResource(this, "writer-mapping", "opensearch_roles_mapping", provider, {
      role_name: "log_writer",
      backend_roles: props.writerRoleArns,
      description: "fluent-bit IRSA roles of the C&C and every workload cluster",
    }, [writer]);
    // Index lifecycle: every new logs-* index gets the retention policy; the template sizes them.
    const retention = new OpensearchResource(this, "retention-policy", "opensearch_ism_policy", provider, {
      policy_id: "logs-retention",
      body: JSON.stringify(logRetentionPolicy(props.hotDays, props.indexRetentionDays)),
    });
    const template = new OpensearchResource(this, "logs-template", "opensearch_composable_index_template", provider, { name: "logs", body: JSON.stringify(LOGS_INDEX_TEMPLATE) });
    this.lifecycle = [retention, template];

    // The domain's health, as AWS recommends alarming on it (AWS/ES metrics, per domain and account).
    const dimensions = { DomainName: props.domainName, ClientId: props.accountId };
    const alarm = (id: string, metric: string, statistic: string, operator: string, threshold: number, periods: number, period: number, description: string) =>
      new CloudwatchMetricAlarm(this, `alarm-${id}`, {
        alarmName: `${props.domainName}-opensearch-${id}`,
        alarmDescription: description,
        namespace: "AWS/ES",
        metricName: metric,
        dimensions,
        statistic,
        period,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        threshold,
        comparisonOperator: operator,
        treatMissingData: "missing",
        alarmActions: [props.alarmTopicArn],
        okActions: [props.alarmTopicArn],
        dependsOn: [this.domain],
      });
    alarm("red", "ClusterStatus.red", "Maximum", "GreaterThanOrEqualToThreshold", 1, 1, 60, "Primary shards are unassigned: some logs cannot be written or read");
    alarm("yellow", "ClusterStatus.yellow", "Maximum", "GreaterThanOrEqualToThreshold", 1, 5, 60, "Replica shards are unassigned: the domain has no redundancy for some indices");
    // FreeStorageSpace is per node, in MiB: alarm below a quarter of a data node's volume.
    alarm("free-storage", "FreeStorageSpace", "Minimum", "LessThanOrEqualToThreshold", Math.floor(props.volumeGiB * 1024 * 0.25), 1, 60, "A node has less than 25% of its storage left; writes block at 5%");
    alarm("jvm-pressure", "JVMMemoryPressure", "Maximum", "GreaterThanOrEqualToThreshold", 80, 3, 300, "JVM memory pressure above 80%: the domain may reject requests");
    alarm("snapshot-failure", "AutomatedSnapshotFailure", "Maximum", "GreaterThanOrEqualToThreshold", 1, 1, 60, "The automated snapshot failed: the domain has no recent backup");
    alarm("master-unreachable", "MasterReachableFromNode", "Maximum", "LessThanThreshold", 1, 1, 86400, "The master node was unreachable from a node for a day");
    alarm("writes-blocked", "ClusterIndexWritesBlocked", "Maximum", "GreaterThanOrEqualToThreshold", 1, 1, 300, "The domain is blocking writes (storage, memory or a read-only block): logs are being lost");

    if (props.snapshotRoleArns?.length) {
      new OpensearchResource(this, "snapshot-mapping", "opensearch_roles_mapping", provider, {
        role_name: "manage_snapshots",
        backend_roles: props.snapshotRoleArns,
        description: "the opensearch-snapshots CronJob: registers the manual repository, takes and prunes its snapshots",
      });
    }

    for (const role of ["readall", "kibana_user"]) {
      if (!props.readerRoleArns?.length) break;
      new OpensearchResource(this, `reader-mapping-${role}`, "opensearch_roles_mapping", provider, {
        role_name: role,
        backend_roles: props.readerRoleArns,
        description: "the Dashboards signing proxy (people log in at the load balancer first)",
      });
    }
  }
}
