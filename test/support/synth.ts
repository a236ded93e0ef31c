/** Test helpers: build environments from plain objects and synthesize their stacks once. */
import { Testing } from "cdktf";
import { EnvironmentError, parseEnvironment } from "../../config/load";
import type { Environment, EnvironmentInput } from "../../config/schema";
import localEnvironment from "../../environments/local/environment";
import prodEnvironment from "../../environments/prod/environment";
import stagingEnvironment from "../../environments/staging/environment";
import { buildEnvironment, type EnvironmentStacks } from "../../stacks";

/** The environments that ship in environments/. */
export type Shipped = "local" | "prod" | "staging";
const SHIPPED = { local: localEnvironment, prod: prodEnvironment, staging: stagingEnvironment };

/** A deep copy of a shipped environment, to change in a test without leaking into others. */
export function rawEnvironment(which: Shipped): EnvironmentInput & Record<string, unknown> {
  return structuredClone(SHIPPED[which]) as EnvironmentInput & Record<string, unknown>;
}

export function environment(which: Shipped, change?: (raw: EnvironmentInput & Record<string, unknown>) => void, name: string = which): Environment {
  const raw = rawEnvironment(which);
  change?.(raw);
  return parseEnvironment(name, raw, `environments/${name}/environment.ts`);
}

export interface Synthesized {
  stacks: EnvironmentStacks;
  /** Synthesized JSON text per stack name (what cdktf's matchers take). */
  text: Record<string, string>;
  /** Parsed JSON per stack name. */
  json: Record<string, any>;
}

export function synthEnvironment(env: Environment): Synthesized {
  const app = Testing.app();
  const stacks = buildEnvironment(app, env);
  const text: Record<string, string> = {};
  const json: Record<string, any> = {};
  for (const stack of stacks.ordered) {
    text[stack.node.id] = Testing.synth(stack);
    json[stack.node.id] = JSON.parse(text[stack.node.id]);
  }
  return { stacks, text, json };
}

const shipped = new Map<string, Synthesized>();
/** The unchanged shipped environment, synthesized once per test file (tests only read it). */
export function synthShipped(which: Shipped): Synthesized {
  if (!shipped.has(which)) shipped.set(which, synthEnvironment(environment(which)));
  return shipped.get(which)!;
}

/** All resources of one type in a parsed stack, as a list of bodies. */
export function resourcesOf(stack: any, type: string): any[] {
  return Object.values(stack.resource?.[type] ?? {});
}
export function dataOf(stack: any, type: string): any[] {
  return Object.values(stack.data?.[type] ?? {});
}

/**
 * Parses a synthesized policy document. Terraform interpolations inside it may contain quotes
 * (`${replace(x, "https://", "")}`), valid for Terraform but not for JSON.parse: escape them first.
 */
export function parsePolicy(text: string): any {
  let out = "";
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.startsWith("${", i)) depth++;
    else if (text[i] === "}" && depth > 0) depth--;
    out += depth > 0 && text[i] === '"' ? '\\"' : text[i];
  }
  return JSON.parse(out);
}

/** The message with which a changed copy of a shipped environment is refused (fails if it is accepted). */
export function rejection(change: (raw: any) => void, which: Shipped = "prod"): string {
  try {
    environment(which, change);
  } catch (err) {
    if (!(err instanceof EnvironmentError)) throw err;
    return err.message;
  }
  throw new Error("expected the environment to be refused, but it was accepted");
}
