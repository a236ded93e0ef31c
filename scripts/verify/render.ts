/**
 * `make render`: every `helm_release` of every stack rendered by real Helm 3 (`helm template`),
 * with the values the hashicorp/helm provider would pass: the `values` documents in order, then
 * `set` and `set_sensitive`. Terraform interpolations (`${aws_iam_role.x.arn}`) become typed
 * placeholders first. Pinned charts come from their sources in ../shared/charts, the project's
 * own charts from the stack's assets (or constructs/helm). `--kube-version` is the stack's
 * cluster minor, and the API versions of the pinned charts' CRDs are declared served (a cluster
 * where those charts are installed serves them).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { dump, loadAll } from "js-yaml";
import type { Environment } from "../../config/schema";
import { HELM_CHARTS, type HelmApp } from "../../config/versions";
import { CRD_CHARTS_DIR } from "../../constructs/helm/addon";
import { MANIFESTS_CHART_DIR } from "../../constructs/helm/manifests-release";
import { pinnedChartDir, pinnedCrds } from "./charts";
import { helmBinary } from "./helm";

/** A Kubernetes object as rendered (or converted from a `kubernetes_*` resource). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } & Record<string, unknown>;
  [field: string]: any;
}

/** A synthesized stack as the Kubernetes checks read it. */
export interface KubeStack {
  name: string;
  environment: string;
  /** Cluster minor of the stack (`1.33`). */
  minor: string;
  json: { resource?: Record<string, Record<string, any>> } & Record<string, unknown>;
  /** cdktf.out/stacks/<name>, where the stack's chart assets are (absent for Testing.synth output). */
  dir?: string;
}

export interface RenderedRelease {
  stack: string;
  environment: string;
  minor: string;
  /** Helm release name. */
  release: string;
  /** Terraform address, `helm_release.<name>`. */
  address: string;
  namespace: string;
  /** `kube-prometheus-stack 88.5.3`, or `local chart <dir>`. */
  chart: string;
  objects: KubeObject[];
}

/** The cluster minor a stack deploys to: its workload's version, or the environment's. */
export function clusterMinor(env: Environment, stackName: string): string {
  const workload = env.workloads?.find((w) => stackName === `${env.name}-workload-${w.name}-apps` || stackName === `${env.name}-workload-${w.name}`);
  return workload?.kubernetesVersion ?? env.cluster.kubernetesVersion;
}

/** A plausible value of the right type for a Terraform reference, chosen by the attribute it reads. */
export function placeholderFor(reference: string): string {
  const attr = reference.replace(/^\$\{|\}$/g, "").split(".").pop() ?? "";
  if (/arn$/.test(attr)) return "arn:aws:iam::123456789012:role/placeholder";
  if (/(^|_)(port|count|number|size|seconds)$/.test(attr)) return "1234";
  if (/^(enabled|enable)$/.test(attr)) return "true";
  if (/(endpoint|dns_name|hostname|fqdn|address)$/.test(attr)) return "placeholder.example.internal";
  if (/(^|_)url$/.test(attr)) return "https://placeholder.example.internal";
  if (/(^|_)(id|vpc_id)$/.test(attr)) return "vpc-0123456789abcdef0";
  return "placeholder";
}

/** Replaces every `${...}` Terraform interpolation (nested braces included) in a string. */
export function withPlaceholders(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; ) {
    if (text.startsWith("${", i)) {
      let depth = 0;
      let j = i;
      for (; j < text.length; j++) {
        if (text[j] === "{") depth++;
        else if (text[j] === "}" && --depth === 0) break;
      }
      out += placeholderFor(text.slice(i, j + 1));
      i = j + 1;
    } else out += text[i++];
  }
  return out;
}

interface HelmCall {
  release: Omit<RenderedRelease, "objects">;
  args: string[];
  files: Record<string, string>;
}

function chartDirOf(body: any, stack: KubeStack): { dir: string; label: string } {
  if (body.repository) {
    const pin = Object.values(HELM_CHARTS).find((c) => c.chart === body.chart);
    if (!pin) throw new Error(`${stack.name} helm_release ${body.name}: chart ${body.chart} is not pinned in config/versions.ts`);
    return { dir: pinnedChartDir(pin.chart, body.version), label: `${body.chart} ${body.version}` };
  }
  const asset = stack.dir ? resolve(stack.dir, body.chart) : undefined;
  if (asset && existsSync(join(asset, "Chart.yaml"))) return { dir: asset, label: `local chart ${body.chart}` };
  // Testing.synth writes no assets: a CRD release names its chart in its description, every
  // other in-repo chart is the manifests chart.
  const crds = /^crds of (\S+) /.exec(body.description ?? "")?.[1];
  const app = crds && (Object.keys(HELM_CHARTS) as HelmApp[]).find((a) => HELM_CHARTS[a].chart === crds);
  if (app) return { dir: join(CRD_CHARTS_DIR, app), label: `local chart constructs/helm/crds/${app}` };
  return { dir: MANIFESTS_CHART_DIR, label: "local chart constructs/helm/manifests-chart" };
}

