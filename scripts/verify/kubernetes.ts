/**
 * The Kubernetes half of offline validation, over synthesized stacks: render every helm_release
 * with real Helm, then schema-check every rendered object and every `kubernetes_*` resource, then
 * the Kubernetes policy rules over all of them. Prints one line per stack and every finding.
 */
import type { SynthesizedStack } from "../lib/synth";
import { checkKubePolicy, formatKubeFindings, KUBE_RULES, type ObjectRef } from "./kube-policy";
import { terraformObjects } from "./objects";
import { clusterMinor, renderStacks, type KubeStack, type RenderedRelease } from "./render";
import { notSchemaChecked } from "./charts";
import { checkObject } from "./schema";

export interface KubeReport {
  releases: RenderedRelease[];
  objects: number;
  schemaFindings: string[];
  policyFindings: string[];
  seconds: { render: number; schema: number; policy: number };
}

export function kubeStacks(stacks: SynthesizedStack[]): KubeStack[] {
  return stacks.map((s) => ({ name: s.name, environment: s.env.name, minor: clusterMinor(s.env, s.name), json: s.json as KubeStack["json"], dir: s.dir }));
}

/** Every object of the stacks: rendered ones (with their release) and those of `kubernetes_*` resources. */
export function allObjects(stacks: KubeStack[], releases: RenderedRelease[]): ObjectRef[] {
  return stacks.flatMap((s) => [
    ...releases.filter((r) => r.stack === s.name).flatMap((r) => r.objects.map((object) => ({ stack: s.name, environment: s.environment, minor: s.minor, source: `release ${r.release} (${r.address})`, object, namespace: r.namespace }))),
    ...terraformObjects(s).map((t) => ({ stack: s.name, environment: s.environment, minor: s.minor, source: t.address, object: t.object })),
  ]);
}

export async function verifyKubernetes(synthesized: SynthesizedStack[], options: { outdir?: string; log?: (line: string) => void } = {}): Promise<KubeReport> {
  const log = options.log ?? ((l: string) => console.log(l));
  const stacks = kubeStacks(synthesized).filter((s) => Object.keys(s.json.resource ?? {}).some((t) => t === "helm_release" || t.startsWith("kubernetes_")));
  let t = Date.now();
  const releases = await renderStacks(stacks, { outdir: options.outdir });
  const render = (Date.now() - t) / 1000;
  t = Date.now();
  const objects = allObjects(stacks, releases);
  const schemaFindings: string[] = [];
  const unchecked = new Map<string, number>();
  for (const o of objects) {
    for (const f of checkObject(o.object, o.minor)) schemaFindings.push(`${o.stack} ${o.source}: ${f.object}: ${f.field}: ${f.message}`);
    const why = notSchemaChecked(o.object);
    if (why) unchecked.set(`${o.object.apiVersion} ${o.object.kind} (${why})`, (unchecked.get(`${o.object.apiVersion} ${o.object.kind} (${why})`) ?? 0) + 1);
  }
  const schema = (Date.now() - t) / 1000;
  t = Date.now();
  const policy = checkKubePolicy(objects);
  const policyFindings = formatKubeFindings(policy);
  const policySeconds = (Date.now() - t) / 1000;
  for (const s of stacks) {
    const mine = releases.filter((r) => r.stack === s.name);
    const count = objects.filter((o) => o.stack === s.name).length;
    const bad = schemaFindings.filter((f) => f.startsWith(`${s.name} `)).length + policy.filter((f) => f.stack === s.name).length;
    log(`${bad ? "FAIL" : "ok  "} ${s.name} (Kubernetes ${s.minor}): ${mine.length} releases rendered, ${count} objects schema- and policy-checked, ${bad} finding(s)`);
  }
  for (const [what, n] of unchecked) log(`     not schema-checked: ${n} object(s) ${what}`);
  if (schemaFindings.length) log(`schema findings (fix the values or the resource; each names stack, release, object and field):\n  ${schemaFindings.join("\n  ")}`);
  if (policyFindings.length) log(`Kubernetes policy findings:\n  ${policyFindings.join("\n  ")}`);
  log(
    `${schemaFindings.length + policy.length ? "FAIL" : "ok  "} Kubernetes: ${releases.length} releases rendered with Helm, ${objects.length} objects; ` +
      `${schemaFindings.length} schema finding(s), ${policy.length} policy finding(s) (${KUBE_RULES.length} rules); ` +
      `render ${render.toFixed(1)} s, schema ${schema.toFixed(1)} s, policy ${policySeconds.toFixed(1)} s`,
  );
  return { releases, objects: objects.length, schemaFindings, policyFindings, seconds: { render, schema, policy: policySeconds } };
}
