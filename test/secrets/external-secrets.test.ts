/**
 * Secrets out of Terraform state: no Kubernetes-phase stack of any shipped environment reads a
 * secret value, and every Kubernetes Secret the apps read is written in the cluster by the
 * External Secrets Operator through a SecretStore whose IRSA role may read exactly the secrets
 * that namespace's ExternalSecrets name, and nothing broader.
 */
import { load } from "js-yaml";
import { Testing } from "cdktf";
import { secretsKeyAlias } from "../../config/names";
import { secretsSyncedBy } from "../../scripts/lib/preflight";
import { decryptSecretsStatement } from "../../constructs/security/kms-key";
import { ExternalSecretsOperator, NamespaceSecrets, SECRETS_READER_SERVICE_ACCOUNT, secretArnPattern } from "../../constructs/secrets/external-secrets";
import { planRunnerStatements } from "../../stacks/cluster-stack";
import { syncedSecrets } from "../../stacks/post-install-stack";
import { PlatformStack } from "../../stacks/platform-stack";
import { environment, parsePolicy, rejection, resourcesOf, synthShipped, type Shipped } from "../support/synth";

const SHIPPED: Shipped[] = ["local", "prod", "staging"];
const first = <T>(v: T | T[]): T => (Array.isArray(v) ? v[0] : v);
/** IAM's wildcard match (`*` any run, `?` one character). */
const iamMatches = (pattern: string, arn: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(arn);
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: any;
}

/** Every object the stack's Helm releases of the in-repo manifests chart apply. */
function manifestsOf(stack: any): { release: string; release_body: any; objects: Manifest[] }[] {
  return Object.entries<any>(stack.resource?.helm_release ?? {})
    .map(([id, r]) => ({ release: id, release_body: r, objects: ((load(r.values?.[0] ?? "") as any)?.manifests ?? []) as Manifest[] }))
    .filter((r) => r.objects.length);
}

/** The inline-policy statements of a role, by the role's Terraform id. */
function statementsOf(stack: any, roleId: string): any[] {
  return Object.values<any>(stack.resource?.aws_iam_role_policy ?? {})
    .filter((p) => p.role === `\${aws_iam_role.${roleId}.id}` || p.role === `\${aws_iam_role.${roleId}.name}`)
    .flatMap((p) => parsePolicy(p.policy).Statement);
}

/** Every secretsmanager:GetSecretValue Allow of every role in the stack: role id -> resource patterns. */
function secretReaders(stack: any): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of Object.keys(stack.resource?.aws_iam_role ?? {})) {
    const patterns = statementsOf(stack, id)
      .filter((s) => s.Effect === "Allow" && asList<string>(s.Action).some((a) => iamMatches(a, "secretsmanager:GetSecretValue")))
      .flatMap((s) => asList<string>(s.Resource));
    if (patterns.length) out.set(id, patterns);
  }
  return out;
}

