// Bundle-only shim: node-fetch 2 reaches for the `whatwg-url` package (and its 260 KB Unicode
// table, tr46) only to parse URLs, which Node.js does natively. Aliased in scripts/bundle.ts.
module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };
