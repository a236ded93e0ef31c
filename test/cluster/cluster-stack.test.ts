import { readFileSync } from "node:fs";
import { join } from "node:path";
import { environment, parsePolicy, resourcesOf, synthEnvironment, rejection, synthShipped } from "../support/synth";

const byAddress = (stack: any, type: string) => stack.resource?.[type] ?? {};
const ref = (type: string, stack: any, predicate: (body: any) => boolean) => {
  const entry = Object.entries(byAddress(stack, type)).find(([, body]) => predicate(body));
  if (!entry) throw new Error(`no ${type} matches`);
  return `${type}.${entry[0]}`;
};

describe("the cluster stack (prod)", () => {
  let stack: any;
  beforeAll(() => {
    stack = synthShipped("prod").json["prod-cluster"];
  });

  it("keeps the API endpoint private and never opens it to 0.0.0.0/0", () => {
    const [eks] = resourcesOf(stack, "aws_eks_cluster");
    expect(eks.vpc_config.endpoint_private_access).toBe(true);
    expect(eks.vpc_config.endpoint_public_access).toBe(false);
    expect(eks.vpc_config.public_access_cidrs).toBeUndefined();
    expect(eks.version).toBe("1.34");
    const apiSg = ref("aws_security_group", stack, (b) => b.name === "prod-cnc-api");
    const apiIngress = resourcesOf(stack, "aws_vpc_security_group_ingress_rule").filter((r) => r.security_group_id === `\${${apiSg}.id}`);
    // nodes, the one admin network, the Lambda, the deploy runner and the plan runner
    expect(apiIngress).toHaveLength(5);
    for (const rule of apiIngress) {
      expect(rule).toMatchObject({ ip_protocol: "tcp", from_port: 443, to_port: 443 });
      expect(rule.cidr_ipv4 ?? "").not.toBe("0.0.0.0/0");
    }
    expect(apiIngress.map((r) => r.cidr_ipv4).filter(Boolean)).toEqual(["10.200.0.0/16"]);
    const sources = apiIngress.map((r) => r.referenced_security_group_id).filter(Boolean).sort();
    expect(sources).toEqual(
      ["prod-cnc-nodes", "prod-dns-registration", "prod-deploy-runner", "prod-plan-runner"].map((n) => `\${${ref("aws_security_group", stack, (b) => b.name === n)}.id}`).sort(),
    );
    expect(JSON.stringify(resourcesOf(stack, "aws_security_group_rule"))).not.toContain("0.0.0.0/0");
  });

  it("envelope-encrypts secrets with a rotating customer-managed key", () => {
    const [eks] = resourcesOf(stack, "aws_eks_cluster");
    expect(eks.encryption_config.resources).toEqual(["secrets"]);
    const keyRef = eks.encryption_config.provider.key_arn;
    const keyName = /^\$\{aws_kms_key\.([^.]+)\.arn\}$/.exec(keyRef)![1];
    expect(stack.resource.aws_kms_key[keyName]).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30 });
  });

  it("logs api, audit and authenticator with a set retention, uses access entries, and grants the creator nothing", () => {
    const [eks] = resourcesOf(stack, "aws_eks_cluster");
    expect(eks.enabled_cluster_log_types).toEqual(["api", "audit", "authenticator", "controllerManager", "scheduler"]);
    expect(resourcesOf(stack, "aws_cloudwatch_log_group").find((g) => g.name === "/aws/eks/prod-cnc/cluster")).toMatchObject({ retention_in_days: 365 });
    expect(eks.access_config).toEqual({ authentication_mode: "API", bootstrap_cluster_creator_admin_permissions: false });
    // Admins by construction: the deploy role and the named admin.
    const admins = resourcesOf(stack, "aws_eks_access_policy_association").filter((a) => a.policy_arn.endsWith("AmazonEKSClusterAdminPolicy"));
    expect(admins.map((a) => a.principal_arn).sort()).toEqual([
      "arn:aws:iam::111111111111:role/platform-admin",
      "arn:aws:iam::111111111111:role/platform-deploy",
    ]);
    for (const a of admins) {
      expect(a.access_scope).toEqual({ type: "cluster" });
      expect(a.policy_arn).toMatch(/:eks::aws:cluster-access-policy\/AmazonEKSClusterAdminPolicy$/);
    }
  });

  it("requires IMDSv2 and encrypted gp3 root volumes on every node, in private subnets only", () => {
    const [lt] = resourcesOf(stack, "aws_launch_template");
    expect(lt.metadata_options).toMatchObject({ http_tokens: "required", http_put_response_hop_limit: 1, http_endpoint: "enabled" });
    expect(lt.block_device_mappings[0].ebs).toMatchObject({ volume_type: "gp3", encrypted: "true", volume_size: 100 });
    // One managed node group per zone (the declared 3..9 spread over three zones).
    const groups = resourcesOf(stack, "aws_eks_node_group");
    expect(groups).toHaveLength(3);
    for (const ng of groups) {
      expect(ng.scaling_config).toEqual({ min_size: 1, max_size: 3, desired_size: 1 });
      expect(ng.instance_types).toEqual(["m6i.xlarge", "m6a.xlarge"]);
      expect(ng.subnet_ids).toHaveLength(1);
    }
    const privateSubnets = Object.entries(byAddress(stack, "aws_subnet")).filter(([, s]: any) => s.tags.tier === "private").map(([k]) => `\${aws_subnet.${k}.id}`);
    expect(groups.flatMap((ng) => ng.subnet_ids).sort()).toEqual(privateSubnets.sort());
    expect(privateSubnets).toHaveLength(3);
  });

  it("attaches the standard worker policies to the node role", () => {
    const nodePolicies = resourcesOf(stack, "aws_iam_role_policy_attachment").map((a) => a.policy_arn).filter((arn: string) => /AmazonEKSWorkerNodePolicy|AmazonEKS_CNI_Policy|AmazonEC2ContainerRegistryReadOnly/.test(arn));
    expect(nodePolicies).toHaveLength(3);
  });

  it("creates networking add-ons before the nodes, and CoreDNS and EBS CSI after them", () => {
    const addons = byAddress(stack, "aws_eks_addon");
    const [ngName] = Object.keys(byAddress(stack, "aws_eks_node_group"));
    const [ng] = resourcesOf(stack, "aws_eks_node_group");
    const addonAddress = (name: string) => `aws_eks_addon.${Object.entries(addons).find(([, a]: any) => a.addon_name === name)![0]}`;
    for (const early of ["vpc-cni", "kube-proxy", "eks-pod-identity-agent"]) expect(ng.depends_on).toContain(addonAddress(early));
    for (const late of ["coredns", "aws-ebs-csi-driver"]) {
      const addon: any = Object.values(addons).find((a: any) => a.addon_name === late);
      expect(addon.depends_on).toContain(`aws_eks_node_group.${ngName}`);
    }
    const ebs: any = Object.values(addons).find((a: any) => a.addon_name === "aws-ebs-csi-driver");
    expect(ebs.service_account_role_arn).toMatch(/^\$\{aws_iam_role\./);
  });

  it("pins IRSA trust to exactly one service account of this cluster (sub and aud)", () => {
    const role = resourcesOf(stack, "aws_iam_role").find((r) => r.name === "prod-cnc-ebs-csi");
    const trust = parsePolicy(role.assume_role_policy);
    expect(trust.Statement).toHaveLength(1);
    const st = trust.Statement[0];
    expect(st.Action).toBe("sts:AssumeRoleWithWebIdentity");
    expect(st.Principal.Federated).toMatch(/^\$\{aws_iam_openid_connect_provider\.[^.]+\.arn\}$/);
    const issuer = '${replace(aws_eks_cluster.eks_cluster_4F9B8B24.identity[0].oidc[0].issuer, "https://", "")}';
    expect(Object.keys(st.Condition)).toEqual(["StringEquals"]);
    const eksName = Object.keys(stack.resource.aws_eks_cluster)[0];
    const expectedIssuer = issuer.replace("eks_cluster_4F9B8B24", eksName);
    expect(st.Condition.StringEquals).toEqual({
      [`${expectedIssuer}:sub`]: "system:serviceaccount:kube-system:ebs-csi-controller-sa",
      [`${expectedIssuer}:aud`]: "sts.amazonaws.com",
    });
    const [oidc] = resourcesOf(stack, "aws_iam_openid_connect_provider");
    expect(oidc.client_id_list).toEqual(["sts.amazonaws.com"]);
  });

  it("logs every VPC flow to CloudWatch with the configured retention", () => {
    const [flow] = resourcesOf(stack, "aws_flow_log");
    expect(flow).toMatchObject({ traffic_type: "ALL", log_destination_type: "cloud-watch-logs", max_aggregation_interval: 60 });
    expect(resourcesOf(stack, "aws_cloudwatch_log_group").find((g) => g.name === "/aws/vpc/prod-cnc/flow-logs")).toMatchObject({ retention_in_days: 365 });
  });

  it("puts one NAT gateway in each zone and tags subnets for load balancers", () => {
    expect(resourcesOf(stack, "aws_nat_gateway")).toHaveLength(3);
    const subnets = resourcesOf(stack, "aws_subnet");
    expect(subnets.filter((s) => s.tags["kubernetes.io/role/elb"] === "1")).toHaveLength(3);
    expect(subnets.filter((s) => s.tags["kubernetes.io/role/internal-elb"] === "1")).toHaveLength(3);
    expect(subnets.every((s) => s.tags["kubernetes.io/cluster/prod-cnc"] === "shared")).toBe(true);
    expect(subnets.every((s) => s.map_public_ip_on_launch === false || s.map_public_ip_on_launch === undefined)).toBe(true);
    expect(resourcesOf(stack, "aws_default_security_group")[0].ingress).toBeUndefined();
  });

  it("reaches S3 through a gateway endpoint on every private route table, and has no interface endpoint unless asked", () => {
    const endpoints = resourcesOf(stack, "aws_vpc_endpoint");
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]).toMatchObject({ service_name: "com.amazonaws.us-east-1.s3", vpc_endpoint_type: "Gateway" });
    const privateTables = Object.entries(byAddress(stack, "aws_route_table"))
      .filter(([, b]: [string, any]) => b.tags?.tier === "private")
      .map(([name]) => `\${aws_route_table.${name}.id}`);
    expect(privateTables).toHaveLength(3);
    expect([...endpoints[0].route_table_ids].sort()).toEqual(privateTables.sort());
  });

  it("with network.interfaceEndpoints, adds ECR and STS endpoints in the private subnets, open to the VPC on 443 only", () => {
    const withEndpoints = synthEnvironment(environment("prod", (e) => (e.network.interfaceEndpoints = true))).json;
    for (const name of ["prod-cluster", "prod-workload-alpha"]) {
      const s = withEndpoints[name];
      const iface = resourcesOf(s, "aws_vpc_endpoint").filter((e) => e.vpc_endpoint_type === "Interface");
      expect(iface.map((e) => e.service_name).sort()).toEqual(["com.amazonaws.us-east-1.ecr.api", "com.amazonaws.us-east-1.ecr.dkr", "com.amazonaws.us-east-1.sts"]);
      for (const e of iface) {
        expect(e.private_dns_enabled).toBe(true);
        expect(e.subnet_ids).toHaveLength(3);
      }
      const sgName = name === "prod-cluster" ? "prod-cnc-endpoints" : "prod-alpha-endpoints";
      const sg = ref("aws_security_group", s, (b) => b.name === sgName);
      const rules = resourcesOf(s, "aws_vpc_security_group_ingress_rule").filter((r) => r.security_group_id === `\${${sg}.id}`);
      expect(rules).toEqual([expect.objectContaining({ ip_protocol: "tcp", from_port: 443, to_port: 443, cidr_ipv4: name === "prod-cluster" ? "10.10.0.0/16" : "10.20.0.0/16" })]);
    }
  });

  it("associates the existing private zone with the new VPC", () => {
    expect(resourcesOf(stack, "aws_route53_zone_association")[0]).toMatchObject({ zone_id: "Z0PRIVATEPLACEHOLDER1" });
    expect(resourcesOf(stack, "aws_route53_zone")).toHaveLength(0);
  });
});

