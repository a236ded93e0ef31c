/**
 * Static checks of alerting as code (used by the tests):
 * - every PromQL expression parses with the Prometheus project's own grammar
 *   (@prometheus-io/lezer-promql, what the Prometheus UI uses);
 * - aggregations keep the labels an alert's scope promises (`cluster`; `installation` too for
 *   installation alerts), so every notification says where;
 * - every rule has a severity, a summary, a description and a runbook link;
 * - the Alertmanager tree names only existing receivers, has no unreachable route, and sends an
 *   alert of each severity to at least one receiver that notifies a person.
 */
import { parser } from "@prometheus-io/lezer-promql";
import type { AlertRule, AlertmanagerConfig, AlertmanagerRoute } from "../../constructs/monitoring/alerting";

export interface ExprProblem {
  problem: string;
}

/** Parse errors of a PromQL expression, with the offset of the first one. */
export function promqlErrors(expr: string): string[] {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(`syntax error at offset ${node.from}: "${expr.slice(Math.max(0, node.from - 10), node.to + 10)}"`);
    },
  });
  return errors;
}

/** The labels each aggregation of `expr` keeps: undefined for `without (...)` (keeps all but those). */
export function aggregationGroupings(expr: string): { op: string; by?: string[]; without?: string[] }[] {
  const tree = parser.parse(expr);
  const out: { op: string; by?: string[]; without?: string[] }[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.name !== "AggregateExpr") return;
      const op = expr.slice(node.from, node.to).split(/[\s(]/)[0];
      const modifier = node.node.getChild("AggregateModifier");
      if (!modifier) {
        out.push({ op, by: [] });
        return;
      }
      const labels: string[] = [];
      const grouping = modifier.getChild("GroupingLabels");
      for (let c = grouping?.firstChild; c; c = c.nextSibling) {
        if (c.name === "LabelName") labels.push(expr.slice(c.from, c.to));
      }
      if (modifier.getChild("Without")) out.push({ op, without: labels });
      else out.push({ op, by: labels });
    },
  });
  return out;
}

export function ruleProblems(rule: AlertRule, runbookBaseUrl?: string): string[] {
  const problems = promqlErrors(rule.expr).map((e) => `expr: ${e}`);
  const keep = rule.scope === "installation" ? ["cluster", "installation"] : ["cluster"];
  for (const g of aggregationGroupings(rule.expr)) {
    const kept = g.by ?? [];
    if (g.without) {
      const lost = keep.filter((l) => g.without!.includes(l));
      if (lost.length) problems.push(`${g.op} without (...) drops ${lost.join(", ")}`);
    } else {
      const missing = keep.filter((l) => !kept.includes(l));
      if (missing.length) problems.push(`${g.op} by (${kept.join(", ")}) drops ${missing.join(", ")}`);
    }
  }
  if (!["critical", "warning", "info", "{{ $labels.severity }}"].includes(rule.severity)) problems.push(`severity ${rule.severity} is not critical, warning or info`);
  if (!/^[A-Z][A-Za-z0-9]+$/.test(rule.alert)) problems.push("alert names are CamelCase");
  if (!rule.summary.trim()) problems.push("no summary");
  if (!rule.description.trim()) problems.push("no description");
  if (!/^\d+[smh]$/.test(rule.for)) problems.push(`for: ${rule.for} is not a duration`);
  if (runbookBaseUrl !== undefined && !/^https:\/\//.test(runbookBaseUrl)) problems.push("runbook base URL is not https");
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Alertmanager routing, as Alertmanager evaluates it.

/** `name = "value"`, `name != "v"`, `name =~ "re"`, `name !~ "re"` */
function matcherMatches(matcher: string, labels: Record<string, string>): boolean {
  const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"(.*)"\s*$/.exec(matcher);
  if (!m) throw new Error(`unparseable matcher ${matcher}`);
  const value = labels[m[1]] ?? "";
  switch (m[2]) {
    case "=":
      return value === m[3];
    case "!=":
      return value !== m[3];
    case "=~":
      return new RegExp(`^(?:${m[3]})$`).test(value);
    default:
      return !new RegExp(`^(?:${m[3]})$`).test(value);
  }
}

/** The receivers an alert with these labels is sent to (Alertmanager's depth-first match with `continue`). */
export function receiversFor(route: AlertmanagerRoute, labels: Record<string, string>): string[] {
  const walk = (r: AlertmanagerRoute): string[] => {
    const out: string[] = [];
    for (const child of r.routes ?? []) {
      if (!(child.matchers ?? []).every((m) => matcherMatches(m, labels))) continue;
      out.push(...walk(child));
      if (!child.continue) return out;
    }
    return out.length ? out : [r.receiver];
  };
  return walk(route);
}

/** Receivers that notify nobody. */
const SILENT = (receiver: { name: string } & Record<string, unknown>) => Object.keys(receiver).every((k) => k === "name");

export function alertmanagerProblems(config: AlertmanagerConfig): string[] {
  const problems: string[] = [];
  const names = new Set(config.receivers.map((r) => r.name));
  if (names.size !== config.receivers.length) problems.push("receiver names repeat");
  const visit = (r: AlertmanagerRoute, path: string) => {
    if (!names.has(r.receiver)) problems.push(`${path}: unknown receiver "${r.receiver}"`);
    const seen: string[] = [];
    (r.routes ?? []).forEach((child, i) => {
      const key = JSON.stringify([...(child.matchers ?? [])].sort());
      const here = `${path}.routes[${i}]`;
      // A sibling after a catch-all (no matchers, no continue), or after an identical matcher set without continue, is never reached.
      if (seen.includes("[]") || seen.includes(key)) problems.push(`${here}: unreachable (an earlier sibling takes every alert it would match)`);
      if (!child.continue) seen.push(key);
      visit(child, here);
    });
  };
  visit(config.route, "route");
  const byName = new Map(config.receivers.map((r) => [r.name, r]));
  for (const severity of ["critical", "warning", "info"]) {
    const reached = receiversFor(config.route, { alertname: "Example", severity, cluster: "c" });
    if (!reached.some((n) => byName.has(n) && !SILENT(byName.get(n)!))) problems.push(`an alert of severity ${severity} reaches nobody (receivers: ${reached.join(", ")})`);
  }
  return problems;
}