function helmCalls(stack: KubeStack, apiVersions: string[]): HelmCall[] {
  return Object.entries(stack.json.resource?.helm_release ?? {}).map(([id, body]) => {
    const { dir, label } = chartDirOf(body, stack);
    const files: Record<string, string> = {};
    const args = ["template", body.name, dir, "--namespace", body.namespace ?? "default", "--kube-version", `${stack.minor}.0`, "--skip-tests"];
    for (const a of apiVersions) args.push("--api-versions", a);
    (body.values ?? []).forEach((v: string, i: number) => {
      files[`values-${i}.yaml`] = withPlaceholders(v);
      args.push("--values", `values-${i}.yaml`);
    });
    for (const s of [...(body.set ?? []), ...(body.set_sensitive ?? [])]) {
      const flag = s.type === "string" ? "--set-string" : s.type === "literal" ? "--set-literal" : "--set";
      args.push(flag, `${s.name}=${withPlaceholders(String(s.value))}`);
    }
    // CRDs (crds/) are not rendered: the schema check reads them as the schemas of custom resources.
    return {
      release: { stack: stack.name, environment: stack.environment, minor: stack.minor, release: body.name, address: `helm_release.${id}`, namespace: body.namespace ?? "default", chart: label },
      args,
      files,
    };
  });
}

function run(bin: string, args: string[], cwd: string): Promise<string> {
  return new Promise((ok, fail) => {
    execFile(bin, args, { cwd, maxBuffer: 256 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) fail(new Error(stderr.trim() || err.message));
      else ok(stdout);
    });
  });
}

export class RenderError extends Error {}

/** Renders every helm_release of the stacks; fails naming stack and release on a Helm error. */
export async function renderStacks(stacks: KubeStack[], options: { outdir?: string; helm?: string } = {}): Promise<RenderedRelease[]> {
  const bin = options.helm ?? helmBinary();
  const apiVersions = [...new Set([...pinnedCrds().values()].filter((c) => c.served).flatMap((c) => [`${c.group}/${c.version}`, `${c.group}/${c.version}/${c.kind}`]))].sort();
  const calls = stacks.flatMap((s) => helmCalls(s, apiVersions));
  const work = mkdtempSync(join(tmpdir(), "cnc-render-"));
  const results: RenderedRelease[] = new Array(calls.length);
  const errors: string[] = [];
  try {
    let next = 0;
    const worker = async () => {
      while (next < calls.length) {
        const i = next++;
        const call = calls[i];
        const cwd = join(work, String(i));
        mkdirSync(cwd);
        for (const [f, text] of Object.entries(call.files)) writeFileSync(join(cwd, f), text);
        try {
          const out = await run(bin, call.args, cwd);
          // A `kind: List` is applied item by item (Helm and kubectl both do so).
          const objects = (loadAll(out) as KubeObject[])
            .filter((o) => o && typeof o === "object")
            .flatMap((o) => (o.kind === "List" && Array.isArray(o.items) ? (o.items as KubeObject[]) : [o]));
          results[i] = { ...call.release, objects };
        } catch (err) {
          errors.push(`${call.release.stack} ${call.release.address} (release ${call.release.release}, ${call.release.chart}): ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(4, availableParallelism())) }, worker));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (errors.length) throw new RenderError(`helm template failed for ${errors.length} release(s):\n${errors.join("\n")}`);
  if (options.outdir) {
    for (const r of results) {
      const dir = join(options.outdir, r.stack);
      mkdirSync(dir, { recursive: true });
      const taken = results.filter((o) => o.stack === r.stack && o.release === r.release).length > 1;
      writeFileSync(join(dir, `${taken ? `${r.namespace}-` : ""}${r.release}.yaml`), r.objects.map((o) => dump(o, { lineWidth: -1, noRefs: true })).join("---\n"));
    }
  }
  return results;
}
