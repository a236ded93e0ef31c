/**
 * `npm run pin-images` against a local registry stand-in on 127.0.0.1 that speaks the OCI
 * distribution API's anonymous-pull flow (401 + Bearer challenge, token, HEAD manifest).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { IMAGE_DIGESTS, deployedImageTags, imageRef } from "../../config/versions";
import { parseImage, resolveAll, resolveDigest } from "../../scripts/lib/image-digests";

const DIGEST = `sha256:${"b".repeat(64)}`;
let server: Server;
let base = "";
const seen: { method: string; url: string; auth?: string; accept?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, accept: req.headers.accept });
    const url = new URL(req.url!, base);
    if (url.pathname === "/token") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ token: `t-${url.searchParams.get("scope")}` }));
      return;
    }
    const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
    if (!m) return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer t-repository:${m[1]}:pull`) {
      res.writeHead(401, { "www-authenticate": `Bearer realm="${base}/token",service="stand-in",scope="repository:${m[1]}:pull"` });
      return void res.end();
    }
    if (m[2] === "missing") return void res.writeHead(404).end();
    if (m[2] === "nodigest") return void res.writeHead(200).end();
    res.writeHead(200, { "docker-content-digest": DIGEST });
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections(); // idle keep-alive sockets would hold the test worker open
  return new Promise<void>((r) => server.close(() => r()));
});

describe("image references", () => {
  it("follow Docker's rules for short names and keep explicit registries", () => {
    expect(parseImage("mattermost/mattermost-cloud:v0.90.0")).toEqual({ registry: "registry-1.docker.io", repository: "mattermost/mattermost-cloud", tag: "v0.90.0" });
    expect(parseImage("node:22")).toEqual({ registry: "registry-1.docker.io", repository: "library/node", tag: "22" });
    expect(parseImage("public.ecr.aws/docker/library/node:22.21.1-alpine3.22")).toEqual({ registry: "public.ecr.aws", repository: "docker/library/node", tag: "22.21.1-alpine3.22" });
    expect(() => parseImage("node")).toThrow(/repository:tag/);
  });

  it("are deployed with their recorded digest, and every deployed tag is one the tool resolves", () => {
    for (const [ref, digest] of Object.entries(IMAGE_DIGESTS)) {
      expect(deployedImageTags()).toContain(ref);
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const [repo, tag] = ref.split(/:(?=[^:]+$)/);
      expect(imageRef(repo, tag)).toBe(`${ref}@${digest}`);
    }
    expect(imageRef("example.com/unrecorded", "1.0")).toBe("example.com/unrecorded:1.0");
  });
});

describe("resolving digests", () => {
  it("answers the Bearer challenge with an anonymous token and reads Docker-Content-Digest, asking for indexes first", async () => {
    seen.length = 0;
    await expect(resolveDigest("public.ecr.aws/docker/library/node:22.21.1-alpine3.22", { baseUrl: base })).resolves.toBe(DIGEST);
    expect(seen.map((s) => [s.method, s.url.split("?")[0], !!s.auth])).toEqual([
      ["HEAD", "/v2/docker/library/node/manifests/22.21.1-alpine3.22", false],
      ["GET", "/token", false],
      ["HEAD", "/v2/docker/library/node/manifests/22.21.1-alpine3.22", true],
    ]);
    expect(seen[0].accept).toMatch(/^application\/vnd\.oci\.image\.index\.v1\+json/);
  });

  it("names the image and the cause when a tag is missing, a digest is absent or the registry is unreachable, and changes nothing", async () => {
    await expect(resolveDigest("example.com/app:missing", { baseUrl: base })).rejects.toThrow(/^example\.com\/app:missing: the registry has no such tag/);
    await expect(resolveDigest("example.com/app:nodigest", { baseUrl: base })).rejects.toThrow(/no usable Docker-Content-Digest/);
    await expect(resolveDigest("example.com/app:1", { baseUrl: "http://127.0.0.1:1" })).rejects.toThrow(/did not answer/);
    const current = { "example.com/app:1": DIGEST };
    await expect(resolveAll(["example.com/app:1", "example.com/app:missing"], current, { baseUrl: base })).rejects.toThrow(/Could not resolve 1 of 2 image\(s\); config\/image-digests\.json is unchanged/);
  });

  it("reports what changed", async () => {
    const { digests, changed } = await resolveAll(["example.com/b:1", "example.com/a:1"], { "example.com/a:1": DIGEST }, { baseUrl: base });
    expect(Object.keys(digests)).toEqual(["example.com/a:1", "example.com/b:1"]);
    expect(changed).toEqual([`example.com/b:1: (none) -> ${DIGEST}`]);
  });
});
