/**
 * Resolving image tags to digests over the OCI distribution API (`npm run pin-images`).
 *
 * HEAD /v2/<repository>/manifests/<tag> answers with the tag's `Docker-Content-Digest` (the
 * multi-platform index when there is one). Anonymous pulls of public images get a 401 with a
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge; the token from that realm is
 * used for one retry. Docker Hub, public.ecr.aws, ghcr.io and quay.io all follow this.
 */

export interface ImageName {
  /** Registry host, e.g. registry-1.docker.io or public.ecr.aws. */
  registry: string;
  /** Repository path on that registry, e.g. library/node. */
  repository: string;
  tag: string;
}

/** `repo:tag` as written in config/versions.ts -> registry, repository, tag (Docker Hub rules for short names). */
export function parseImage(ref: string): ImageName {
  const m = /^(.+):([\w][\w.-]{0,127})$/.exec(ref);
  if (!m || ref.includes("@")) throw new Error(`"${ref}" is not an image reference of the form repository:tag`);
  const [first, ...rest] = m[1].split("/");
  const hasRegistry = rest.length > 0 && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasRegistry) return { registry: first, repository: rest.join("/"), tag: m[2] };
  return { registry: "registry-1.docker.io", repository: rest.length ? m[1] : `library/${m[1]}`, tag: m[2] };
}

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface ResolveOptions {
  fetch?: typeof fetch;
  /** Send every request to this base URL instead of https://<registry> (tests use a local stand-in). */
  baseUrl?: string;
}

function challenge(header: string | null): Record<string, string> | undefined {
  if (!header || !/^Bearer\s/i.test(header)) return undefined;
  const out: Record<string, string> = {};
  for (const m of header.matchAll(/(\w+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out.realm ? out : undefined;
}

/** The digest a registry serves for `ref` now. Throws one sentence naming the image on any failure. */
export async function resolveDigest(ref: string, options: ResolveOptions = {}): Promise<string> {
  const doFetch = options.fetch ?? fetch;
  const image = parseImage(ref);
  const url = `${options.baseUrl ?? `https://${image.registry}`}/v2/${image.repository}/manifests/${image.tag}`;
  const fail = (why: string) => new Error(`${ref}: ${why}`);
  const head = (token?: string) =>
    doFetch(url, { method: "HEAD", headers: { Accept: ACCEPT, ...(token ? { Authorization: `Bearer ${token}` } : {}) } }).catch((err: Error) => {
      throw fail(`the registry did not answer (${err.message}); check the network and run again`);
    });
  let response = await head();
  if (response.status === 401) {
    const c = challenge(response.headers.get("www-authenticate"));
    if (!c) throw fail("the registry asks for credentials this tool cannot give (no Bearer challenge)");
    const tokenUrl = new URL(c.realm);
    if (c.service) tokenUrl.searchParams.set("service", c.service);
    tokenUrl.searchParams.set("scope", c.scope ?? `repository:${image.repository}:pull`);
    const tokenResponse = await doFetch(tokenUrl).catch((err: Error) => {
      throw fail(`the token service ${tokenUrl.origin} did not answer (${err.message})`);
    });
    if (!tokenResponse.ok) throw fail(`the token service refused an anonymous pull token (HTTP ${tokenResponse.status})`);
    const body = (await tokenResponse.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw fail("the token service answered without a token");
    response = await head(token);
  }
  if (response.status === 404) throw fail("the registry has no such tag; check the tag in config/versions.ts");
  if (!response.ok) throw fail(`the registry answered HTTP ${response.status}`);
  const digest = response.headers.get("docker-content-digest") ?? "";
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw fail(`the registry gave no usable Docker-Content-Digest (got "${digest}")`);
  return digest;
}

/**
 * Resolves every ref; returns the new digest table, or throws listing every failure (nothing is
 * written then: a partial table would silently unpin what it dropped).
 */
export async function resolveAll(refs: string[], current: Record<string, string>, options: ResolveOptions = {}): Promise<{ digests: Record<string, string>; changed: string[] }> {
  const digests: Record<string, string> = {};
  const errors: string[] = [];
  const changed: string[] = [];
  for (const ref of refs) {
    try {
      digests[ref] = await resolveDigest(ref, options);
      if (current[ref] !== digests[ref]) changed.push(`${ref}: ${current[ref] ?? "(none)"} -> ${digests[ref]}`);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length) throw new Error(`Could not resolve ${errors.length} of ${refs.length} image(s); config/image-digests.json is unchanged:\n  - ${errors.join("\n  - ")}`);
  return { digests: Object.fromEntries(Object.entries(digests).sort(([a], [b]) => a.localeCompare(b))), changed };
}
