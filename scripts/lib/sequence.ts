/**
 * The order `make all` applies an environment's stacks in, and `make destroy` removes them:
 *
 *   apply:   bootstrap, cluster, post-install  (one after the other)
 *            then each workload chain: <env>-workload-<n>, then <env>-workload-<n>-apps
 *            (chains side by side, two at a time on AWS)
 *            then route53 (it names the load balancers the chains and post-install made)
 *   destroy: the reverse: route53, the chains (apps before AWS), post-install, cluster, bootstrap
 */
export interface Named {
  name: string;
  /** Position in the environment's synthesized order. */
  order: number;
}

export interface Sequence<T extends Named> {
  /** The C&C layers, in order. */
  first: T[];
  /** One chain per workload cluster (AWS phase, then apps phase); chains are independent. */
  chains: T[][];
  /** Applied after everything else (route53). */
  last: T[];
}

export function deploySequence<T extends Named>(environment: string, stacks: T[]): Sequence<T> {
  const isWorkload = (s: T) => s.name.startsWith(`${environment}-workload-`);
  const isLast = (s: T) => s.name === `${environment}-route53`;
  const chains = new Map<string, T[]>();
  for (const s of stacks.filter(isWorkload)) {
    const key = s.name.replace(/-apps$/, "");
    chains.set(key, [...(chains.get(key) ?? []), s].sort((a, b) => a.order - b.order));
  }
  return { first: stacks.filter((s) => !isWorkload(s) && !isLast(s)).sort((a, b) => a.order - b.order), chains: [...chains.values()], last: stacks.filter(isLast) };
}

/** The same, for destroy: last first, each chain backwards, then the C&C layers backwards. */
export function destroySequence<T extends Named>(environment: string, stacks: T[]): Sequence<T> {
  const s = deploySequence(environment, stacks);
  return { first: s.last, chains: s.chains.map((c) => [...c].reverse()), last: [...s.first].reverse() };
}
