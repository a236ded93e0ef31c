/**
 * Writes one key of one ConfigMap without disturbing anything else in it: other keys, labels and
 * annotations are kept, the write carries the resourceVersion it was based on, and a conflict
 * (someone else wrote in between) is retried on a fresh read.
 */
import type { CoreV1Api, V1ConfigMap } from "@kubernetes/client-node";

export type ConfigMapApi = Pick<CoreV1Api, "readNamespacedConfigMap" | "createNamespacedConfigMap" | "replaceNamespacedConfigMap">;

export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: number } };
  if (typeof e?.code === "number") return e.code;
  if (typeof e?.statusCode === "number") return e.statusCode;
  return e?.response?.statusCode;
}

/** Reads the ConfigMap, or undefined when it does not exist (any other error is thrown). */
export async function readConfigMap(api: ConfigMapApi, namespace: string, name: string): Promise<V1ConfigMap | undefined> {
  try {
    return await api.readNamespacedConfigMap({ name, namespace });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

export interface WriteOutcome {
  action: "created" | "updated" | "unchanged" | "refused";
  /** Kubernetes API calls made. */
  calls: number;
  attempts: number;
  reason?: string;
}

/**
 * Reconciles one data key. `decide(current)` sees the ConfigMap as read (or undefined) and returns
 * the new value for the key, `undefined` to leave things as they are, or `{ refuse }` to stop.
 * It is called again after every conflict, so its checks always run against fresh data.
 */
export async function reconcileKey(
  api: ConfigMapApi,
  target: { namespace: string; name: string; key: string; labels?: Record<string, string> },
  decide: (current: V1ConfigMap | undefined) => string | undefined | { refuse: string },
  options: { maxAttempts?: number; initial?: V1ConfigMap | null } = {},
): Promise<WriteOutcome> {
  const maxAttempts = options.maxAttempts ?? 5;
  let calls = 0;
  let current: V1ConfigMap | undefined;
  if (options.initial !== undefined) {
    current = options.initial ?? undefined;
  } else {
    calls++;
    current = await readConfigMap(api, target.namespace, target.name);
  }
  for (let attempt = 1; ; attempt++) {
    const value = decide(current);
    if (value === undefined) return { action: "unchanged", calls, attempts: attempt };
    if (typeof value === "object") return { action: "refused", calls, attempts: attempt, reason: value.refuse };
    try {
      calls++;
      if (!current) {
        await api.createNamespacedConfigMap({
          namespace: target.namespace,
          body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: target.name, namespace: target.namespace, labels: target.labels }, data: { [target.key]: value } },
        });
        return { action: "created", calls, attempts: attempt };
      }
      const body: V1ConfigMap = {
        ...current,
        metadata: { ...current.metadata, labels: { ...(target.labels ?? {}), ...(current.metadata?.labels ?? {}) } },
        data: { ...(current.data ?? {}), [target.key]: value },
      };
      await api.replaceNamespacedConfigMap({ name: target.name, namespace: target.namespace, body });
      return { action: "updated", calls, attempts: attempt };
    } catch (err) {
      // 409: our resourceVersion is stale, or someone created it first. Re-read and decide again.
      if (statusOf(err) !== 409 || attempt >= maxAttempts) throw err;
      calls++;
      current = await readConfigMap(api, target.namespace, target.name);
    }
  }
}
