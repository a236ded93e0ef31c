/**
 * Stacks deploy code that `make bundle` (esbuild, scripts/bundle.ts) builds into dist/; they never
 * bundle it themselves. A missing bundle is a user-facing error (one sentence, no stack trace):
 * `npm ci` builds the bundles (the `prepare` script), so this means dist/ was removed or the
 * install ran with --ignore-scripts.
 */
export class MissingBundleError extends Error {
  constructor(what: string, path: string) {
    super(`The ${what} bundle is missing (${path}). Run \`make bundle\` (or \`npm run build\`), then synthesize again; stacks never bundle code themselves.`);
    this.name = "MissingBundleError";
  }
}
