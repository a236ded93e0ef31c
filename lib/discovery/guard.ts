/** The rule that protects good configuration from a bad listing. */
export interface RemovalCheck {
  removed: string[];
  added: string[];
  /** True when the change would remove more than half of the current entries. */
  tooMany: boolean;
}

export function checkRemoval(current: Iterable<string>, next: Iterable<string>): RemovalCheck {
  const cur = new Set(current);
  const nxt = new Set(next);
  const removed = [...cur].filter((x) => !nxt.has(x)).sort();
  const added = [...nxt].filter((x) => !cur.has(x)).sort();
  return { removed, added, tooMany: cur.size > 0 && removed.length * 2 > cur.size };
}

export function sameSet(a: Iterable<string>, b: Iterable<string>): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}
