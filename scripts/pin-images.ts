/**
 * `npm run pin-images`: resolves every image tag this repository deploys outside charts
 * (config/versions.ts deployedImageTags) to the digest its registry serves now, and writes
 * config/image-digests.json. Run it after changing a tag, review the diff, commit it.
 * Needs HTTPS access to the registries (Docker Hub, public.ecr.aws); writes nothing on any error.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deployedImageTags } from "../config/versions";
import { resolveAll } from "./lib/image-digests";

async function main(): Promise<number> {
  const file = join(__dirname, "..", "config", "image-digests.json");
  const current = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  const refs = deployedImageTags();
  console.log(`resolving ${refs.length} image tag(s)…`);
  try {
    const { digests, changed } = await resolveAll(refs, current, { baseUrl: process.env.REGISTRY_BASE_URL || undefined });
    writeFileSync(file, `${JSON.stringify(digests, null, 2)}\n`);
    console.log(changed.length ? `updated config/image-digests.json:\n  ${changed.join("\n  ")}` : "config/image-digests.json already current");
    return 0;
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
}

main().then((code) => process.exit(code));
