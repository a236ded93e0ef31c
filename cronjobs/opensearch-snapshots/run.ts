/**
 * One run of the OpenSearch snapshot job: make the manual snapshot repository what the platform
 * declares, take today's snapshot and wait for it, then delete this job's snapshots older than the
 * retention. It deletes nothing unless today's snapshot succeeded and a fresh listing holds it,
 * never the newest snapshot, never what another prefix (or a person) took, and never more than
 * half of its own snapshots in one run unless told to. The HTTP call is passed in (tests use a
 * local stand-in of the snapshot API).
 */
import { checkRemoval } from "../../lib/discovery/guard";
import { errorText, type Logger } from "../../lib/discovery/log";
import type { Notifier } from "../../lib/discovery/webhook";
import { OpenSearchError, errorOf, type OpenSearchCall } from "./client";
import type { SnapshotConfig } from "./config";

export interface SnapshotDeps {
  call: OpenSearchCall;
  notify?: Notifier;
  log: Logger;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

export type RepositoryAction = "registered" | "updated" | "unchanged";

export interface SnapshotRunResult {
  exitCode: 0 | 1;
  repository?: RepositoryAction;
  /** The snapshot this run took (or found already taken today). */
  snapshot?: string;
  state?: string;
  deleted: string[];
}

export interface Repository {
  type: string;
  settings: Record<string, string | boolean>;
}

/** What the repository must be. No `server_side_encryption`: it would make S3 use SSE-S3 instead of the bucket's KMS key. */
export function desiredRepository(cfg: Pick<SnapshotConfig, "bucket" | "region" | "roleArn" | "basePath">): Repository {
  return {
    type: "s3",
    settings: { bucket: cfg.bucket, region: cfg.region, role_arn: cfg.roleArn, ...(cfg.basePath ? { base_path: cfg.basePath } : {}) },
  };
}

/** OpenSearch returns every setting as a string; compare by string value, all keys. */
export function sameRepository(actual: { type?: unknown; settings?: Record<string, unknown> } | undefined, desired: Repository): boolean {
  if (!actual || actual.type !== desired.type) return false;
  const a = Object.entries(actual.settings ?? {}).map(([k, v]) => `${k}=${String(v)}`).sort();
  const d = Object.entries(desired.settings).map(([k, v]) => `${k}=${String(v)}`).sort();
  return a.length === d.length && a.every((x, i) => x === d[i]);
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** `<prefix>-YYYY-MM-DD` (UTC), or with `-HHMMSS` when today's name is taken by a failed snapshot. */
export function snapshotName(prefix: string, now: Date, withTime = false): string {
  const time = now.toISOString().slice(11, 19).replace(/:/g, "");
  return `${prefix}-${day(now)}${withTime ? `-${time}` : ""}`;
}

export function ownSnapshotPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&")}-\\d{4}-\\d{2}-\\d{2}(-\\d{6})?$`);
}

export interface SnapshotInfo {
  snapshot: string;
  state: string;
  startMillis?: number;
}

/** The snapshots of a `GET _snapshot/<repo>/_all` answer; throws when the answer is not that shape. */
export function parseListing(body: any): SnapshotInfo[] {
  if (!body || !Array.isArray(body.snapshots)) throw new Error("the snapshot listing has no `snapshots` list");
  return body.snapshots.map((s: any, i: number) => {
    if (typeof s?.snapshot !== "string" || typeof s?.state !== "string") throw new Error(`entry ${i} of the snapshot listing has no name or state`);
    return { snapshot: s.snapshot, state: s.state, startMillis: typeof s.start_time_in_millis === "number" ? s.start_time_in_millis : undefined };
  });
}

export type DeletionPlan = { delete: string[]; keep: string[] } | { refuse: string };

/**
 * Which of this job's snapshots to delete: those started more than `retentionDays` ago, except
 * the newest one and any still running. Refused (nothing deleted) when the listing does not hold
 * `taken` as a success, when one of ours has no start time, or when more than half would go.
 */
export function planDeletions(listing: SnapshotInfo[], opts: { prefix: string; retentionDays: number; now: Date; taken: string; allowMassDeletion: boolean }): DeletionPlan {
  const own = listing.filter((s) => ownSnapshotPattern(opts.prefix).test(s.snapshot));
  const taken = own.find((s) => s.snapshot === opts.taken);
  if (!taken || taken.state !== "SUCCESS") {
    return { refuse: `the listing does not show today's snapshot ${opts.taken} as a success (${taken ? taken.state : "missing"}); it looks wrong, so nothing is deleted` };
  }
  const undated = own.filter((s) => s.startMillis === undefined);
  if (undated.length) return { refuse: `snapshot(s) ${undated.map((s) => s.snapshot).join(", ")} have no start time in the listing; it looks wrong, so nothing is deleted` };
  const newest = own.reduce((a, b) => (b.startMillis! > a.startMillis! ? b : a));
  const cutoff = opts.now.getTime() - opts.retentionDays * 86_400_000;
  const expired = own.filter((s) => s.startMillis! < cutoff && s !== newest && s !== taken && s.state !== "IN_PROGRESS").map((s) => s.snapshot);
  const names = own.map((s) => s.snapshot);
  const change = checkRemoval(names, names.filter((n) => !expired.includes(n)));
  if (change.tooMany && !opts.allowMassDeletion) {
    return {
      refuse:
        `${expired.length} of this job's ${own.length} snapshots are older than ${opts.retentionDays} days; deleting more than half in one run is refused ` +
        `(${expired.slice(0, 5).join(", ")}${expired.length > 5 ? ", ..." : ""}). If that is intended (the retention was shortened, or the job did not run for long), run once with ALLOW_MASS_DELETION=true.`,
    };
  }
  return { delete: expired.sort(), keep: names.filter((n) => !expired.includes(n)).sort() };
}

const isBusy = (err: unknown) => err instanceof OpenSearchError && /concurrent_snapshot_execution_exception|concurrent_snapshot_deletion_exception/.test(err.type ?? "");

export async function runSnapshots(cfg: SnapshotConfig, deps: SnapshotDeps): Promise<SnapshotRunResult> {
  const { log, call } = deps;
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const repo = encodeURIComponent(cfg.repository);
  const result: SnapshotRunResult = { exitCode: 0, deleted: [] };

  const fail = async (title: string, err: unknown): Promise<SnapshotRunResult> => {
    const error = errorText(err);
    log("error", title, { error, repository: cfg.repository, bucket: cfg.bucket, snapshot: result.snapshot });
    if (deps.notify) {
      try {
        await deps.notify({ username: "OpenSearch Snapshots", title, environment: cfg.environment, error });
      } catch (notifyErr) {
        log("error", "could not deliver the alert", { error: errorText(notifyErr) });
      }
    }
    return { ...result, exitCode: 1 };
  };

  /** One call that must answer 2xx; another snapshot operation in progress is waited out. */
  const must = async (method: "GET" | "PUT" | "POST" | "DELETE", path: string, body?: unknown) => {
    for (let attempt = 0; ; attempt++) {
      const response = await call(method, path, body);
      if (response.status >= 200 && response.status < 300) return response;
      const err = errorOf(method, path, response);
      if (!isBusy(err) || attempt >= cfg.busyRetries) throw err;
      log("info", "another snapshot operation is running; waiting", { method, path, attempt: attempt + 1 });
      await sleep(cfg.busyRetryMs);
    }
  };

  // 1. The repository, as declared.
  const desired = desiredRepository(cfg);
  try {
    const current = await call("GET", `/_snapshot/${repo}`);
    let existing: Repository | undefined;
    if (current.status === 404) {
      existing = undefined;
    } else if (current.status >= 200 && current.status < 300) {
      existing = current.body?.[cfg.repository];
      if (!existing) throw new Error(`GET /_snapshot/${cfg.repository} answered without that repository: ${current.text.slice(0, 200)}`);
    } else {
      throw errorOf("GET", `/_snapshot/${cfg.repository}`, current);
    }
    if (existing && sameRepository(existing, desired)) {
      result.repository = "unchanged";
    } else {
      await must("PUT", `/_snapshot/${repo}`, desired);
      result.repository = existing ? "updated" : "registered";
      log(existing ? "warn" : "info", existing ? "snapshot repository re-registered with the declared settings" : "snapshot repository registered", {
        repository: cfg.repository,
        ...(existing ? { previous: existing } : {}),
        settings: desired.settings,
      });
    }
  } catch (err) {
    return fail(`Registering snapshot repository ${cfg.repository} failed; no snapshot was taken and none deleted`, err);
  }

  // 2. Today's snapshot (again only if today's failed), then wait for it.
  let listing;
  try {
    listing = parseListing((await must("GET", `/_snapshot/${repo}/_all`)).body);
  } catch (err) {
    return fail(`Listing the snapshots of ${cfg.repository} failed; no snapshot was taken and none deleted`, err);
  }
  const started = now();
  let name = snapshotName(cfg.prefix, started);
  const today = listing.find((s) => s.snapshot === name);
  if (today && today.state !== "SUCCESS" && today.state !== "IN_PROGRESS") name = snapshotName(cfg.prefix, started, true);
  result.snapshot = name;
  try {
    if (today?.state === "SUCCESS") {
      log("info", "today's snapshot was already taken", { snapshot: name });
    } else if (today?.state === "IN_PROGRESS" && name === today.snapshot) {
      log("info", "today's snapshot is still running; waiting for it", { snapshot: name });
    } else {
      await must("PUT", `/_snapshot/${repo}/${encodeURIComponent(name)}`, { indices: cfg.indices, ignore_unavailable: true, include_global_state: false, partial: false });
      log("info", "snapshot started", { snapshot: name, indices: cfg.indices });
    }
  } catch (err) {
    return fail(`Starting snapshot ${name} in ${cfg.repository} failed; no old snapshot was deleted`, err);
  }
  let state = today?.state === "SUCCESS" ? "SUCCESS" : "IN_PROGRESS";
  const deadline = Date.now() + cfg.waitMs;
  try {
    while (state === "IN_PROGRESS" || state === "STARTED" || state === "INIT") {
      if (Date.now() > deadline) {
        result.state = state;
        return fail(`Snapshot ${name} did not finish within ${Math.round(cfg.waitMs / 60_000)} minutes; no old snapshot was deleted`, `it is still ${state}; the next run waits for it or takes another`);
      }
      await sleep(cfg.pollMs);
      const one = parseListing((await must("GET", `/_snapshot/${repo}/${encodeURIComponent(name)}`)).body).find((s) => s.snapshot === name);
      if (!one) throw new Error(`the domain does not list snapshot ${name} after starting it`);
      state = one.state;
    }
  } catch (err) {
    return fail(`Following snapshot ${name} failed; no old snapshot was deleted`, err);
  }
  result.state = state;
  if (state !== "SUCCESS") {
    return fail(`Snapshot ${name} ended ${state}; no old snapshot was deleted`, `state ${state}: see GET _snapshot/${cfg.repository}/${name} for the shards that failed`);
  }
  log("info", "snapshot succeeded", { snapshot: name });

  // 3. Retention, on a fresh listing.
  let plan: DeletionPlan;
  try {
    plan = planDeletions(parseListing((await must("GET", `/_snapshot/${repo}/_all`)).body), {
      prefix: cfg.prefix,
      retentionDays: cfg.retentionDays,
      now: now(),
      taken: name,
      allowMassDeletion: cfg.allowMassDeletion,
    });
  } catch (err) {
    return fail(`Listing the snapshots of ${cfg.repository} after the snapshot failed; nothing was deleted`, err);
  }
  if ("refuse" in plan) return fail(`Snapshot retention in ${cfg.repository} refused to delete anything`, plan.refuse);
  for (const old of plan.delete) {
    try {
      await must("DELETE", `/_snapshot/${repo}/${encodeURIComponent(old)}`);
      result.deleted.push(old);
      log("info", "old snapshot deleted", { snapshot: old, retentionDays: cfg.retentionDays });
    } catch (err) {
      return fail(`Deleting old snapshot ${old} from ${cfg.repository} failed (the others stay until the next run)`, err);
    }
  }
  log("info", "snapshot run done", { snapshot: name, deleted: result.deleted.length, kept: plan.keep.length, repository: result.repository });
  return result;
}