describe("secrets out of Terraform state", () => {
  it.each(SHIPPED)("%s: no Kubernetes-phase stack reads a secret value (data.aws_secretsmanager_secret_version)", (which) => {
    const { stacks, json } = synthShipped(which);
    const kubernetesPhase = [stacks.postInstall, ...stacks.workloadApps].map((s) => s.node.id);
    expect(kubernetesPhase.length).toBeGreaterThan(0);
    for (const name of kubernetesPhase) {
      expect({ name, reads: Object.keys(json[name].data?.aws_secretsmanager_secret_version ?? {}) }).toEqual({ name, reads: [] });
      // Nor a kubernetes_secret_v1 fed from one (a Secret written by Terraform from a secret value).
      expect(JSON.stringify(json[name])).not.toMatch(/aws_secretsmanager_secret_version/);
    }
  });

  it.each(SHIPPED)("%s: each ExternalSecret's remote key is allowed by exactly its namespace's role, and nothing broader", (which) => {
    const { json } = synthShipped(which);
    const env = environment(which);
    let externalSecrets = 0;
    for (const [stackName, stack] of Object.entries<any>(json)) {
      const readers = secretReaders(stack);
      const releases = manifestsOf(stack);
      const objects = releases.flatMap((r) => r.objects);
      const serviceAccounts = resourcesOf(stack, "kubernetes_service_account_v1").map((sa) => first(sa.metadata));
      const roles = stack.resource?.aws_iam_role ?? {};
      // namespace -> the remote keys its ExternalSecrets read
      const keysOf = new Map<string, Set<string>>();
      for (const es of objects.filter((o) => o.kind === "ExternalSecret")) {
        externalSecrets++;
        const ns = es.metadata.namespace;
        for (const d of es.spec.data) keysOf.set(ns, new Set([...(keysOf.get(ns) ?? []), d.remoteRef.key]));
      }
      // A role of the stack that may read a key (by a real ARN of it) is the reader of a namespace that syncs it.
      const readerRoleOf = new Map<string, string>();
      for (const [ns, keys] of keysOf) {
        const store = objects.find((o) => o.kind === "SecretStore" && o.metadata.namespace === ns)!;
        expect(store).toBeDefined();
        expect(store.spec.provider.aws).toMatchObject({ service: "SecretsManager", region: env.region, auth: { jwt: { serviceAccountRef: { name: SECRETS_READER_SERVICE_ACCOUNT } } } });
        for (const es of objects.filter((o) => o.kind === "ExternalSecret" && o.metadata.namespace === ns)) {
          expect(es.spec.secretStoreRef).toEqual({ kind: "SecretStore", name: store.metadata.name });
        }
        const sa = serviceAccounts.find((m) => m.name === SECRETS_READER_SERVICE_ACCOUNT && m.namespace === ns)!;
        expect(sa).toBeDefined();
        const roleId = /^\$\{aws_iam_role\.([^.]+)\.arn\}$/.exec(sa.annotations["eks.amazonaws.com/role-arn"])![1];
        readerRoleOf.set(ns, roleId);
        // Trusted by that ServiceAccount alone.
        const trust = parsePolicy(roles[roleId].assume_role_policy).Statement[0];
        expect(Object.entries(trust.Condition.StringEquals).find(([k]) => k.endsWith(":sub"))![1]).toBe(`system:serviceaccount:${ns}:${SECRETS_READER_SERVICE_ACCOUNT}`);
        // Its secretsmanager permission is GetSecretValue on exactly this namespace's keys.
        const statements = statementsOf(stack, roleId);
        const sm = statements.filter((s) => asList<string>(s.Action).some((a) => a.startsWith("secretsmanager:")));
        expect(sm).toHaveLength(1);
        expect(sm[0]).toMatchObject({ Effect: "Allow", Action: "secretsmanager:GetSecretValue" });
        expect(asList<string>(sm[0].Resource).sort()).toEqual([...keys].map((k) => secretArnPattern(env.region, env.accountId, k)).sort());
        // And decrypts with the environment's secrets key, through Secrets Manager only.
        expect(statements.filter((s) => !sm.includes(s))).toEqual([decryptSecretsStatement({ region: env.region, accountId: env.accountId, keyAlias: secretsKeyAlias(env) })]);
      }
      for (const [ns, keys] of keysOf) {
        for (const key of keys) {
          const arn = `arn:aws:secretsmanager:${env.region}:${env.accountId}:secret:${key}-AbC123`;
          const allowedBy = [...readers].filter(([, patterns]) => patterns.some((p) => iamMatches(p, arn))).map(([id]) => id).sort();
          const syncers = [...keysOf].filter(([, k]) => k.has(key)).map(([n]) => readerRoleOf.get(n)!).sort();
          expect({ stackName, key, allowedBy }).toEqual({ stackName, key, allowedBy: syncers });
          expect(allowedBy).toContain(readerRoleOf.get(ns));
          // Not a secret whose name merely starts with it, nor another account's or region's.
          for (const other of [`${key}-old-AbC123`, `${key}x-AbC123`, `${key}-AbC1234`]) {
            const otherArn = `arn:aws:secretsmanager:${env.region}:${env.accountId}:secret:${other}`;
            expect({ other, allowed: readers.get(readerRoleOf.get(ns)!)!.some((p) => iamMatches(p, otherArn)) }).toEqual({ other, allowed: false });
          }
          expect(readers.get(readerRoleOf.get(ns)!)!.some((p) => iamMatches(p, arn.replace(env.accountId, "999999999999")))).toBe(false);
        }
      }
    }
    expect(externalSecrets).toBeGreaterThan(0);
  });

  it.each(SHIPPED)("%s: the synced secrets are exactly the apps' Secrets, and the preflight checks each is filled", (which) => {
    const { json } = synthShipped(which);
    const env = environment(which);
    const stack = json[`${env.name}-post-install`];
    const declared = syncedSecrets(env);
    const applied = manifestsOf(stack).flatMap((r) => r.objects).filter((o) => o.kind === "ExternalSecret");
    const want = Object.entries(declared).flatMap(([ns, secrets]) => secrets.map((s) => `${ns}/${s.name}`)).sort();
    expect(applied.map((o) => `${o.metadata.namespace}/${o.spec.target.name}`).sort()).toEqual(want);
    for (const es of applied) {
      expect(es.spec.refreshInterval).toBe(env.secrets.refreshInterval);
      expect(es.spec.target).toMatchObject({ creationPolicy: "Owner", deletionPolicy: "Retain" });
    }
    const names = [env.alerts.webhookSecretName, env.secrets.grafanaAdmin, ...(env.alerts.pager ? [env.alerts.pager.secretName] : []), ...(env.auth.enabled ? [env.auth.oidc!.clientSecretName!] : [])];
    expect(secretsSyncedBy(stack)).toEqual([...new Set(names)].sort());
    // The plan runner no longer needs any of them.
    const planner = JSON.stringify(planRunnerStatements(env));
    for (const n of names) expect(planner).not.toContain(`secret:${n}-`);
  });

  it("orders the objects after the operator (their CRDs and webhook) and each app after its namespace's objects", () => {
    const { json } = synthShipped("prod");
    const stack = json["prod-post-install"];
    const all = Object.entries<any>(stack.resource.helm_release);
    const [esoId, eso] = all.find(([, r]) => r.chart === "external-secrets")!;
    expect(eso).toMatchObject({ namespace: "external-secrets", repository: "https://charts.external-secrets.io", version: "2.9.0" });
    const idOf = (ns: string) => all.find(([, r]) => r.name === "external-secrets-objects" && r.namespace === ns)![0];
    for (const ns of ["monitoring", "logging", "dashboard"]) expect(all.find(([id]) => id === idOf(ns))![1].depends_on).toContain(`helm_release.${esoId}`);
    const wants = (name: string, ns: string) => expect(all.find(([, r]) => r.name === name)![1].depends_on).toContain(`helm_release.${idOf(ns)}`);
    wants("kps", "monitoring");
    wants("grafana", "monitoring");
    wants("headlamp", "dashboard");
    // Its ServiceMonitor waits for the Prometheus operator (its CRD), which waits for the secrets.
    const [kpsId] = all.find(([, r]) => r.name === "kps")!;
    expect(all.find(([, r]) => r.name === "external-secrets-monitoring")![1].depends_on).toEqual(expect.arrayContaining([`helm_release.${esoId}`, `helm_release.${kpsId}`]));
    // The operator's namespace runs restricted.
    const ns = resourcesOf(stack, "kubernetes_namespace_v1").map((n) => first(n.metadata)).find((m) => m.name === "external-secrets");
    expect(ns.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("lets the operator mint a token for each namespace's reader only (no cluster-wide token creation)", () => {
    const { json } = synthShipped("prod");
    const stack = json["prod-post-install"];
    const values: any = load(Object.values<any>(stack.resource.helm_release).find((r) => r.chart === "external-secrets").values[0]);
    expect(values.rbac.serviceAccountTokenCreate).toBe(false);
    expect(values).toMatchObject({ processClusterStore: false, processClusterExternalSecret: false, processPushSecret: false, processClusterPushSecret: false });
    for (const c of [values, values.webhook, values.certController]) expect(c.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    // A port the node security group admits from the control plane (443, 10250).
    expect(values.webhook.port).toBe(10250);
    const roles = resourcesOf(stack, "kubernetes_role_v1").filter((r) => first(r.metadata).name === "external-secrets-token");
    expect(roles.map((r) => first(r.metadata).namespace).sort()).toEqual(["dashboard", "logging", "monitoring"]);
    for (const r of roles) expect(asList(r.rule)).toEqual([{ api_groups: [""], resources: ["serviceaccounts/token"], resource_names: [SECRETS_READER_SERVICE_ACCOUNT], verbs: ["create"] }]);
    const bindings = resourcesOf(stack, "kubernetes_role_binding_v1").filter((r) => first(r.metadata).name === "external-secrets-token");
    for (const b of bindings) expect(asList(b.subject)).toEqual([{ kind: "ServiceAccount", name: "external-secrets", namespace: "external-secrets" }]);
  });

  it("refuses a secret named by ARN or wildcard, a duplicate Secret, and a bad key, with a sentence", () => {
    const make = (secrets: any[]) => () => {
      const app = Testing.app();
      const stack = new (class extends PlatformStack {})(app, "t", { env: environment("local") });
      const operator = new ExternalSecretsOperator(stack, "eso", { version: "2.9.0", namespace: "external-secrets" });
      new NamespaceSecrets(stack, "s", { operator, namespace: "monitoring", roleName: "t-secrets", oidc: { providerArn: "arn:aws:iam::1:oidc-provider/x", issuerUrl: "https://x" }, region: "us-east-1", accountId: "1", secretsKeyAlias: "t-secrets", refreshInterval: "1h", secrets });
    };
    expect(make([{ name: "a", data: { url: { secretName: "arn:aws:secretsmanager:us-east-1:1:secret:x" } } }])).toThrow(/must name one Secrets Manager secret by name \(no ARN, no wildcard\)/);
    expect(make([{ name: "a", data: { url: { secretName: "prod/*" } } }])).toThrow(/no ARN, no wildcard/);
    expect(make([{ name: "a", data: { url: { secretName: "x" } } }, { name: "a", data: { url: { secretName: "y" } } }])).toThrow(/Secret "a" is declared twice/);
    expect(make([{ name: "a", data: { "bad key": { secretName: "x" } } }])).toThrow(/"bad key" of Secret "a" is not a valid Secret key/);
    expect(make([])).toThrow(/no secrets to sync/);
  });

  it("refuses a refresh interval that is not a duration, or zero", () => {
    expect(rejection((raw) => (raw.secrets.refreshInterval = "hourly"))).toMatch(/secrets\.refreshInterval: expected a duration such as "1h"/);
    expect(rejection((raw) => (raw.secrets.refreshInterval = "0s"))).toMatch(/refresh interval of 0 syncs once/);
    expect(environment("prod", (raw) => (raw.secrets.refreshInterval = "15m")).secrets.refreshInterval).toBe("15m");
  });
});
