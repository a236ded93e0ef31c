/** Synthesizes environments in-process (no CLI start-up cost) and reads the stacks back. */
import { App } from "cdktf";
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

export function synthesize(options: { outdir: string; only?: string; root?: string }): SynthesizedStack[] {
  const envs = loadEnvironments({ only: options.only, root: options.root });
  const app = new App({ outdir: options.outdir });
  const plan = envs.flatMap((env) => buildEnvironment(app, env).ordered.map((stack, order) => ({ env, order, name: stack.node.id })));
  app.synth();
  return plan.map((p) => {
    const dir = join(options.outdir, "stacks", p.name);
    return { ...p, dir, json: JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")) as TfJson };
  });
}
