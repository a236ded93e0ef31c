/**
 * Where the repository is, found from the running code wherever it lives: the TypeScript
 * sources (tsx, jest) or the precompiled app in dist/app/. Every path the stacks read (the
 * environments, dist/ bundles, the in-repo chart) hangs off this, never off `__dirname` directly,
 * so moving code into a bundle cannot change what it reads.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The nearest folder at or above `start` holding cdktf.json (the repository root). */
export function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "cdktf.json")) && existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) {
      throw new Error(`No cdktf.json above ${start}: run the platform's code from inside its repository.`);
    }
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);
