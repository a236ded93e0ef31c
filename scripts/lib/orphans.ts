/**
 * State left for stacks an environment no longer declares: a workload removed from
 * environments/<env> without `make decommission` leaves its two stacks running and billing, with
 * their state still in the state bucket (or, on the emulator, in .state/<env>/). `make validate`
 * warns about each such state that still holds resources, where it can see the state.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface StoredState {
  stack: string;
  /** Managed resource instances the state holds. */
  resources: number;
}

/** Where an environment's state lives, listed with the resources each stack's state holds. */
export interface StateStore {
  /** "s3://bucket/env/" or ".state/env/", for messages. */
  where: string;
  list(): Promise<StoredState[]>;
}

function countResources(text: string): number {
  const state = JSON.parse(text) as { resources?: { mode: string; instances?: unknown[] }[] };
  return (state.resources ?? []).filter((r) => r.mode === "managed").reduce((n, r) => n + (r.instances?.length ?? 0), 0);
}

/**
 * State files on disk: `<dir>/<stack>.tfstate` (the emulator's). A real environment's states are
 * all in its bucket, bootstrap's included; a bootstrap state moved there stays on disk only as
 * `<stack>.tfstate.migrated-<time>`, which is not a live state and is not listed.
 */
export function localStateStore(dir: string, shown: string): StateStore {
  return {
    where: shown,
    list: async () =>
      existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith(".tfstate"))
            .map((f) => ({ stack: f.slice(0, -".tfstate".length), resources: countResources(readFileSync(join(dir, f), "utf8")) }))
        : [],
  };
}

/** The state bucket: one object `<env>/<stack>.tfstate` per stack (stacks/platform-stack.ts). */
export function s3StateStore(s3: S3Client, bucket: string, environment: string): StateStore {
  return {
    where: `s3://${bucket}/${environment}/`,
    list: async () => {
      const out: StoredState[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${environment}/`, ContinuationToken: token }));
        for (const object of page.Contents ?? []) {
          const key = object.Key ?? "";
          const stack = key.slice(environment.length + 1, -".tfstate".length);
          if (!key.endsWith(".tfstate") || stack.includes("/")) continue;
          const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          out.push({ stack, resources: countResources((await body.Body?.transformToString()) ?? "{}") });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
  };
}

/** The stored states that hold resources but belong to no declared stack, sorted by name. */
export async function orphanStates(store: StateStore, declared: readonly string[]): Promise<StoredState[]> {
  const known = new Set(declared);
  return (await store.list()).filter((s) => s.resources > 0 && !known.has(s.stack)).sort((a, b) => a.stack.localeCompare(b.stack));
}

/** The warning for an environment's orphans: what they are and the two ways out. */
export function orphanWarning(environment: string, where: string, orphans: readonly StoredState[]): string {
  const workloads = [...new Set(orphans.map((o) => /-workload-(.+?)(-apps)?$/.exec(o.stack)?.[1]).filter(Boolean))];
  return (
    `warn orphan state in ${where}: ${orphans.map((o) => `${o.stack} (${o.resources} resources)`).join(", ")} ` +
    `${orphans.length === 1 ? "is" : "are"} not declared by environments/${environment}, so nothing plans or destroys ${orphans.length === 1 ? "it" : "them"}, and what ${orphans.length === 1 ? "it holds keeps" : "they hold keep"} running and billing. ` +
    (workloads.length
      ? `Put workload ${workloads.join(", ")} back into environments/${environment}/environment.ts as it was, run make decommission ENVIRONMENT=${environment} WORKLOAD=${workloads[0]}, then remove it again.`
      : `Declare the stack again and destroy it (make destroy STACK=...), or remove its state once you know nothing it made exists.`)
  );
}

/**
 * Why bootstrap may not be destroyed yet, or undefined: the state bucket it deletes holds every
 * other stack's state, and bootstrap owns their keys and secrets, so it goes last, once those
 * states hold nothing.
 */
export async function bootstrapDestroyRefusal(store: StateStore, environment: string, bootstrapStack: string): Promise<string | undefined> {
  const live = (await store.list()).filter((s) => s.stack !== bootstrapStack && s.resources > 0).sort((a, b) => a.stack.localeCompare(b.stack));
  if (!live.length) return undefined;
  return (
    `${bootstrapStack} is not destroyed while other stacks of ${environment} still hold resources: ${live.map((s) => `${s.stack} (${s.resources})`).join(", ")}, whose state is in ${store.where} and whose keys and secrets bootstrap owns. ` +
    `Destroy them first (make destroy ENVIRONMENT=${environment} CONFIRM=${environment} destroys every stack in order, bootstrap last), and never empty the state bucket while it holds their state. Nothing was changed.`
  );
}