describe("the runners in the C&C VPC (where deploys run)", () => {
  let stack: any;
  beforeAll(() => {
    stack = synthShipped("prod").json["prod-cluster"];
  });
  const project = (name: string) => resourcesOf(stack, "aws_codebuild_project").find((p) => p.name === name);
  const webhookOf = (name: string) => resourcesOf(stack, "aws_codebuild_webhook").find((w) => w.project_name.includes(Object.entries(stack.resource.aws_codebuild_project).find(([, p]: any) => p.name === name)![0]));

  it("run GitHub Actions jobs of one workflow each, in private subnets, through the CodeConnections connection", () => {
    for (const [name, workflow] of [["prod-deploy-runner", "^deploy$"], ["prod-plan-runner", "^(diff|drift)$"]]) {
      const p = project(name);
      expect(p.source).toMatchObject({ type: "GITHUB", location: "https://github.com/example/cnc-platform", auth: { type: "CODECONNECTIONS" } });
      expect(p.vpc_config.subnets).toHaveLength(3);
      expect(p.vpc_config.subnets[0]).toMatch(/aws_subnet\.network_private/);
      expect(webhookOf(name).filter_group[0].filter).toEqual([
        { type: "EVENT", pattern: "WORKFLOW_JOB_QUEUED" },
        { type: "WORKFLOW_NAME", pattern: workflow },
      ]);
    }
  });

  it("give deploy authority to no runner: deploy jobs assume the deploy role through GitHub OIDC; plans are read-only", () => {
    const attachments = resourcesOf(stack, "aws_iam_role_policy_attachment").filter((a) => /runner/.test(a.role));
    const byRole = (n: string) => attachments.filter((a) => a.role.includes(`${n}_role`)).map((a) => a.policy_arn);
    expect(byRole("deploy-runner")).toEqual([]);
    expect(byRole("plan-runner")).toEqual(["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
    // Neither runner's own role is admin of the cluster; the plan runner may view.
    const assocs = resourcesOf(stack, "aws_eks_access_policy_association");
    expect(assocs.filter((a) => /runner/.test(a.principal_arn) && a.policy_arn.endsWith("AmazonEKSClusterAdminPolicy"))).toEqual([]);
    const views = assocs.filter((a) => a.policy_arn.endsWith("AmazonEKSAdminViewPolicy"));
    expect(views.map((v) => v.principal_arn)).toEqual([expect.stringMatching(/^\$\{aws_iam_role\.plan-runner_role_[0-9A-F]+\.arn\}$/)]);
    // What every build needs to start at all: its network interfaces, its logs, the GitHub connection.
    for (const runner of ["prod-deploy-runner", "prod-plan-runner"]) {
      const base = parsePolicy(resourcesOf(stack, "aws_iam_role_policy").find((p) => p.name === `${runner}-baseline`).policy);
      expect(base.Statement.map((s: any) => s.Sid)).toEqual(["VpcNetworkInterfaces", "VpcNetworkInterfacePermission", "BuildLogs", "BuildEncryptionKey", "GitHubConnection"]);
      expect(base.Statement[1].Condition).toEqual({ StringEquals: { "ec2:AuthorizedService": "codebuild.amazonaws.com" } });
      expect(base.Statement[2].Resource).toBe(`arn:aws:logs:us-east-1:111111111111:log-group:/aws/codebuild/${runner}:*`);
      // Builds are encrypted with the stack key, which the role may use and nothing more.
      expect(base.Statement[3]).toMatchObject({ Action: ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], Resource: expect.stringMatching(/^\$\{aws_kms_key\.operations-key_[0-9A-F]+\.arn\}$/) });
      expect(resourcesOf(stack, "aws_codebuild_project").find((p) => p.name === runner).encryption_key).toBe(base.Statement[3].Resource);
      expect(base.Statement[4].Resource).toBe("arn:aws:codeconnections:us-east-1:111111111111:connection/00000000-0000-0000-0000-000000000000");
      expect(JSON.stringify(base)).not.toMatch(/"Action":"\*"|iam:|sts:AssumeRole"/);
    }
    const inline = parsePolicy(resourcesOf(stack, "aws_iam_role_policy").find((p) => p.name === "prod-plan-runner-inline").policy);
    expect(inline.Statement.map((s: any) => [s.Sid, s.Action])).toEqual([
      ["StateLocks", ["s3:PutObject", "s3:DeleteObject"]],
      ["StateKey", ["kms:Decrypt", "kms:GenerateDataKey"]],
      ["SecretsThePlansRead", ["secretsmanager:GetSecretValue"]],
      ["DecryptPlatformSecrets", "kms:Decrypt"],
      ["OpenSearchMappings", ["sts:AssumeRole"]],
    ]);
    expect(inline.Statement[3].Condition["ForAnyValue:StringEquals"]).toEqual({ "kms:ResourceAliases": "alias/prod-secrets" });
    expect(inline.Statement[0].Resource).toBe("arn:aws:s3:::cloud-prod-tfstate-111111111111/prod/*.tflock");
    // Every workload cluster lets the plan runner read, too.
    const alpha = synthShipped("prod").json["prod-workload-alpha"];
    const alphaViews = resourcesOf(alpha, "aws_eks_access_policy_association").filter((a) => a.policy_arn.endsWith("AmazonEKSAdminViewPolicy"));
    expect(alphaViews.map((v) => v.principal_arn)).toEqual(["arn:aws:iam::111111111111:role/prod-plan-runner"]);
    // The deploy workflow's in-VPC job takes its credentials from GitHub OIDC, not from the runner.
    const workflow = readFileSync(join(__dirname, "..", "..", ".github", "workflows", "deploy.yml"), "utf8");
    const prodJob = workflow.slice(workflow.indexOf("\n  prod:"));
    expect(prodJob).toMatch(/runs-on: codebuild-prod-deploy-runner-/);
    expect(prodJob).toMatch(/configure-aws-credentials@v4\n\s+with:\n\s+role-to-assume: \$\{\{ vars\.AWS_DEPLOY_ROLE_ARN \}\}/);
    expect(prodJob).toMatch(/environment: prod\n/);
  });
});

describe("the DNS-registration Lambda", () => {
  let stack: any;
  beforeAll(() => {
    stack = synthShipped("prod").json["prod-cluster"];
  });

  it("runs pinned, one at a time, traced, in private subnets, with a DLQ and a 120 s timeout", () => {
    const fn = resourcesOf(stack, "aws_lambda_function").find((f) => f.function_name === "prod-dns-registration");
    expect(fn).toMatchObject({ runtime: "nodejs22.x", handler: "index.handler", timeout: 120, reserved_concurrent_executions: 1, tracing_config: { mode: "Active" } });
    expect(fn.dead_letter_config.target_arn).toMatch(/^\$\{aws_sqs_queue\./);
    expect(fn.vpc_config.subnet_ids).toHaveLength(3);
    expect(fn.filename).toMatch(/^assets\/.+\.zip$/);
    expect(fn.environment.variables).toMatchObject({ PRIVATE_HOSTED_ZONE_ID: "Z0PRIVATEPLACEHOLDER1", PRIVATE_DOMAIN: "internal.cloud.example.com", ALERTS_SECRET_ID: "prod/cnc/mattermost-alerts-webhook" });
    expect(JSON.stringify(fn.environment.variables)).not.toMatch(/https?:\/\/(?!\$)/); // no webhook URL literal
    expect(resourcesOf(stack, "aws_cloudwatch_log_group").find((g) => g.name === "/aws/lambda/prod-dns-registration")).toMatchObject({ retention_in_days: 365 });
  });

  it("has exactly the permissions it needs", () => {
    const role = resourcesOf(stack, "aws_iam_role").find((r) => r.name === "prod-dns-registration");
    expect(JSON.parse(role.assume_role_policy).Statement[0].Principal).toEqual({ Service: "lambda.amazonaws.com" });
    const policy = JSON.parse(resourcesOf(stack, "aws_iam_role_policy").find((p) => p.name === "dns-registration").policy);
    const grants = policy.Statement.map((s: any) => [([] as string[]).concat(s.Action).sort().join(","), s.Resource]);
    expect(grants).toEqual([
      // The private zone (federation targets) and the public one (installation probe targets), nothing else.
      ["route53:ListResourceRecordSets", ["arn:aws:route53:::hostedzone/Z0PRIVATEPLACEHOLDER1", "arn:aws:route53:::hostedzone/Z0PUBLICPLACEHOLDER01"]],
      ["secretsmanager:GetSecretValue", expect.stringMatching(/^\$\{data\.aws_secretsmanager_secret\.[^.]+\.arn\}$/)],
      // The webhook secret is encrypted with the environment's secrets key: decrypt through Secrets Manager only.
      ["kms:Decrypt", "arn:aws:kms:us-east-1:111111111111:key/*"],
      ["kms:Decrypt,kms:GenerateDataKey", expect.stringMatching(/^\$\{aws_kms_key\.operations-key_[0-9A-F]+\.arn\}$/)],
      ["ec2:AssignPrivateIpAddresses,ec2:CreateNetworkInterface,ec2:DeleteNetworkInterface,ec2:DescribeNetworkInterfaces,ec2:UnassignPrivateIpAddresses", "*"],
      ["logs:CreateLogStream,logs:PutLogEvents", expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.[^.]+\.arn\}:\*$/)],
      ["sqs:SendMessage", expect.stringMatching(/^\$\{aws_sqs_queue\.[^.]+\.arn\}$/)],
      ["xray:PutTelemetryRecords,xray:PutTraceSegments", "*"],
    ]);
    expect(policy.Statement.every((s: any) => s.Effect === "Allow")).toBe(true);
  });

  it("is triggered by Route53 changes of the private and public zones and by a 10-minute schedule", () => {
    const rules = resourcesOf(stack, "aws_cloudwatch_event_rule");
    const change = rules.find((r) => r.event_pattern);
    expect(JSON.parse(change.event_pattern)).toEqual({
      source: ["aws.route53"],
      "detail-type": ["AWS API Call via CloudTrail"],
      detail: { eventSource: ["route53.amazonaws.com"], eventName: ["ChangeResourceRecordSets"], requestParameters: { hostedZoneId: ["Z0PRIVATEPLACEHOLDER1", "Z0PUBLICPLACEHOLDER01"] } },
    });
    const fn = resourcesOf(stack, "aws_lambda_function").find((f) => f.function_name === "prod-dns-registration");
    expect(fn.environment.variables).toMatchObject({ PUBLIC_HOSTED_ZONE_ID: "Z0PUBLICPLACEHOLDER01", PUBLIC_DOMAIN: "cloud.example.com", PROBES_KEY: "installation-probes.json" });
    expect(fn.environment.variables.EXCLUDED_NAMES.split(",")).toEqual(expect.arrayContaining(["grafana", "prometheus"]));
    expect(rules.find((r) => r.schedule_expression)?.schedule_expression).toBe("rate(10 minutes)");
    const own = resourcesOf(stack, "aws_lambda_permission").filter((p) => String(p.function_name).includes("dns-registration"));
    expect(own.map((p) => p.principal)).toEqual(["events.amazonaws.com", "events.amazonaws.com"]);
  });

  it("maps its role to one Kubernetes group, not to an admin policy", () => {
    const entries = resourcesOf(stack, "aws_eks_access_entry");
    const lambdaEntry = entries.find((e) => e.kubernetes_groups);
    expect(lambdaEntry.kubernetes_groups).toEqual(["platform:dns-registration"]);
    expect(lambdaEntry.principal_arn).toMatch(/^\$\{aws_iam_role\.[^.]+\.arn\}$/);
    const associations = resourcesOf(stack, "aws_eks_access_policy_association");
    expect(associations.map((a) => a.principal_arn)).not.toContain(lambdaEntry.principal_arn);
  });

  it("alarms on errors and dead letters to the environment's alert topic", () => {
    const alarms = resourcesOf(stack, "aws_cloudwatch_metric_alarm");
    const errors = alarms.find((a) => a.metric_name === "Errors");
    expect(errors).toMatchObject({ namespace: "AWS/Lambda", threshold: 1, comparison_operator: "GreaterThanOrEqualToThreshold" });
    expect(errors.alarm_actions[0]).toMatch(/^\$\{aws_sns_topic\./);
    expect(alarms.find((a) => a.namespace === "AWS/SQS")).toBeDefined();
    expect(resourcesOf(stack, "aws_sns_topic")[0].kms_master_key_id).toMatch(/^\$\{aws_kms_key\./);
  });

  it("forwards Route53 events from us-east-1 when the environment lives elsewhere", () => {
    const eu = synthEnvironment(
      environment("prod", (e: any) => {
        e.region = "eu-west-1";
        e.network.azs = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
      }),
    ).json["prod-cluster"];
    const providers = eu.provider.aws;
    expect(providers.map((p: any) => p.region).sort()).toEqual(["eu-west-1", "us-east-1"]);
    const forward = resourcesOf(eu, "aws_cloudwatch_event_rule").find((r) => r.name === "prod-dns-registration-forward");
    expect(forward.provider).toBe("aws.us_east_1");
    const target = resourcesOf(eu, "aws_cloudwatch_event_target").find((t) => t.provider === "aws.us_east_1");
    expect(target.arn).toBe("arn:aws:events:eu-west-1:111111111111:event-bus/default");
  });
});

describe("cluster variants", () => {
  it("local: a single NAT gateway, stand-in zones, short-lived keys", () => {
    const stack = synthShipped("local").json["local-cluster"];
    expect(resourcesOf(stack, "aws_nat_gateway")).toHaveLength(1);
    expect(resourcesOf(stack, "aws_route53_zone").map((z) => z.name).sort()).toEqual(["internal.local.example.com", "local.example.com"]);
    expect(resourcesOf(stack, "aws_kms_key").every((k) => k.deletion_window_in_days === 7)).toBe(true);
  });

  it("an existing VPC: no VPC or subnets are created, the given ones are used, flow logs still on", () => {
    const stack = synthEnvironment(
      environment("prod", (e: any) => {
        e.network.existing = {
          vpcId: "vpc-0123456789abcdef0",
          publicSubnetIds: ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"],
          privateSubnetIds: ["subnet-1000000000000000a", "subnet-1000000000000000b", "subnet-1000000000000000c"],
        };
      }),
    ).json["prod-cluster"];
    expect(resourcesOf(stack, "aws_vpc")).toHaveLength(0);
    expect(resourcesOf(stack, "aws_subnet")).toHaveLength(0);
    expect(resourcesOf(stack, "aws_eks_cluster")[0].vpc_config.subnet_ids).toEqual(["subnet-1000000000000000a", "subnet-1000000000000000b", "subnet-1000000000000000c"]);
    expect(resourcesOf(stack, "aws_flow_log")[0].vpc_id).toBe("vpc-0123456789abcdef0");
  });

  it("a public endpoint is limited to the listed networks", () => {
    const stack = synthEnvironment(
      environment("prod", (e: any) => {
        e.cluster.endpointPublicAccess = true;
        e.cluster.publicAccessCidrs = ["203.0.113.0/24"];
      }),
    ).json["prod-cluster"];
    expect(resourcesOf(stack, "aws_eks_cluster")[0].vpc_config).toMatchObject({ endpoint_public_access: true, public_access_cidrs: ["203.0.113.0/24"] });
  });
});

describe("bad cluster input fails at synth with a sentence naming the field", () => {
  const reject = rejection;

  it("an unknown EKS version", () => {
    expect(reject((e) => (e.cluster.kubernetesVersion = "1.19"))).toMatch(/cluster\.kubernetesVersion: expected one of "1\.32", "1\.33", "1\.34", "1\.35", got "1\.19"/);
  });
  it("fewer subnets than zones", () => {
    expect(
      reject((e) => (e.network.existing = { vpcId: "vpc-0123456789abcdef0", publicSubnetIds: ["subnet-0000000000000000a"], privateSubnetIds: ["subnet-1000000000000000a", "subnet-1000000000000000b", "subnet-1000000000000000c"] })),
    ).toMatch(/network\.existing\.publicSubnetIds: has 1 subnet\(s\) but azs lists 3 zones/);
  });
  it("an empty instance type list", () => {
    expect(reject((e) => (e.cluster.nodeGroups[0].instanceTypes = []))).toMatch(/cluster\.nodeGroups\[0\]\.instanceTypes: expected at least one EC2 instance type, got an empty list/);
  });
  it("min greater than max", () => {
    expect(reject((e) => Object.assign(e.cluster.nodeGroups[0], { minSize: 5, maxSize: 2, desiredSize: 3 }))).toMatch(/cluster\.nodeGroups\[0\]\.minSize: minSize \(5\) must not be greater than maxSize \(2\)/);
  });
  it("a public endpoint without networks, or open to the world", () => {
    expect(reject((e) => (e.cluster.endpointPublicAccess = true))).toMatch(/cluster\.publicAccessCidrs: must list the networks/);
    expect(reject((e) => Object.assign(e.cluster, { endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"] }))).toMatch(/cluster\.publicAccessCidrs\[0\]: must not open the API to the whole internet/);
  });
});

describe("node changes without an outage", () => {
  it("replaces a node group create-before-destroy under a generated name when its instance type changes", () => {
    const before = synthShipped("prod").json["prod-cluster"];
    const after = synthEnvironment(environment("prod", (e) => (e.cluster.nodeGroups[0].instanceTypes = ["m7i.xlarge"]))).json["prod-cluster"];
    const groups = (s: any) => s.resource.aws_eks_node_group as Record<string, any>;
    // Same addresses: Terraform replaces each group (instance types cannot change in place)...
    expect(Object.keys(groups(after)).sort()).toEqual(Object.keys(groups(before)).sort());
    for (const [address, g] of Object.entries(groups(after))) {
      expect(g.instance_types).toEqual(["m7i.xlarge"]);
      expect(groups(before)[address].instance_types).toEqual(["m6i.xlarge", "m6a.xlarge"]);
      // ...new group first (a name EKS generates from the prefix, so both can exist at once),
      // then the old one, drained by EKS: the group never drops below its minimum.
      expect(g.lifecycle).toMatchObject({ create_before_destroy: true });
      expect(g.node_group_name).toBeUndefined();
      expect(g.node_group_name_prefix).toMatch(/^general-[abc]-$/);
      expect(g.scaling_config.min_size).toBeGreaterThanOrEqual(1);
    }
  });
});

describe("the node AMI release (nodeAmiRelease)", () => {
  it("follows AWS's recommended release for the minor by default, or a pin that must belong to the minor", () => {
    const pinned = synthEnvironment(environment("prod", (e) => ((e.cluster as any).nodeAmiRelease = "1.34.2-20251120"))).json;
    for (const g of resourcesOf(pinned["prod-cluster"], "aws_eks_node_group")) expect(g.release_version).toBe("1.34.2-20251120");
    expect(pinned["prod-cluster"].data?.aws_ssm_parameter).toBeUndefined();
    // Workloads on the same minor inherit the pin; one on another minor follows the latest unless it pins its own.
    for (const g of resourcesOf(pinned["prod-workload-alpha"], "aws_eks_node_group")) expect(g.release_version).toBe("1.34.2-20251120");
    expect(rejection((e) => ((e.cluster as any).nodeAmiRelease = "1.33.5-20251001"))).toMatch(
      /cluster\.nodeAmiRelease: 1\.33\.5-20251001 is a release for Kubernetes 1\.33, but the cluster runs 1\.34: pin a 1\.34 release, or set "latest"/,
    );
    expect(rejection((e) => ((e.cluster as any).nodeAmiRelease = "newest"))).toMatch(/expected "latest" or an EKS-optimized AMI release such as 1\.34\.2-20251120/);
  });
});

describe("a Kubernetes minor upgrade (kubernetesVersion N -> N+1)", () => {
  it("lets a workload pin its own minor, one ahead of the C&C at most (the C&C upgrades first)", () => {
    const pinned = synthEnvironment(environment("prod", (e) => ((e.workloads![0] as any).kubernetesVersion = "1.35"))).json;
    expect(resourcesOf(pinned["prod-workload-alpha"], "aws_eks_cluster")[0].version).toBe("1.35");
    expect(resourcesOf(pinned["prod-workload-beta"], "aws_eks_cluster")[0].version).toBe("1.34");
    expect(rejection((e) => { e.cluster.kubernetesVersion = "1.32"; (e.workloads![0] as any).kubernetesVersion = "1.34"; })).toMatch(
      /workloads\[0\]\.kubernetesVersion: 1\.34 is more than one minor ahead of the C&C's 1\.32 \(cluster\.kubernetesVersion\); upgrade the C&C first, one minor at a time/,
    );
  });

  /** Every resource and data source of every stack, address -> body without metadata. */
  const bodies = (json: Record<string, any>) => {
    const out = new Map<string, any>();
    for (const [stack, s] of Object.entries(json)) {
      for (const kind of ["resource", "data"]) {
        for (const [type, byName] of Object.entries<Record<string, any>>(s[kind] ?? {})) {
          for (const [name, body] of Object.entries(byName)) {
            const { "//": _meta, ...rest } = body;
            out.set(`${stack} ${kind === "data" ? "data." : ""}${type}.${name}`, rest);
          }
        }
      }
    }
    return out;
  };

  it("changes versions in place: no resource appears or disappears, the add-ons follow the cluster's version", () => {
    const before = bodies(synthShipped("prod").json);
    const after = bodies(synthEnvironment(environment("prod", (e) => (e.cluster.kubernetesVersion = "1.35"))).json);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const changed = [...before.keys()].filter((a) => JSON.stringify(before.get(a)) !== JSON.stringify(after.get(a)));
    // The control planes (in place), and the Cluster Autoscaler's image, which is per minor.
    expect(changed.filter((a) => a.includes("aws_eks_cluster."))).toHaveLength(3);
    for (const a of changed.filter((x) => x.includes("aws_eks_cluster."))) expect(after.get(a).version).toBe("1.35");
    // The node AMI release parameter is per minor (the groups roll to its release in place).
    const amiParams = changed.filter((a) => a.includes("data.aws_ssm_parameter.nodes_ami-release"));
    expect(amiParams).toHaveLength(3);
    for (const a of amiParams) expect(after.get(a).name).toBe("/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/release_version");
    expect(changed.every((a) => /aws_eks_cluster\.|kubernetes_deployment_v1\.autoscaler|data\.aws_ssm_parameter\.nodes_ami-release/.test(a))).toBe(true);
    // Node groups run the control plane's version (a rolling in-place update when it moves).
    const prodCluster = synthShipped("prod").json["prod-cluster"];
    const groups = resourcesOf(prodCluster, "aws_eks_node_group");
    expect(groups.length).toBeGreaterThan(0);
    for (const g of groups) expect(g.version).toBe(`\${aws_eks_cluster.${Object.keys(prodCluster.resource.aws_eks_cluster)[0]}.version}`);
    for (const g of groups) expect(g.release_version).toMatch(/^\$\{data\.aws_ssm_parameter\.nodes_ami-release-x86_64_[0-9A-F]+\.insecure_value\}$/);
    // Each add-on takes the newest build for the cluster's own version, so it moves in the same plan.
    const cluster = synthShipped("prod").json["prod-cluster"];
    const addons = resourcesOf(cluster, "aws_eks_addon");
    expect(addons.map((a) => a.addon_name).sort()).toEqual(["aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]);
    const clusterAddress = Object.keys(cluster.resource.aws_eks_cluster)[0];
    for (const addon of addons) {
      const data = addon.addon_version.match(/^\$\{data\.aws_eks_addon_version\.([^.]+)\.version\}$/)[1];
      expect(cluster.data.aws_eks_addon_version[data]).toMatchObject({ addon_name: addon.addon_name, kubernetes_version: `\${aws_eks_cluster.${clusterAddress}.version}`, most_recent: true });
    }
  });
});
