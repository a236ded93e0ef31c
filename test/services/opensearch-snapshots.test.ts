import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { signedClient } from "../../cronjobs/opensearch-snapshots/client";
import { readConfig, type SnapshotConfig } from "../../cronjobs/opensearch-snapshots/config";
import { desiredRepository, planDeletions, runSnapshots, sameRepository, snapshotName, type SnapshotDeps } from "../../cronjobs/opensearch-snapshots/run";
import { ConfigError } from "../../lib/discovery/env";
import { mattermostNotifier } from "../../lib/discovery/webhook";
import { WebhookReceiver } from "../support/kube-api";
import { startMoto, type Moto } from "../support/moto";
import { AUTHORIZATION, SnapshotApiStandIn } from "../support/opensearch-snapshot-api";

const REPO = resolve(__dirname, "..", "..");
const BUNDLE = join(REPO, "dist", "cronjobs", "opensearch-snapshots", "main.js");
const DAY = 86_400_000;
const NOW = new Date("2026-12-05T02:30:00Z");
const ROLE = "arn:aws:iam::111111111111:role/prod-logs-snapshot-repository";
const KEY = { accessKeyId: "AKIDSNAPSHOTTEST", secretAccessKey: "snapshot-secret", sessionToken: "session-token" };

let api: SnapshotApiStandIn;
let hook: WebhookReceiver;
const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
const sleeps: number[] = [];

beforeAll(async () => {
  [api, hook] = await Promise.all([new SnapshotApiStandIn().start(), new WebhookReceiver().start()]);
});
afterAll(async () => Promise.all([api?.stop(), hook?.stop()]));
beforeEach(() => {
  api.reset();
  api.secrets.set(KEY.accessKeyId, KEY.secretAccessKey);
  api.clock = () => NOW.getTime() + 1000;
  hook.posts.length = 0;
  hook.status = 200;
  logs.length = 0;
  sleeps.length = 0;
});

const baseEnv = (over: Record<string, string | undefined> = {}) => ({
  OPENSEARCH_ENDPOINT: api.url,
  AWS_REGION: "us-east-1",
  SNAPSHOT_REPOSITORY: "log-snapshots",
  SNAPSHOT_BUCKET: "cloud-prod-log-snapshots-111111111111",
  SNAPSHOT_ROLE_ARN: ROLE,
  MATTERMOST_ALERTS_HOOK: hook.url,
  ENVIRONMENT_NAME: "test",
  ...over,
});

function config(extra: Partial<SnapshotConfig> = {}): SnapshotConfig {
  return { ...readConfig(baseEnv()), ...extra };
}

function deps(over: Partial<SnapshotDeps> = {}): SnapshotDeps {
  return {
    call: signedClient({ endpoint: new URL(api.url), region: "us-east-1", credentials: KEY }),
    notify: mattermostNotifier(hook.url),
    log: (level, message, fields) => logs.push({ level, message, fields }),
    now: () => NOW,
    sleep: async (ms) => void sleeps.push(ms),
    ...over,
  };
}

const declared = () => desiredRepository(config());
const seedDeclared = () => api.seedRepository("log-snapshots", "s3", declared().settings);
const daysAgo = (d: number) => NOW.getTime() - d * DAY;
const deletes = () => api.requests.filter((r) => r.method === "DELETE").map((r) => r.path);

