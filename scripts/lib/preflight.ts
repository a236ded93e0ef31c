/**
 * Checks run before a stack is planned or applied, each failing with one paragraph that says what
 * to do. Clients come in as parameters, so tests run them against moto.
 *
 * - secrets: every Secrets Manager secret the stack reads has a current value;
 * - Kubernetes stacks: the AWS CLI is installed (the providers' exec auth runs it), the caller is
 *   one of the environment's cluster admin roles, and the cluster's API endpoint answers from here;
 * - the layer with the provisioner: the account alias and the zone tags it needs at start.
 */
import { DescribeClusterCommand, type EKSClient } from "@aws-sdk/client-eks";
import { DescribeLoadBalancersCommand, DescribeTagsCommand, type ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { ListAccountAliasesCommand, type IAMClient } from "@aws-sdk/client-iam";
import { ListHostedZonesByNameCommand, ListTagsForResourceCommand, type Route53Client } from "@aws-sdk/client-route-53";
import { DescribeSecretCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { load } from "js-yaml";
import { spawnSync } from "node:child_process";
import { connect } from "node:net";
import type { Environment } from "../../config/schema";
import { installationDatabaseSecretName } from "../../config/names";
import { PROVISIONER_ZONE_TAG } from "../../constructs/dns/zones";
import { ToolError } from "./terraform";
import type { TfJson } from "./tf-json";

/** Names of the secrets a stack reads (literal ids of data.aws_secretsmanager_secret_version). */
export function secretsReadBy(json: TfJson): string[] {
  const reads = Object.values(json.data?.aws_secretsmanager_secret_version ?? {}) as { secret_id?: string }[];
  // Ids made at apply time (an RDS-managed secret's ARN) are not operator secrets.
  return [...new Set(reads.map((r) => r.secret_id).filter((id): id is string => !!id && !id.includes("${")))].sort();
}

/**
 * Names of the secrets the External Secrets Operator reads for a stack: the remote keys of the
 * ExternalSecrets its Helm releases apply (constructs/secrets/external-secrets.ts).
 */
export function secretsSyncedBy(json: TfJson): string[] {
  const out = new Set<string>();
  for (const release of Object.values((json.resource?.helm_release ?? {}) as Record<string, { values?: string[] }>)) {
    for (const text of release.values ?? []) {
      if (!text.includes("ExternalSecret")) continue;
      let doc: { manifests?: { kind?: string; spec?: { data?: { remoteRef?: { key?: string } }[] } }[] } | undefined;
      try {
        doc = load(text) as typeof doc;
      } catch {
        continue;
      }
      for (const m of doc?.manifests ?? []) {
        if (m?.kind !== "ExternalSecret") continue;
        for (const d of m.spec?.data ?? []) if (d.remoteRef?.key && !d.remoteRef.key.includes("${")) out.add(d.remoteRef.key);
      }
    }
  }
  return [...out].sort();
}

/**
 * Secrets a stack needs filled: what Terraform reads, what the External Secrets Operator copies
 * into the cluster for it, plus what its pods read at start (the provisioner's SSH key; declared
 * installations' DSNs, copied in by the apps stack's sync Job).
 */
export function secretsNeededBy(env: Environment, stackName: string, json: TfJson): string[] {
  const atStart = stackName === `${env.name}-post-install` ? [env.provisioner.sshPublicKeySecretName] : [];
  for (const w of env.workloads) {
    if (stackName === `${env.name}-workload-${w.name}-apps`) atStart.push(...w.installations.map((i) => installationDatabaseSecretName(env, w.name, i.name)));
  }
  return [...new Set([...secretsReadBy(json), ...secretsSyncedBy(json), ...atStart])].sort();
}

export interface SecretProblem {
  name: string;
  problem: "missing" | "empty";
}

/** The secrets among `names` that do not exist or have no current value (values are never read). */
export async function unfilledSecrets(client: SecretsManagerClient, names: string[]): Promise<SecretProblem[]> {
  const problems: SecretProblem[] = [];
  for (const name of names) {
    try {
      const out = await client.send(new DescribeSecretCommand({ SecretId: name }));
      const current = Object.values(out.VersionIdsToStages ?? {}).some((stages) => stages.includes("AWSCURRENT"));
      if (!current) problems.push({ name, problem: "empty" });
    } catch (err) {
      if ((err as Error).name === "ResourceNotFoundException") problems.push({ name, problem: "missing" });
      else throw new ToolError(`Could not check Secrets Manager secret ${name} (${(err as Error).name}: ${(err as Error).message}); check the credentials' secretsmanager:DescribeSecret permission and run the command again.`);
    }
  }
  return problems;
}

/** The one-paragraph refusal for unfilled secrets, with the command that fills each. */
export function secretsMessage(stack: string, problems: SecretProblem[], env: string): string {
  const lines = problems.map((p) =>
    p.problem === "missing"
      ? `  - ${p.name}: does not exist; apply ${env}-bootstrap first (make bootstrap ENVIRONMENT=${env}), which creates it`
      : `  - ${p.name}: has no value; fill it: aws secretsmanager put-secret-value --secret-id '${p.name}' --secret-string file://value.json`,
  );
  return `${stack} reads ${problems.length} secret(s) that are not filled yet, so its plan would fail (or configure an app with nothing). Fill each, then run the command again:\n${lines.join("\n")}`;
}

/**
 * The IAM role behind a caller ARN: `arn:aws:sts::A:assumed-role/R/session` -> role name R in
 * account A; a role ARN stays as it is. Undefined for IAM users and anything else.
 */
export function roleOfCaller(callerArn: string): { account: string; roleName: string } | undefined {
  const session = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  if (session) return { account: session[1], roleName: session[2] };
  const role = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(callerArn);
  return role ? { account: role[1], roleName: role[2] } : undefined;
}

/** Whether the caller is one of the admin roles (compared by account and role name; paths vary). */
export function callerIsAdmin(callerArn: string, adminRoleArns: string[]): boolean {
  const caller = roleOfCaller(callerArn);
  return !!caller && adminRoleArns.some((arn) => {
    const admin = roleOfCaller(arn);
    return admin?.account === caller.account && admin.roleName === caller.roleName;
  });
}

export function callerMessage(stack: string, callerArn: string, adminRoleArns: string[]): string {
  return (
    `${stack} applies Kubernetes objects, and only the clusters' admin roles may (EKS access entries); you are ${callerArn}. ` +
    `Assume one of ${adminRoleArns.join(", ")} (on the deploy runner, the deploy workflow does this through GitHub OIDC), or add your role to cluster.deployRoleArns in the environment and apply the cluster layers first.`
  );
}

/** Whether the Kubernetes stacks' exec auth can run: the AWS CLI on PATH. */
export function checkAwsCli(binary = process.env.AWS_CLI_BINARY || "aws"): string {
  const out = spawnSync(binary, ["--version"], { encoding: "utf8" });
  if (out.error || out.status !== 0) {
    throw new ToolError(
      `The AWS CLI ("${binary}") is not on PATH. The Kubernetes and Helm providers authenticate by running \`aws eks get-token\`, so every stack with Kubernetes objects needs it: ` +
        `install AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and run the command again.`,
    );
  }
  return (out.stdout || out.stderr).trim().split(/\s+/)[0];
}

/** Resolves when host:port accepts a TCP connection within `timeoutMs`, rejects otherwise. */
export function reachable(host: string, port = 443, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export function unreachableMessage(stack: string, cluster: string, endpoint: string): string {
  return (
    `${stack} needs the Kubernetes API of ${cluster} (${endpoint}), which does not answer from this machine: the endpoint is private. ` +
    `Run the deploy from the deploy runner (the GitHub workflows do; README "Where deploys run"), or from the VPN into the C&C VPC for the C&C cluster; ` +
    `workload APIs are reachable only from inside the C&C VPC.`
  );
}

/** Whether a stack configures Kubernetes or Helm providers. */
export function usesKubernetes(json: TfJson): boolean {
  return !!(json.provider && ("kubernetes" in json.provider || "helm" in json.provider));
}

/** The cluster name a Kubernetes stack connects to (from its exec args). */
export function clusterOfStack(json: TfJson): string | undefined {
  const k8s = (json.provider as Record<string, { exec?: { args?: string[] }[] }[]> | undefined)?.kubernetes?.[0];
  const args = k8s?.exec?.[0]?.args ?? [];
  const i = args.indexOf("--cluster-name");
  return i >= 0 ? args[i + 1] : undefined;
}

/** The provisioner's start-up prerequisite: the account alias (one sentence when it is not there). */
export async function accountAliasProblem(iam: IAMClient, wanted: string, env: string): Promise<string | undefined> {
  const out = await iam.send(new ListAccountAliasesCommand({}));
  const aliases = out.AccountAliases ?? [];
  if (aliases.includes(wanted)) return undefined;
  return (
    `The provisioner reads its environment from the account alias and needs "${wanted}", but the account's alias is ${aliases.length ? `"${aliases[0]}"` : "not set"}: ` +
    `apply ${env}-cluster (it sets the alias), or set provisioner.accountAlias to another free mattermost-cloud-<name> (aliases are unique across AWS; an account has one).`
  );
}

/**
 * Before the cluster layer sets the alias: an account has one alias, and creating another replaces
 * it silently. Refuse when the account already has a different one.
 */
export async function accountAliasConflict(iam: IAMClient, wanted: string): Promise<string | undefined> {
  const aliases = (await iam.send(new ListAccountAliasesCommand({}))).AccountAliases ?? [];
  if (aliases.length === 0 || aliases.includes(wanted)) return undefined;
  return (
    `The account already has the alias "${aliases[0]}", and setting the provisioner's "${wanted}" would replace it (an account has one alias). ` +
    (/^mattermost-cloud-[a-z0-9]+$/.test(aliases[0]) ? `If "${aliases[0]}" is meant for this platform, set provisioner.accountAlias to it; otherwise ` : "") +
    `free the alias on purpose (aws iam delete-account-alias) or use an account of its own for this environment.`
  );
}

/** The provisioner's other start-up prerequisite: its zones tagged MattermostCloudDNS=private|public. */
export async function zoneTagProblems(route53: Route53Client, zones: { id: string; domain: string; value: "private" | "public" }[]): Promise<string[]> {
  const problems: string[] = [];
  for (const zone of zones) {
    const out = await route53.send(new ListTagsForResourceCommand({ ResourceType: "hostedzone", ResourceId: zone.id }));
    const tag = out.ResourceTagSet?.Tags?.find((t) => t.Key === PROVISIONER_ZONE_TAG);
    if (tag?.Value !== zone.value) {
      problems.push(
        `Zone ${zone.domain} (${zone.id}) lacks the tag ${PROVISIONER_ZONE_TAG}=${zone.value} the provisioner finds it by at start: ` +
          `aws route53 change-tags-for-resource --resource-type hostedzone --resource-id ${zone.id} --add-tags Key=${PROVISIONER_ZONE_TAG},Value=${zone.value}`,
      );
    }
  }
  return problems;
}

/** The environment's zones: by id on real AWS, by domain on the emulator (its stand-in zones). */
export async function environmentZones(route53: Route53Client, env: Environment): Promise<{ id: string; domain: string; value: "private" | "public" }[]> {
  const wanted: { domain: string; id?: string; value: "private" | "public" }[] = [
    { domain: env.dns.privateDomain, id: env.dns.privateZoneId, value: "private" },
    ...(env.dns.publicDomain ? [{ domain: env.dns.publicDomain, id: env.dns.publicZoneId, value: "public" as const }] : []),
  ];
  const out: { id: string; domain: string; value: "private" | "public" }[] = [];
  for (const w of wanted) {
    let id = env.target === "emulator" ? undefined : w.id;
    if (!id) {
      const listed = await route53.send(new ListHostedZonesByNameCommand({ DNSName: w.domain, MaxItems: 1 }));
      const zone = listed.HostedZones?.find((z) => z.Name?.replace(/\.$/, "") === w.domain);
      if (!zone?.Id) throw new ToolError(`No hosted zone for ${w.domain} exists: apply ${env.name}-cluster first (make cluster).`);
      id = zone.Id.replace("/hostedzone/", "");
    }
    out.push({ id, domain: w.domain, value: w.value });
  }
  return out;
}

/** The tag sets of a stack's `data.aws_lb` lookups (load balancers the controller makes). */
export function loadBalancerLookups(json: TfJson): { address: string; tags: Record<string, string> }[] {
  return Object.entries((json.data?.aws_lb ?? {}) as Record<string, { tags?: Record<string, string> }>)
    .filter(([, body]) => body.tags && Object.keys(body.tags).length)
    .map(([name, body]) => ({ address: `data.aws_lb.${name}`, tags: body.tags! }));
}

/**
 * Waits until every load balancer a stack looks up exists (exactly one per tag set). The AWS Load
 * Balancer Controller makes them from Ingresses and Services some time after the Kubernetes phase
 * ends (for installations, after the operator has made the Ingress), and a lookup that finds
 * nothing fails the whole plan. Polls, then names each one still missing and where to look.
 */
export async function waitForLoadBalancers(
  elb: ElasticLoadBalancingV2Client,
  lookups: { address: string; tags: Record<string, string> }[],
  opts: { timeoutMs: number; intervalMs: number; log?: (line: string) => void },
): Promise<string[]> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const arns: string[] = [];
    let marker: string | undefined;
    do {
      const page = await elb.send(new DescribeLoadBalancersCommand({ Marker: marker }));
      arns.push(...(page.LoadBalancers ?? []).map((lb) => lb.LoadBalancerArn!).filter(Boolean));
      marker = page.NextMarker;
    } while (marker);
    const tagsOf = new Map<string, Record<string, string>>();
    for (let i = 0; i < arns.length; i += 20) {
      const out = await elb.send(new DescribeTagsCommand({ ResourceArns: arns.slice(i, i + 20) }));
      for (const d of out.TagDescriptions ?? []) tagsOf.set(d.ResourceArn!, Object.fromEntries((d.Tags ?? []).map((t) => [t.Key!, t.Value ?? ""])));
    }
    const problems = lookups.flatMap((l) => {
      const found = [...tagsOf.values()].filter((t) => Object.entries(l.tags).every(([k, v]) => t[k] === v)).length;
      return found === 1 ? [] : [`${l.address}: ${found === 0 ? "no load balancer" : `${found} load balancers`} tagged ${Object.entries(l.tags).map(([k, v]) => `${k}=${v}`).join(", ")}`];
    });
    if (!problems.length || Date.now() >= deadline) return problems;
    opts.log?.(`waiting for ${problems.length} load balancer(s) the controller makes: ${problems.map((p) => p.split(":")[0]).join(", ")}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

export function loadBalancersMessage(stack: string, problems: string[]): string {
  return (
    `${stack} names load balancers the AWS Load Balancer Controller makes, and these are not there (exactly one of each is needed):\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
    `Check the Ingress or Service events and the controller's log (kubectl -n kube-system logs deploy/aws-load-balancer-controller); a certificate the controller cannot find for a host is the usual cause. Then run the command again.`
  );
}

/**
 * The Kubernetes minor a stack moves a cluster to, against what runs: EKS upgrades one minor at
 * a time and never downgrades. Undefined when the cluster does not exist yet (a first apply) or
 * the step is allowed. `eks` is the caller's client (the test passes one aimed at the emulator).
 */
export async function versionStepProblem(eks: EKSClient, clusterName: string, target: string): Promise<string | undefined> {
  const running = await eks.send(new DescribeClusterCommand({ name: clusterName })).then(
    (r) => r.cluster?.version,
    (err: Error) => (err.name === "ResourceNotFoundException" ? undefined : Promise.reject(err)),
  );
  if (!running) return undefined;
  const minor = (v: string) => Number(v.split(".")[1]);
  const step = minor(target) - minor(running);
  if (step > 1) {
    return `cluster ${clusterName} runs Kubernetes ${running}, and this apply would move it to ${target}: EKS upgrades one minor at a time. Set kubernetesVersion to 1.${minor(running) + 1}, run make upgrade, then the next minor (docs/upgrades.md).`;
  }
  if (step < 0) return `cluster ${clusterName} runs Kubernetes ${running}, and this apply would move it back to ${target}: EKS cannot downgrade. Set kubernetesVersion to ${running} or later.`;
  return undefined;
}
