/**
 * What a newcomer reads first: `make help` must list every target the README documents, legibly,
 * and the README must not state figures no run prints (timings are in the summary table of
 * `make all` and in `npm run bench`).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const REPO = resolve(__dirname, "..", "..");

function makeHelp(): string[] {
  const run = spawnSync("make", ["--no-print-directory", "help"], { cwd: REPO, encoding: "utf8" });
  expect(run.status).toBe(0);
  return run.stdout.split("\n").filter((l) => l.trim());
}

/** Every `make <target>` (and `make a` / `b` / `c` rows) the README mentions. */
function documentedTargets(): string[] {
  const readme = readFileSync(resolve(REPO, "README.md"), "utf8");
  const targets = new Set<string>();
  for (const m of readme.matchAll(/`make ([a-z0-9-]+)[^`]*`((?:\s*\/\s*`[a-z0-9-]+`)*)/g)) {
    targets.add(m[1]);
    for (const more of m[2].matchAll(/`([a-z0-9-]+)`/g)) targets.add(more[1]);
  }
  return [...targets].sort();
}

describe("make help", () => {
  it("lists every target the README documents (digits in names included)", () => {
    const listed = makeHelp().map((l) => /^ {2}make (\S+)/.exec(l)?.[1]);
    const documented = documentedTargets();
    expect(documented).toEqual(expect.arrayContaining(["route53", "register-workloads", "local-down", "post-install"]));
    expect(documented.filter((t) => !listed.includes(t))).toEqual([]);
  });

  it("aligns every description in one column", () => {
    const columns = new Set(makeHelp().map((l) => /^( {2}make \S+ +)\S/.exec(l)?.[1].length));
    expect([...columns]).toHaveLength(1);
    expect(columns.has(undefined)).toBe(false);
  });
});

describe("README figures", () => {
  const readme = readFileSync(resolve(REPO, "README.md"), "utf8");

  it("states no hand-measured durations (a run prints them)", () => {
    const durations = readme.match(/(?:about|around|~|takes|took|near)\s*\d[\d.,:]*\s*(?:s\b|sec|seconds|min|minutes)/gi) ?? [];
    expect(durations).toEqual([]);
    expect(readme).not.toMatch(/^Measured on/m);
  });

  it("states no hand-counted stack or resource totals", () => {
    expect(readme).not.toMatch(/\d+ stacks, about [\d,]+ resources/);
  });
});
