/**
 * The preflight checks: secrets against moto through the real SDK, the caller-role rule, the AWS
 * CLI check with a missing binary, API reachability against a local listener, and the sentences
 * the user gets.
 */
import { CreateSubnetCommand, CreateVpcCommand, EC2Client } from "@aws-sdk/client-ec2";
import { CreateLoadBalancerCommand, ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { CreateAccountAliasCommand, DeleteAccountAliasCommand, IAMClient } from "@aws-sdk/client-iam";
import { ChangeTagsForResourceCommand, CreateHostedZoneCommand, Route53Client } from "@aws-sdk/client-route-53";
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { createServer, type Server } from "node:net";
import {
  accountAliasConflict,
  accountAliasProblem,
  environmentZones,
  zoneTagProblems,
  callerIsAdmin,
  callerMessage,
  checkAwsCli,
  clusterOfStack,
  reachable,
  roleOfCaller,
  secretsMessage,
  secretsNeededBy,
  secretsReadBy,
  secretsSyncedBy,
  loadBalancerLookups,
  loadBalancersMessage,
  waitForLoadBalancers,
  unfilledSecrets,
  unreachableMessage,
  versionStepProblem,
} from "../../scripts/lib/preflight";
import { provisionerAccountAlias } from "../../config/names";
import { freePort, useMoto } from "../support/moto";
import { CreateClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { environment, rejection, resourcesOf, synthShipped } from "../support/synth";

describe("preflight: secrets a layer reads", () => {
  const aws = useMoto({ sm: SecretsManagerClient });

  it("lists the operator secrets each stack reads, not ids made at apply time", () => {
    const { json } = synthShipped("prod");
    // The C&C apps' secrets are no longer read by Terraform: the External Secrets Operator reads them in the cluster.
    expect(secretsReadBy(json["prod-post-install"])).toEqual([]);
    expect(secretsSyncedBy(json["prod-post-install"])).toEqual(["prod/cnc/grafana-admin", "prod/cnc/mattermost-alerts-webhook", "prod/cnc/oidc-client", "prod/cnc/pagerduty-routing-key"]);
    expect(secretsReadBy(json["prod-workload-alpha"])).toEqual(["prod/alpha/redis-auth-token"]);
    expect(secretsReadBy(json["prod-route53"])).toEqual([]);
  });

  it("adds what pods read at start: the provisioner's SSH key, and each declared installation's DSN", () => {
    const env = environment("prod", (e: any) => (e.workloads[0].installations = [{ name: "acme", dns: "acme.cloud.example.com", size: "1000users", version: "10.11.2" }]));
    const { json } = synthShipped("prod");
    expect(secretsNeededBy(env, "prod-post-install", json["prod-post-install"])).toEqual([
      "prod/cnc/grafana-admin",
      "prod/cnc/mattermost-alerts-webhook",
      "prod/cnc/oidc-client",
      "prod/cnc/pagerduty-routing-key",
      "prod/cnc/provisioner-ssh-public-key",
    ]);
    expect(secretsNeededBy(env, "prod-workload-alpha-apps", json["prod-workload-alpha-apps"])).toEqual(["prod/alpha/installations/acme/database"]);
    expect(secretsNeededBy(env, "prod-workload-beta-apps", json["prod-workload-beta-apps"])).toEqual([]);
  });

  it("stops on an empty installation DSN before the apps stack would run its sync Job", async () => {
    const env = environment("prod", (e: any) => (e.workloads[0].installations = [{ name: "acme", dns: "acme.cloud.example.com", size: "1000users", version: "10.11.2" }]));
    const needed = secretsNeededBy(env, "prod-workload-alpha-apps", synthShipped("prod").json["prod-workload-alpha-apps"]);
    await aws.sm.send(new CreateSecretCommand({ Name: "prod/alpha/installations/acme/database" }));
    const problems = await unfilledSecrets(aws.sm, needed);
    expect(problems).toEqual([{ name: "prod/alpha/installations/acme/database", problem: "empty" }]);
    expect(secretsMessage("prod-workload-alpha-apps", problems, "prod")).toMatch(/prod\/alpha\/installations\/acme\/database: has no value; fill it: aws secretsmanager put-secret-value/);
  });

  it("stops on an empty container and a missing secret, naming each with what to do, and passes once filled", async () => {
    await aws.sm.send(new CreateSecretCommand({ Name: "t/empty" }));
    await aws.sm.send(new CreateSecretCommand({ Name: "t/filled", SecretString: "{}" }));
    const problems = await unfilledSecrets(aws.sm, ["t/empty", "t/filled", "t/missing"]);
    expect(problems).toEqual([
      { name: "t/empty", problem: "empty" },
      { name: "t/missing", problem: "missing" },
    ]);
    const message = secretsMessage("t-post-install", problems, "t");
    expect(message).toMatch(/t-post-install reads 2 secret\(s\) that are not filled yet/);
    expect(message).toContain("aws secretsmanager put-secret-value --secret-id 't/empty' --secret-string file://value.json");
    expect(message).toContain("t/missing: does not exist; apply t-bootstrap first");
    await aws.sm.send(new PutSecretValueCommand({ SecretId: "t/empty", SecretString: "{}" }));
    expect(await unfilledSecrets(aws.sm, ["t/empty", "t/filled"])).toEqual([]);
  });
});

describe("preflight: the provisioner's start-up prerequisites", () => {
  const aws = useMoto({ iam: IAMClient, route53: Route53Client });

  it("refuses a missing or different account alias in one sentence, and passes once it is set", async () => {
    expect(await accountAliasProblem(aws.iam, "mattermost-cloud-t", "t")).toMatch(/needs "mattermost-cloud-t", but the account's alias is not set: apply t-cluster \(it sets the alias\)/);
    expect(await accountAliasConflict(aws.iam, "mattermost-cloud-t")).toBeUndefined();
    await aws.iam.send(new CreateAccountAliasCommand({ AccountAlias: "someone-else" }));
    expect(await accountAliasProblem(aws.iam, "mattermost-cloud-t", "t")).toMatch(/the account's alias is "someone-else"/);
    // Before the cluster layer sets it: setting ours would silently replace someone's alias.
    expect(await accountAliasConflict(aws.iam, "mattermost-cloud-t")).toMatch(/already has the alias "someone-else", and setting the provisioner's "mattermost-cloud-t" would replace it/);
    await aws.iam.send(new DeleteAccountAliasCommand({ AccountAlias: "someone-else" }));
    await aws.iam.send(new CreateAccountAliasCommand({ AccountAlias: "mattermost-cloud-t" }));
    expect(await accountAliasProblem(aws.iam, "mattermost-cloud-t", "t")).toBeUndefined();
    expect(await accountAliasConflict(aws.iam, "mattermost-cloud-t")).toBeUndefined();
  });

  it("finds the environment's zones and names each one lacking its MattermostCloudDNS tag, with the command", async () => {
    const env = environment("local");
    for (const domain of [env.dns.privateDomain, env.dns.publicDomain!]) await aws.route53.send(new CreateHostedZoneCommand({ Name: domain, CallerReference: domain }));
    const zones = await environmentZones(aws.route53, env);
    expect(zones.map((z) => [z.domain, z.value])).toEqual([[env.dns.privateDomain, "private"], [env.dns.publicDomain, "public"]]);
    const problems = await zoneTagProblems(aws.route53, zones);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(new RegExp(`Zone internal\\.local\\.example\\.com \\(${zones[0].id}\\) lacks the tag MattermostCloudDNS=private .*aws route53 change-tags-for-resource --resource-type hostedzone --resource-id ${zones[0].id} --add-tags Key=MattermostCloudDNS,Value=private`));
    // A wrong value is as bad as none.
    await aws.route53.send(new ChangeTagsForResourceCommand({ ResourceType: "hostedzone", ResourceId: zones[0].id, AddTags: [{ Key: "MattermostCloudDNS", Value: "private" }] }));
    await aws.route53.send(new ChangeTagsForResourceCommand({ ResourceType: "hostedzone", ResourceId: zones[1].id, AddTags: [{ Key: "MattermostCloudDNS", Value: "private" }] }));
    expect(await zoneTagProblems(aws.route53, zones)).toEqual([expect.stringMatching(/local\.example\.com .* lacks the tag MattermostCloudDNS=public/)]);
    await aws.route53.send(new ChangeTagsForResourceCommand({ ResourceType: "hostedzone", ResourceId: zones[1].id, AddTags: [{ Key: "MattermostCloudDNS", Value: "public" }] }));
    expect(await zoneTagProblems(aws.route53, zones)).toEqual([]);
  });

  it("derives the alias from the environment, and refuses one the provisioner could not parse", () => {
    expect(resourcesOf(synthShipped("prod").json["prod-cluster"], "aws_iam_account_alias")).toEqual([{ account_alias: "mattermost-cloud-prod" }]);
    expect(rejection((e) => (e.provisioner.accountAlias = "mattermost-cloud-us-prod"))).toMatch(/provisioner\.accountAlias: expected mattermost-cloud-<env> \(three dash-separated parts/);
    expect(() => provisionerAccountAlias(environment("prod", undefined, "us-prod"))).toThrow(/would be "mattermost-cloud-us-prod", but it must be mattermost-cloud-<env> with no further dash; set provisioner\.accountAlias/);
    const zones = resourcesOf(synthShipped("local").json["local-cluster"], "aws_route53_zone");
    expect(zones.map((z) => z.tags)).toEqual([{ MattermostCloudDNS: "private" }, { MattermostCloudDNS: "public" }]);
  });
});

describe("preflight: the load balancers route53 names", () => {
  const aws = useMoto({ elb: ElasticLoadBalancingV2Client, ec2: EC2Client });
  let subnets: string[];
  beforeAll(async () => {
    const { ec2 } = aws;
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.9.0.0/16" }))).Vpc!.VpcId!;
    subnets = [];
    for (const [i, cidr] of ["10.9.1.0/24", "10.9.2.0/24"].entries()) {
      subnets.push((await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: cidr, AvailabilityZone: `us-east-1${"ab"[i]}` }))).Subnet!.SubnetId!);
    }
  });

  it("reads each lookup's tags from the synthesized route53 stack", () => {
    const lookups = loadBalancerLookups(synthShipped("prod").json["prod-route53"]);
    expect(lookups.map((l) => l.tags["platform/load-balancer"]).sort()).toEqual(["prod/prod-cnc/alb-internal", "prod/prod-cnc/alb-public", "prod/prod-cnc/nlb-thanos-grpc"]);
  });

  it("waits for a load balancer the controller has not made yet, then names what is still missing", async () => {
    const tags = { "elbv2.k8s.aws/cluster": "t-cnc", "platform/load-balancer": "t/t-cnc/alb-internal" };
    const missing = await waitForLoadBalancers(aws.elb, [{ address: "data.aws_lb.internal", tags }], { timeoutMs: 300, intervalMs: 100 });
    expect(missing).toEqual(["data.aws_lb.internal: no load balancer tagged elbv2.k8s.aws/cluster=t-cnc, platform/load-balancer=t/t-cnc/alb-internal"]);
    expect(loadBalancersMessage("t-route53", missing)).toMatch(/kubectl -n kube-system logs deploy\/aws-load-balancer-controller/);
    const make = (name: string) => aws.elb.send(new CreateLoadBalancerCommand({ Name: name, Subnets: subnets, Scheme: "internal", Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
    // It appears while the wait is on: the wait ends well before its limit.
    const started = Date.now();
    setTimeout(() => void make("internal-1"), 300);
    expect(await waitForLoadBalancers(aws.elb, [{ address: "data.aws_lb.internal", tags }], { timeoutMs: 20_000, intervalMs: 200 })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(15_000);
    // Two with the same tags is as bad as none: the lookup would fail on "2 results".
    await make("internal-2");
    expect(await waitForLoadBalancers(aws.elb, [{ address: "data.aws_lb.internal", tags }], { timeoutMs: 0, intervalMs: 100 })).toEqual([
      "data.aws_lb.internal: 2 load balancers tagged elbv2.k8s.aws/cluster=t-cnc, platform/load-balancer=t/t-cnc/alb-internal",
    ]);
  });
});

describe("preflight: who runs the Kubernetes phase", () => {
  const admins = ["arn:aws:iam::111111111111:role/platform-deploy", "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"];

  it("accepts a session of an admin role (paths and session names vary), refuses anyone else", () => {
    expect(roleOfCaller("arn:aws:sts::111111111111:assumed-role/platform-deploy/ci-1234")).toEqual({ account: "111111111111", roleName: "platform-deploy" });
    expect(callerIsAdmin("arn:aws:sts::111111111111:assumed-role/platform-deploy/ci-1234", admins)).toBe(true);
    expect(callerIsAdmin("arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_0123/jane@example.com", admins)).toBe(true);
    expect(callerIsAdmin("arn:aws:sts::222222222222:assumed-role/platform-deploy/x", admins)).toBe(false);
    expect(callerIsAdmin("arn:aws:sts::111111111111:assumed-role/ReadOnly/x", admins)).toBe(false);
    expect(callerIsAdmin("arn:aws:iam::111111111111:user/jane", admins)).toBe(false);
    expect(callerMessage("prod-post-install", "arn:aws:sts::111111111111:assumed-role/ReadOnly/x", admins)).toMatch(/only the clusters' admin roles may .* you are arn:aws:sts::111111111111:assumed-role\/ReadOnly\/x\. Assume one of/);
  });

  it("names the cluster a Kubernetes stack connects to", () => {
    const { json } = synthShipped("prod");
    expect(clusterOfStack(json["prod-post-install"])).toBe("prod-cnc");
    expect(clusterOfStack(json["prod-workload-beta-apps"])).toBe("prod-beta");
  });

  it("refuses a missing AWS CLI with what to install", () => {
    expect(() => checkAwsCli("/nonexistent/aws")).toThrow(/The AWS CLI \("\/nonexistent\/aws"\) is not on PATH\. The Kubernetes and Helm providers authenticate by running `aws eks get-token`/);
  });

  it("tells a reachable API endpoint from an unreachable one", async () => {
    const server: Server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const open = (server.address() as { port: number }).port;
    const closed = await freePort();
    await expect(reachable("127.0.0.1", open, 2000)).resolves.toBe(true);
    await expect(reachable("127.0.0.1", closed, 2000)).resolves.toBe(false);
    server.close();
    expect(unreachableMessage("prod-workload-alpha-apps", "prod-alpha", "https://ABC.gr7.us-east-1.eks.amazonaws.com")).toMatch(/Run the deploy from the deploy runner/);
  });
});

describe("deployer identity in the environment", () => {
  it("refuses an STS session ARN and says which role ARN to use instead", () => {
    expect(rejection((e) => (e.cluster.deployRoleArns = ["arn:aws:sts::111111111111:assumed-role/platform-deploy/ci"]))).toMatch(
      /cluster\.deployRoleArns\[0\]: "arn:aws:sts::111111111111:assumed-role\/platform-deploy\/ci" is an STS session \(assumed-role\) ARN, which EKS access entries refuse; use the role itself: arn:aws:iam::111111111111:role\/platform-deploy/,
    );
    expect(rejection((e) => (e.cluster.adminPrincipalArns = ["arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_0123/jane"]))).toMatch(
      /use the role itself: arn:aws:iam::111111111111:role\/aws-reserved\/sso\.amazonaws\.com\/AWSReservedSSO_Admin_0123/,
    );
  });

  it("refuses IAM users, roles of another account, and an empty deploy-role list", () => {
    expect(rejection((e) => (e.cluster.adminPrincipalArns = ["arn:aws:iam::111111111111:user/jane"]))).toMatch(/is an IAM user; this platform deploys and administers through roles only/);
    expect(rejection((e) => (e.cluster.deployRoleArns = ["arn:aws:iam::999999999999:role/deploy"]))).toMatch(/cluster\.deployRoleArns\[0\]: names a role in account 999999999999, but the environment lives in 111111111111/);
    expect(rejection((e) => (e.cluster.deployRoleArns = []))).toMatch(/cluster\.deployRoleArns: expected at least one IAM role ARN that runs deploys/);
    expect(rejection((e) => delete e.cluster.deployRoleArns)).toMatch(/cluster\.deployRoleArns/);
  });

  it("refuses a PostgreSQL minor version (AWS upgrades minors itself)", () => {
    expect(rejection((e) => (e.provisioner.postgresVersion = "17.5"))).toMatch(/provisioner\.postgresVersion: expected one of "16", "17", got "17\.5"/);
  });
});

describe("preflight: one Kubernetes minor at a time, against the running cluster", () => {
  const aws = useMoto({ eks: EKSClient });
  beforeAll(async () => {
    await aws.eks.send(new CreateClusterCommand({ name: "prod-cnc", version: "1.33", roleArn: "arn:aws:iam::123456789012:role/eks", resourcesVpcConfig: { subnetIds: ["subnet-1", "subnet-2"] } }));
  });

  it("allows the same minor and the next, refuses a jump of two and a downgrade, and says nothing of a cluster still to create", async () => {
    expect(await versionStepProblem(aws.eks, "prod-cnc", "1.33")).toBeUndefined();
    expect(await versionStepProblem(aws.eks, "prod-cnc", "1.34")).toBeUndefined();
    expect(await versionStepProblem(aws.eks, "prod-cnc", "1.35")).toBe(
      "cluster prod-cnc runs Kubernetes 1.33, and this apply would move it to 1.35: EKS upgrades one minor at a time. Set kubernetesVersion to 1.34, run make upgrade, then the next minor (docs/upgrades.md).",
    );
    expect(await versionStepProblem(aws.eks, "prod-cnc", "1.32")).toMatch(/would move it back to 1\.32: EKS cannot downgrade/);
    expect(await versionStepProblem(aws.eks, "prod-workload-new", "1.35")).toBeUndefined();
  });
});
