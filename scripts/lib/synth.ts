/** Synthesizes environments in-process (no CLI start-up cost) and reads the stacks back. */
import { App, TerraformStack } from "cdktf";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadEnvironments } from "../../config/load";
import type { Environment } from "../../config/schema";
import { buildEnvironment } from "../../stacks";
import type { TfJson } from "./tf-json";

export interface SynthesizedStack {
  name: string;
  env: Environment;
  /** Position in the environment's deployment order (0 = bootstrap). */
  order: number;
  /** cdktf.out/stacks/<name> */
  dir: string;
  json: TfJson;
}

/**
 * cdktf's own cross-stack pass (the one the app skips, stacks/platform-stack.ts), run only to
 * refuse what it finds: a reference from one stack to another's resource. Without the pass such a
 * reference would be written as a plain `${type.name.attr}`, and stacks share logical ids (every
 * cluster stack has `aws_vpc.network_vpc_…`), so it could name the wrong stack's own resource and
 * still validate. Runs in every in-process synthesis: make validate (npm test), make all/diff.
 */
export function refuseCrossStackReferences(app: App, stacks: TerraformStack[]): void {
  const found: string[] = [];
  const original = app.crossStackReference.bind(app);
  app.crossStackReference = (fromStack: TerraformStack, toStack: TerraformStack, identifier: string) => {
    found.push(`${toStack.node.id} refers to ${identifier} of ${fromStack.node.id}`);
    return identifier;
  };
  try {
    for (const stack of stacks) TerraformStack.prototype.prepareStack.call(stack);
  } finally {
    app.crossStackReference = original;
  }
  if (found.length) {
    throw new Error(
      `${found.length} reference(s) cross from one stack to another:\n${[...new Set(found)].map((f) => `  - ${f}`).join("\n")}\n` +
        "Stacks here never reference each other (each plans on its own): find the other stack's resource with a data source, by its derived name or tag (config/names.ts).",
    );
  }
}

export function synthesize(options: { outdir: string; only?: string; root?: string }): SynthesizedStack[] {
  return synthesizeEnvironments(loadEnvironments({ only: options.only, root: options.root }), options.outdir);
}

/** Synthesizes environments already loaded (or derived from loaded ones, as upgrade-check does). */
export function synthesizeEnvironments(envs: Environment[], outdir: string): SynthesizedStack[] {
  const options = { outdir };
  const app = new App({ outdir: options.outdir });
  const built = envs.map((env) => ({ env, stacks: buildEnvironment(app, env).ordered }));
  refuseCrossStackReferences(app, built.flatMap((b) => b.stacks));
  const plan = built.flatMap(({ env, stacks }) => stacks.map((stack, order) => ({ env, order, name: stack.node.id })));
  app.synth();
  return plan.map((p) => {
    const dir = join(options.outdir, "stacks", p.name);
    return { ...p, dir, json: JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")) as TfJson };
  });
}
