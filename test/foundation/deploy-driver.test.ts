/**
 * The deploy driver (scripts/deploy.ts) on an emulator environment with no emulator running:
 * what a newcomer gets from `make diff` and `make destroy` before (or after) a rehearsal.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(__dirname, "..", "..");
const NAME = "newcomer";

describe("deploy driver without a kept emulator", () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "envs-driver-"));
    mkdirSync(join(root, NAME));
    // environments/local under another name (its names edited, as a copy must be).
    writeFileSync(join(root, NAME, "environment.ts"), readFileSync(join(REPO, "environments", "local", "environment.ts"), "utf8").replace(/\blocal\b/g, NAME));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(join(REPO, ".state", NAME), { recursive: true, force: true });
  });

  const driver = (...args: string[]) =>
    spawnSync(join(REPO, "node_modules", ".bin", "tsx"), [join(REPO, "scripts", "deploy.ts"), ...args], {
      cwd: REPO,
      env: { ...process.env, ENVIRONMENTS_DIR: root, ENVIRONMENT: NAME, AUTO_APPROVE: "1", KEEP_EMULATOR: "" },
      encoding: "utf8",
    });

  it("make diff refuses in one sentence that says how to keep an emulator, with no Terraform output", () => {
    const run = driver("diff", "route53");
    expect(run.status).toBe(1);
    const error = run.stderr.trim();
    expect(error).toBe(
      `Error: make diff on ${NAME} plans against the local AWS emulator a kept rehearsal leaves running, and none is running: ` +
        `run \`KEEP_EMULATOR=1 make all ENVIRONMENT=${NAME}\` first, which leaves its emulator running for \`make diff\` (and \`make destroy\` stops it).`,
    );
    expect(run.stdout).not.toMatch(/terraform|│/i);
    // Nothing was started to plan against.
    expect(existsSync(join(REPO, ".state", NAME, "emulator.json"))).toBe(false);
  });

  it("make destroy says there is nothing to destroy, clears the stale state, and starts no emulator", () => {
    // State left by a rehearsal whose emulator has stopped.
    mkdirSync(join(REPO, ".state", NAME), { recursive: true });
    writeFileSync(join(REPO, ".state", NAME, `${NAME}-cluster.tfstate`), JSON.stringify({ resources: [{ mode: "managed", instances: [{}, {}] }] }));
    const run = driver("destroy", "all");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`No local AWS emulator of ${NAME} is running, so nothing of ${NAME} exists to destroy`));
    expect(run.stdout).toMatch(new RegExp(`local state lists 2 resources \\(${NAME}-cluster\\) from an emulator that is no longer running`));
    expect(existsSync(join(REPO, ".state", NAME, `${NAME}-cluster.tfstate`))).toBe(false);
    expect(run.stdout).toMatch(/unless KEEP_EMULATOR=1/);
    expect(existsSync(join(REPO, ".state", NAME, "emulator.json"))).toBe(false);
    // Nothing was synthesized or planned either.
    expect(existsSync(join(REPO, "cdktf.out", "stacks", `${NAME}-bootstrap`))).toBe(false);
  });
});
