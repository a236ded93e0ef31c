/**
 * How every Helm release of the platform is installed and upgraded (add-ons, their -crds
 * releases, manifests releases): into a namespace created beforehand (with its Pod Security
 * labels), atomically (a failed install or upgrade is rolled back, and what it created cleaned
 * up), waiting until its workloads are ready, keeping ten revisions to roll back to.
 * A release may give a longer timeout; five minutes is the default.
 */
export const RELEASE_OPTIONS = {
  createNamespace: false,
  atomic: true,
  cleanupOnFail: true,
  wait: true,
  timeout: 300,
  maxHistory: 10,
} as const;