describe("reading configuration", () => {
  it("has safe defaults: 30 days, the fluent-bit indices, no mass deletion", () => {
    expect(readConfig(baseEnv())).toMatchObject({ retentionDays: 30, prefix: "daily", indices: "logs-*", allowMassDeletion: false, waitMs: 2_700_000, pollMs: 15_000, basePath: undefined });
  });

  it.each([
    ["OPENSEARCH_ENDPOINT", undefined, /OPENSEARCH_ENDPOINT is not set/],
    ["OPENSEARCH_ENDPOINT", "vpc-logs.es.amazonaws.com", /OPENSEARCH_ENDPOINT="vpc-logs.es.amazonaws.com" is malformed/],
    ["OPENSEARCH_ENDPOINT", "https://vpc-logs.es.amazonaws.com/_snapshot", /has a path or query/],
    ["SNAPSHOT_ROLE_ARN", "arn:aws:iam::111111111111:user/someone", /SNAPSHOT_ROLE_ARN=.* is malformed; expected the ARN of the IAM role/],
    ["SNAPSHOT_REPOSITORY", "Log Snapshots", /SNAPSHOT_REPOSITORY="Log Snapshots" is malformed/],
    ["SNAPSHOT_BUCKET", "", /SNAPSHOT_BUCKET is not set/],
    ["SNAPSHOT_RETENTION_DAYS", "0", /SNAPSHOT_RETENTION_DAYS=0 is malformed; expected a whole number from 1 to 3650/],
    ["SNAPSHOT_RETENTION_DAYS", "thirty", /SNAPSHOT_RETENTION_DAYS="thirty" is malformed/],
    ["SNAPSHOT_BASE_PATH", "/leading", /SNAPSHOT_BASE_PATH="\/leading" is malformed/],
    ["AWS_REGION", "mars", /AWS_REGION="mars" is malformed/],
    ["MATTERMOST_ALERTS_HOOK", undefined, /MATTERMOST_ALERTS_HOOK is not set/],
    ["ALLOW_MASS_DELETION", "maybe", /ALLOW_MASS_DELETION="maybe" is malformed; expected true or false/],
  ])("refuses %s=%s with a sentence naming it", (name, value, message) => {
    expect(() => readConfig(baseEnv({ [name]: value }))).toThrow(ConfigError);
    expect(() => readConfig(baseEnv({ [name]: value }))).toThrow(message);
  });

  it("reads the webhook from the mounted Secret file", () => {
    const dir = mkdtempSync(join(tmpdir(), "hook-"));
    writeFileSync(join(dir, "hook"), "https://chat.example.com/hooks/abc\n");
    expect(readConfig(baseEnv({ MATTERMOST_ALERTS_HOOK: undefined, MATTERMOST_ALERTS_HOOK_FILE: join(dir, "hook") })).alertsHook).toBe("https://chat.example.com/hooks/abc");
  });
});

