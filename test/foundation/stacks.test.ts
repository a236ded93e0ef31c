import { Testing, TerraformStack } from "cdktf";
import { MissingBundleError } from "../../constructs/bundle";
import { StoreDiscoveryCronJob } from "../../constructs/discovery/store-discovery";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { deploySequence, destroySequence } from "../../scripts/lib/sequence";
import { rejection, resourcesOf, type Synthesized, synthShipped } from "../support/synth";

describe("stacks of an environment", () => {
  let prod: Synthesized;
  let local: Synthesized;
  beforeAll(() => {
    prod = synthShipped("prod");
    local = synthShipped("local");
  });

  it("are named <env>-<layer>, <env>-workload-<name> and its -apps phase, in deployment order", () => {
    expect(prod.stacks.ordered.map((s) => s.node.id)).toEqual([
      "prod-bootstrap",
      "prod-cluster",
      "prod-post-install",
      "prod-workload-alpha",
      "prod-workload-alpha-apps",
      "prod-workload-beta",
      "prod-workload-beta-apps",
      "prod-route53",
    ]);
  });

  it("never configure kubernetes/helm providers in a stack that creates a cluster, and authenticate them by exec", () => {
    for (const [name, stack] of Object.entries(prod.json) as [string, any][]) {
      const createsCluster = !!stack.resource?.aws_eks_cluster;
      const k8s = stack.provider?.kubernetes?.[0];
      const helm = stack.provider?.helm?.[0];
      if (createsCluster) {
        expect({ name, k8s, helm }).toEqual({ name, k8s: undefined, helm: undefined });
        continue;
      }
      if (!k8s) continue;
      // kubernetes 2.38: exec is a list of blocks; helm 3.1: kubernetes and its exec are objects.
      expect(Array.isArray(k8s.exec)).toBe(true);
      expect(Array.isArray(helm.kubernetes) || Array.isArray(helm.kubernetes.exec)).toBe(false);
      for (const [cfg, exec] of [[k8s, k8s.exec[0]], [helm.kubernetes, helm.kubernetes.exec]]) {
        expect(cfg.token).toBeUndefined();
        expect(exec).toMatchObject({ api_version: "client.authentication.k8s.io/v1beta1", command: "aws" });
        expect(exec.args.slice(0, 3)).toEqual(["eks", "get-token", "--cluster-name"]);
      }
      expect(stack.data?.aws_eks_cluster_auth).toBeUndefined();
    }
  });

  it("keep real-AWS state in S3, one key per stack (bootstrap's too, in the bucket it creates), encrypted, with S3-native locking", () => {
    for (const name of ["prod-bootstrap", "prod-cluster", "prod-post-install", "prod-route53", "prod-workload-alpha"]) {
      const backend = prod.json[name].terraform.backend;
      expect(Object.keys(backend)).toEqual(["s3"]);
      expect(backend.s3).toMatchObject({
        bucket: "cloud-prod-tfstate-111111111111",
        key: `prod/${name}.tfstate`,
        region: "us-east-1",
        encrypt: true,
        kms_key_id: "arn:aws:kms:us-east-1:111111111111:alias/prod-terraform-state",
        use_lockfile: true,
      });
      expect(backend.s3.dynamodb_table).toBeUndefined();
    }
    const keys = Object.values(prod.json).map((j: any) => j.terraform.backend.s3?.key).filter(Boolean);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("keep every emulator stack's state locally, bootstrap's included", () => {
    expect(local.json["local-bootstrap"].terraform.backend).toEqual({ local: { path: "../../../.state/local/local-bootstrap.tfstate" } });
    for (const [name, json] of Object.entries(local.json)) {
      expect(json.terraform.backend).toEqual({ local: { path: `../../../.state/local/${name}.tfstate` } });
    }
  });

  it("pin real environments to their account and tag everything", () => {
    const provider = prod.json["prod-cluster"].provider.aws[0];
    expect(provider.allowed_account_ids).toEqual(["111111111111"]);
    expect(provider.default_tags[0].tags).toMatchObject({ Environment: "prod", Stack: "prod-cluster" });
    expect(provider.skip_credentials_validation).toBeUndefined();
    const emulated = local.json["local-cluster"].provider.aws[0];
    expect(emulated).toMatchObject({ skip_credentials_validation: true, skip_requesting_account_id: true, s3_use_path_style: true });
  });

  it("pins the AWS provider to the version in the offline mirror", () => {
    expect(prod.json["prod-cluster"].terraform.required_providers.aws).toEqual({ source: "aws", version: "5.100.0" });
  });
});

describe("bootstrap: the state bucket", () => {
  let stack: any;
  let text: string;
  beforeAll(() => {
    const s = synthShipped("prod");
    stack = s.json["prod-bootstrap"];
    text = s.text["prod-bootstrap"];
  });

  it("is versioned, KMS-encrypted with a rotating key, and blocks all public access", () => {
    expect(text).toHaveResourceWithProperties(S3Bucket, { bucket: "cloud-prod-tfstate-111111111111", force_destroy: false });
    // The bucket it creates is the one its own state moves into after the first apply.
    expect(stack.terraform.backend.s3.bucket).toBe("cloud-prod-tfstate-111111111111");
    expect(resourcesOf(stack, "aws_s3_bucket_versioning")[0].versioning_configuration.status).toBe("Enabled");
    const stateSse = resourcesOf(stack, "aws_s3_bucket_server_side_encryption_configuration").find((e) => e.bucket.includes("state-bucket"));
    const sse = stateSse.rule[0];
    expect(sse.apply_server_side_encryption_by_default.sse_algorithm).toBe("aws:kms");
    expect(sse.apply_server_side_encryption_by_default.kms_master_key_id).toMatch(/^\$\{aws_kms_key\..+\.arn\}$/);
    expect(resourcesOf(stack, "aws_kms_key").every((k) => k.enable_key_rotation === true)).toBe(true);
    expect(resourcesOf(stack, "aws_s3_bucket_public_access_block")[0]).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
  });

  it("refuses every request that is not made over TLS", () => {
    const policy = JSON.parse(resourcesOf(stack, "aws_s3_bucket_policy")[0].policy);
    const deny = policy.Statement.find((s: any) => s.Effect === "Deny");
    expect(deny).toMatchObject({ Principal: "*", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(deny.Resource).toHaveLength(2);
  });
});

describe("a missing service bundle", () => {
  it("stops synth with one sentence saying to run make bundle, not a stack trace", () => {
    const build = () =>
      new StoreDiscoveryCronJob(new TerraformStack(Testing.app(), "t"), "sd", {
        namespace: "monitoring",
        environment: "t",
        region: "us-east-1",
        zoneId: "Z1",
        oidc: { providerArn: "arn:aws:iam::123456789012:oidc-provider/x", issuerUrl: "https://x" },
        rolePrefix: "t",
        queryDeployment: "q",
        configMapName: "c",
        configMapKey: "k",
        webhookSecret: { name: "w", key: "url" },
        bundlePath: "/nonexistent/main.js.gz",
      });
    expect(build).toThrow(MissingBundleError);
    expect(build).toThrow("The store-discovery CronJob bundle is missing (/nonexistent/main.js.gz). Run `make bundle` (or `npm run build`), then synthesize again; stacks never bundle code themselves.");
  });
});

describe("the order make all applies and make destroy removes", () => {
  const names = ["prod-bootstrap", "prod-cluster", "prod-post-install", "prod-workload-alpha", "prod-workload-alpha-apps", "prod-workload-beta", "prod-workload-beta-apps", "prod-route53"];
  const stacks = names.map((name, order) => ({ name, order }));
  const ids = (s: { name: string }[]) => s.map((x) => x.name);

  it("applies the C&C layers in order, each workload's AWS phase before its apps, and route53 last", () => {
    const seq = deploySequence("prod", [...stacks].reverse());
    expect(ids(seq.first)).toEqual(["prod-bootstrap", "prod-cluster", "prod-post-install"]);
    expect(seq.chains.map(ids)).toEqual([
      ["prod-workload-beta", "prod-workload-beta-apps"],
      ["prod-workload-alpha", "prod-workload-alpha-apps"],
    ]);
    expect(ids(seq.last)).toEqual(["prod-route53"]);
  });

  it("destroys in reverse: route53 first, each chain apps-first, then the C&C layers backwards", () => {
    const seq = destroySequence("prod", stacks);
    expect(ids(seq.first)).toEqual(["prod-route53"]);
    expect(seq.chains.map(ids)).toEqual([
      ["prod-workload-alpha-apps", "prod-workload-alpha"],
      ["prod-workload-beta-apps", "prod-workload-beta"],
    ]);
    expect(ids(seq.last)).toEqual(["prod-post-install", "prod-cluster", "prod-bootstrap"]);
  });

  it("matches the synthesized order of the shipped environment", () => {
    const synthesized = synthShipped("prod").stacks.ordered.map((s, order) => ({ name: s.node.id, order }));
    const seq = deploySequence("prod", synthesized);
    expect([...ids(seq.first), ...seq.chains.flatMap(ids), ...ids(seq.last)]).toEqual(synthesized.map((s) => s.name));
  });
});

describe("installation names", () => {
  it("are unique across workloads and never a public app's name", () => {
    const inst = (name: string, dns: string) => ({ name, dns, size: "1000users", version: "10.11.2" });
    expect(
      rejection((e) => {
        e.workloads[0].installations = [inst("acme", "acme.cloud.example.com")];
        e.workloads[1].installations = [inst("acme2", "acme.cloud.example.com")];
      }),
    ).toMatch(/workloads\[1\]\.installations\[0\]\.dns: acme\.cloud\.example\.com is already the name of installation acme of alpha/);
    expect(rejection((e) => (e.workloads[0].installations = [inst("grafana", "grafana.cloud.example.com")]))).toMatch(/is already the name of the public app grafana/);
  });
});