describe("the repository and retention rules", () => {
  it("declares the repository without server_side_encryption (the bucket's KMS default applies) and compares as OpenSearch returns it", () => {
    const d = desiredRepository({ bucket: "b", region: "us-east-1", roleArn: ROLE, basePath: undefined });
    expect(d).toEqual({ type: "s3", settings: { bucket: "b", region: "us-east-1", role_arn: ROLE } });
    expect(sameRepository({ type: "s3", settings: { bucket: "b", region: "us-east-1", role_arn: ROLE } }, d)).toBe(true);
    expect(sameRepository({ type: "s3", settings: { bucket: "b", region: "us-east-1", role_arn: ROLE, server_side_encryption: "true" } }, d)).toBe(false);
    expect(sameRepository({ type: "s3", settings: { bucket: "other", region: "us-east-1", role_arn: ROLE } }, d)).toBe(false);
    expect(sameRepository({ type: "fs", settings: { bucket: "b", region: "us-east-1", role_arn: ROLE } }, d)).toBe(false);
  });

  it("names snapshots by the UTC date", () => {
    expect(snapshotName("daily", NOW)).toBe("daily-2026-12-05");
    expect(snapshotName("daily", NOW, true)).toBe("daily-2026-12-05-023000");
  });

  const opts = { prefix: "daily", retentionDays: 30, now: NOW, taken: "daily-2026-12-05", allowMassDeletion: false };
  const snap = (name: string, days: number, state = "SUCCESS") => ({ snapshot: name, state, startMillis: daysAgo(days) });

  it("never deletes the newest snapshot, a running one, or another prefix's", () => {
    // The newest is not today's (a clock gone backwards): it stays even past the retention.
    const plan = planDeletions(
      [snap("daily-2026-12-05", 40), snap("daily-2026-12-04", 35), snap("daily-2026-10-01", 45, "IN_PROGRESS"), snap("daily-2026-12-06", 31), snap("manual-before-upgrade", 300)],
      { ...opts, allowMassDeletion: true },
    );
    expect(plan).toEqual({ delete: ["daily-2026-12-04"], keep: ["daily-2026-10-01", "daily-2026-12-05", "daily-2026-12-06"] });
  });

  it("refuses when today's snapshot is not in the listing as a success, or an own snapshot has no start time", () => {
    expect(planDeletions([], opts)).toEqual({ refuse: expect.stringMatching(/does not show today's snapshot daily-2026-12-05 as a success \(missing\)/) });
    expect(planDeletions([snap("daily-2026-12-05", 0, "PARTIAL")], opts)).toEqual({ refuse: expect.stringMatching(/\(PARTIAL\)/) });
    expect(planDeletions([snap("daily-2026-12-05", 0), { snapshot: "daily-2026-01-01", state: "SUCCESS" }], opts)).toEqual({ refuse: expect.stringMatching(/daily-2026-01-01 have no start time/) });
  });
});

describe("a run against the snapshot API stand-in", () => {
  it("registers a missing repository, takes today's snapshot, and signs every request (SigV4, service es)", async () => {
    const result = await runSnapshots(config(), deps());
    expect(result).toEqual({ exitCode: 0, repository: "registered", snapshot: "daily-2026-12-05", state: "SUCCESS", deleted: [] });
    expect(api.writes().map((r) => `${r.method} ${r.path}`)).toEqual(["PUT /_snapshot/log-snapshots", "PUT /_snapshot/log-snapshots/daily-2026-12-05"]);
    expect(api.writes()[0].body).toEqual({ type: "s3", settings: { bucket: "cloud-prod-log-snapshots-111111111111", region: "us-east-1", role_arn: ROLE } });
    expect(api.writes()[1].body).toEqual({ indices: "logs-*", ignore_unavailable: true, include_global_state: false, partial: false });
    for (const r of api.requests) {
      expect(r.authorization).toMatch(AUTHORIZATION);
      expect(AUTHORIZATION.exec(r.authorization!)![1]).toBe(KEY.accessKeyId);
      expect(AUTHORIZATION.exec(r.authorization!)![4].split(";")).toEqual(expect.arrayContaining(["host", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]));
      expect(r.headers["x-amz-security-token"]).toBe(KEY.sessionToken);
      expect(r.signatureValid).toBe(true);
    }
    expect(api.names("log-snapshots")).toEqual(["daily-2026-12-05"]);
    expect(hook.posts).toHaveLength(0);
  });

  it("does not re-register an equal repository, and re-registers a different one, saying what it was", async () => {
    seedDeclared();
    let result = await runSnapshots(config(), deps());
    expect(result).toMatchObject({ exitCode: 0, repository: "unchanged" });
    expect(api.writes().some((r) => r.path === "/_snapshot/log-snapshots")).toBe(false);

    api.reset();
    api.secrets.set(KEY.accessKeyId, KEY.secretAccessKey);
    api.seedRepository("log-snapshots", "s3", { ...declared().settings, bucket: "somewhere-else", server_side_encryption: true });
    result = await runSnapshots(config(), deps());
    expect(result).toMatchObject({ exitCode: 0, repository: "updated" });
    expect(api.repositories.get("log-snapshots")!.settings).toEqual({ bucket: "cloud-prod-log-snapshots-111111111111", region: "us-east-1", role_arn: ROLE });
    expect(logs.find((l) => l.level === "warn")?.fields?.previous).toMatchObject({ settings: { bucket: "somewhere-else" } });
  });

  it("deletes its own snapshots older than the retention, and nothing else", async () => {
    seedDeclared();
    for (const d of [40, 35, 31, 29, 1]) api.seedSnapshot("log-snapshots", snapshotName("daily", new Date(daysAgo(d))), daysAgo(d));
    api.seedSnapshot("log-snapshots", "manual-before-upgrade", daysAgo(100));
    const result = await runSnapshots(config(), deps());
    expect(result).toMatchObject({ exitCode: 0, snapshot: "daily-2026-12-05", deleted: ["daily-2026-10-26", "daily-2026-10-31", "daily-2026-11-04"] });
    expect(deletes()).toEqual(["/_snapshot/log-snapshots/daily-2026-10-26", "/_snapshot/log-snapshots/daily-2026-10-31", "/_snapshot/log-snapshots/daily-2026-11-04"]);
    expect(api.names("log-snapshots")).toEqual(["daily-2026-11-06", "daily-2026-12-04", "daily-2026-12-05", "manual-before-upgrade"]);
    expect(hook.posts).toHaveLength(0);
  });

  it("waits for a running snapshot, and waits out another snapshot operation", async () => {
    seedDeclared();
    api.pollsUntilDone = 3;
    api.busy = 2;
    const result = await runSnapshots(config({ pollMs: 7, busyRetryMs: 11 }), deps());
    expect(result).toMatchObject({ exitCode: 0, state: "SUCCESS" });
    expect(sleeps).toEqual([11, 11, 7, 7, 7]);
    expect(api.requests.filter((r) => r.method === "PUT" && r.path.endsWith("/daily-2026-12-05"))).toHaveLength(3);
  });

  it("does not take today's snapshot twice, and takes another when today's failed", async () => {
    seedDeclared();
    api.seedSnapshot("log-snapshots", "daily-2026-12-05", daysAgo(0.01));
    let result = await runSnapshots(config(), deps());
    expect(result).toMatchObject({ exitCode: 0, snapshot: "daily-2026-12-05" });
    expect(api.writes()).toHaveLength(0);

    api.snapshots.get("log-snapshots")![0].state = "FAILED";
    result = await runSnapshots(config(), deps());
    expect(result).toMatchObject({ exitCode: 0, snapshot: "daily-2026-12-05-023000", state: "SUCCESS" });
  });

  describe("never deletes on a doubtful listing, and fails loudly", () => {
    const seedMonth = () => {
      seedDeclared();
      for (const d of [45, 44, 43, 42, 2, 1]) api.seedSnapshot("log-snapshots", snapshotName("daily", new Date(daysAgo(d))), daysAgo(d));
    };
    const expectAlert = (title: RegExp, error?: RegExp) => {
      expect(hook.posts).toHaveLength(1);
      expect(hook.posts[0].username).toBe("OpenSearch Snapshots");
      expect(hook.posts[0].attachments[0].title).toMatch(title);
      expect(hook.posts[0].attachments[0].fields).toEqual(expect.arrayContaining([expect.objectContaining({ title: "Environment", value: "test" })]));
      if (error) expect(hook.posts[0].attachments[0].fields[1].value).toMatch(error);
      expect(logs.some((l) => l.level === "error" && title.test(l.message))).toBe(true);
    };

    it("an empty listing after the snapshot", async () => {
      seedMonth();
      api.listingOverrides = [{ snapshots: api.snapshots.get("log-snapshots")!.map((s) => ({ snapshot: s.snapshot, state: s.state, start_time_in_millis: s.start_time_in_millis })) }, { snapshots: [] }];
      const result = await runSnapshots(config(), deps());
      expect(result.exitCode).toBe(1);
      expect(deletes()).toEqual([]);
      expectAlert(/Snapshot retention in log-snapshots refused to delete anything/, /does not show today's snapshot daily-2026-12-05 as a success \(missing\)/);
    });

    it("a listing that is not a listing", async () => {
      seedMonth();
      api.listingOverrides = [{ snapshots: [] }, { error: "something else" }];
      const result = await runSnapshots(config(), deps());
      expect(result.exitCode).toBe(1);
      expect(deletes()).toEqual([]);
      expectAlert(/after the snapshot failed; nothing was deleted/, /no `snapshots` list/);
    });

    it("a failed listing", async () => {
      seedMonth();
      api.failures = [{ method: "GET", path: /\/_all$/, status: 500 }];
      const result = await runSnapshots(config(), deps());
      expect(result.exitCode).toBe(1);
      expect(api.writes()).toEqual([]);
      expectAlert(/Listing the snapshots of log-snapshots failed; no snapshot was taken and none deleted/, /HTTP 500 stand_in_failure/);
    });

    it("more than half of its snapshots past the retention (unless allowed), never the newest", async () => {
      seedMonth();
      let result = await runSnapshots(config({ retentionDays: 1 }), deps());
      expect(result.exitCode).toBe(1);
      expect(deletes()).toEqual([]);
      expectAlert(/refused to delete anything/, /5 of this job's 7 snapshots are older than 1 days.*ALLOW_MASS_DELETION=true/);

      result = await runSnapshots(config({ retentionDays: 1, allowMassDeletion: true }), deps());
      expect(result).toMatchObject({ exitCode: 0 });
      expect(api.names("log-snapshots")).toEqual(["daily-2026-12-04", "daily-2026-12-05"]);
    });

    it("a snapshot that ends PARTIAL, or never ends", async () => {
      seedMonth();
      api.finalState = "PARTIAL";
      let result = await runSnapshots(config({ retentionDays: 3 }), deps());
      expect(result).toMatchObject({ exitCode: 1, state: "PARTIAL" });
      expect(deletes()).toEqual([]);
      expectAlert(/Snapshot daily-2026-12-05 ended PARTIAL; no old snapshot was deleted/);

      hook.posts.length = 0;
      api.finalState = "SUCCESS";
      api.pollsUntilDone = 1000;
      result = await runSnapshots(config({ waitMs: 1 }), { ...deps(), sleep: () => new Promise((r) => setTimeout(r, 5)) });
      expect(result.exitCode).toBe(1);
      expect(deletes()).toEqual([]);
      expect(hook.posts[0].attachments[0].title).toMatch(/did not finish within 0 minutes/);
    });

    it("a domain that refuses the job's role (not mapped to manage_snapshots), even when the webhook fails too", async () => {
      api.failures = [{ method: "GET", path: /^\/_snapshot\/log-snapshots$/, status: 403, body: { error: { type: "security_exception", reason: "no permissions for [cluster:admin/repository/get]" }, status: 403 } }];
      hook.status = 503;
      const result = await runSnapshots(config(), deps());
      expect(result.exitCode).toBe(1);
      expect(api.writes()).toEqual([]);
      expect(hook.posts).toHaveLength(1);
      expect(hook.posts[0].attachments[0].fields[1].value).toMatch(/HTTP 403 security_exception: no permissions .*manage_snapshots/);
      expect(logs.find((l) => l.message === "could not deliver the alert")?.fields?.error).toMatch(/HTTP 503/);
    });

    it("a failed deletion stops the run (the rest waits for the next)", async () => {
      seedMonth();
      api.failures = [{ method: "DELETE", path: /daily-2026-10-21$/, status: 500 }];
      const result = await runSnapshots(config({ retentionDays: 43 }), deps());
      expect(result).toMatchObject({ exitCode: 1, deleted: [] });
      expect(hook.posts[0].attachments[0].title).toMatch(/Deleting old snapshot daily-2026-10-21/);
    });
  });

  it("is refused by the stand-in when the signature is wrong (the check is real)", async () => {
    const result = await runSnapshots(config(), deps({ call: signedClient({ endpoint: new URL(api.url), region: "us-east-1", credentials: { ...KEY, secretAccessKey: "wrong" } }) }));
    expect(result.exitCode).toBe(1);
    expect(api.requests[0].signatureValid).toBe(false);
    expect(hook.posts[0].attachments[0].fields[1].value).toMatch(/HTTP 403: The request signature we calculated does not match/);
  });
});

describe("the bundle, run as the CronJob runs it", () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => moto?.stop());

  function run(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolvePromise) => {
      const child = spawn(process.execPath, [BUNDLE], { env: { PATH: process.env.PATH!, ...env } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    });
  }
  const processEnv = (over: Record<string, string> = {}) => ({ ...(baseEnv() as Record<string, string>), SNAPSHOT_POLL_SECONDS: "1", ...over });

  it("exists (built by npm run build before the tests)", () => {
    expect(existsSync(BUNDLE)).toBe(true);
  });

  it("exits 2 before any call when a variable is missing", async () => {
    const out = await run({ ...processEnv(), SNAPSHOT_ROLE_ARN: "" });
    expect(out.code).toBe(2);
    expect(JSON.parse(out.stderr.trim().split("\n")[0])).toMatchObject({ level: "error", message: expect.stringMatching(/SNAPSHOT_ROLE_ARN is not set/) });
    expect(api.requests).toHaveLength(0);
  });

  it("signs with the IRSA web identity (AWS_ROLE_ARN + token file, exchanged at STS) and logs JSON lines", async () => {
    api.clock = () => Date.now();
    const dir = mkdtempSync(join(tmpdir(), "irsa-"));
    writeFileSync(join(dir, "token"), "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl");
    const out = await run(
      processEnv({
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/prod-cnc-opensearch-snapshots",
        AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "token"),
        AWS_ROLE_SESSION_NAME: "snapshots",
      }),
    );
    expect(out.stderr).not.toMatch(/"level":"(error|warn)"/);
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.message)).toEqual(["snapshot repository registered", "snapshot started", "snapshot succeeded", "snapshot run done"]);
    // STS (moto) issued temporary credentials; every request carries and signs their session token.
    const key = AUTHORIZATION.exec(api.requests[0].authorization!)![1];
    expect(key).not.toBe(KEY.accessKeyId);
    for (const r of api.requests) {
      expect(r.authorization).toMatch(AUTHORIZATION);
      expect(r.headers["x-amz-security-token"]).toBeTruthy();
    }
  });

  it("exits 1 and alerts when the domain refuses it", async () => {
    api.failures = [{ method: "GET", path: /^\/_snapshot\/log-snapshots$/, status: 403, body: { error: { type: "security_exception", reason: "no permissions" } } }];
    const out = await run(processEnv({ AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey }));
    expect(out.code).toBe(1);
    expect(api.requests[0].signatureValid).toBe(true);
    expect(hook.posts).toHaveLength(1);
    expect(JSON.parse(out.stderr.trim().split("\n")[0])).toMatchObject({ level: "error", message: expect.stringMatching(/Registering snapshot repository log-snapshots failed/) });
  });
});
