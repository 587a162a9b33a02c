// Reads the provisioned Grafana dashboards the way Grafana does: every PromQL expression of every
// panel and template variable, the metric names each one selects, and the text Grafana would send
// to Prometheus once template variables are filled in. Shared by the dashboard tests.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Registry } from "prom-client";

export const GRAFANA_DIR = "deploy/grafana";
export const DASHBOARD_DIR = join(GRAFANA_DIR, "dashboards");
export const PROMETHEUS_CONFIG = "deploy/prometheus/prometheus.yml";
/** The data source uid that deploy/grafana/provisioning/datasources/prometheus.yml provisions. */
export const DATASOURCE_UID = "jetmesh-prometheus";

/** Grafana variables that need no definition in the dashboard. */
export const BUILT_IN_VARIABLES = new Set([
  "__interval",
  "__interval_ms",
  "__rate_interval",
  "__rate_interval_ms",
  "__range",
  "__range_s",
  "__range_ms",
]);

export interface Datasource {
  type?: string;
  uid?: string;
}

export interface Target {
  refId?: string;
  expr?: string;
  datasource?: Datasource;
}

export interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: Datasource;
  targets?: Target[];
  panels?: Panel[];
}

export interface TemplateVariable {
  name: string;
  type: string;
  datasource?: Datasource;
  query?: string | { query?: string };
  definition?: string;
  multi?: boolean;
  includeAll?: boolean;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list?: TemplateVariable[] };
}

export interface LoadedDashboard {
  file: string;
  dashboard: Dashboard;
}

/** One PromQL expression found in a dashboard. */
export interface DashboardQuery {
  file: string;
  /** Panel title and refId, or "variable <name>". */
  where: string;
  expr: string;
}

export function dashboardFiles(dir = DASHBOARD_DIR): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => join(dir, file));
}

export function loadDashboards(dir = DASHBOARD_DIR): LoadedDashboard[] {
  return dashboardFiles(dir).map((file) => ({
    file,
    dashboard: JSON.parse(readFileSync(file, "utf8")) as Dashboard,
  }));
}

/** Every panel, including those nested in collapsed rows. */
export function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);
}

export function variables(dashboard: Dashboard): TemplateVariable[] {
  return dashboard.templating?.list ?? [];
}

/** The query text of a template variable (Grafana stores a string or an object). */
export function variableQueryText(variable: TemplateVariable): string {
  const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
  return query ?? variable.definition ?? "";
}

/**
 * A Prometheus variable query `label_values(<selector>, <label>)` (or `label_values(<label>)`):
 * the series selector and the label whose values the variable offers.
 */
export function parseLabelValues(query: string): { selector: string | undefined; label: string } {
  const match = /^\s*label_values\(\s*(?:(.*)\s*,\s*)?([a-zA-Z_]\w*)\s*\)\s*$/s.exec(query);
  if (match === null) throw new Error(`unsupported variable query: ${query}`);
  return { selector: match[1]?.trim() || undefined, label: match[2]! };
}

/** Every PromQL expression of a dashboard: panel targets and the selectors of query variables. */
export function dashboardQueries({ file, dashboard }: LoadedDashboard): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const panel of allPanels(dashboard.panels)) {
    for (const target of panel.targets ?? []) {
      if (target.expr === undefined) continue;
      queries.push({ file, where: `"${panel.title}" ${target.refId ?? ""}`.trim(), expr: target.expr });
    }
  }
  for (const variable of variables(dashboard)) {
    if (variable.type !== "query") continue;
    const { selector } = parseLabelValues(variableQueryText(variable));
    if (selector !== undefined) queries.push({ file, where: `variable ${variable.name}`, expr: selector });
  }
  return queries;
}

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "atan2",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, keywords,
 * labels of grouping clauses, label matchers, durations, numbers or template variables.
 */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  // {__name__="x"} selects by name without writing it as an identifier.
  for (const match of expr.matchAll(/__name__\s*=\s*"([^"]*)"/g)) names.add(match[1]!);
  if (/__name__\s*(=~|!=|!~)/.test(expr)) throw new Error(`cannot check a regex name matcher: ${expr}`);
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\boffset\s+-?[\w$]+/g, " ")
    .replace(/\$\{[^}]*\}|\$\w+/g, " ")
    .replace(/(?<![\w:.])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?/g, " ");
  for (const match of bare.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const token = match[0];
    if (KEYWORDS.has(token.toLowerCase())) continue;
    const next = bare.slice(match.index + token.length).trimStart();
    if (next.startsWith("(")) continue; // a function call
    names.add(token);
  }
  return [...names].sort();
}

/** Variables an expression refers to, in any of Grafana's three syntaxes. */
export function referencedVariables(expr: string): string[] {
  const found = new Set<string>();
  for (const match of expr.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]/g)) {
    found.add((match[1] ?? match[2] ?? match[3])!);
  }
  return [...found];
}

/** Every series name a registry exports, with the `_bucket`/`_sum`/`_count` series of histograms. */
export async function registeredSeriesNames(registry: Registry): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    names.add(metric.name);
    const type = String(metric.type);
    if (type === "histogram")
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(metric.name + suffix);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) names.add(metric.name + suffix);
  }
  return names;
}

/** Grafana's escaping of a value inside a regex matcher (multi-value or "All" variables). */
function regexEscape(value: string): string {
  return value.replace(/\\/g, "\\\\\\\\").replace(/[$^*{}[\]'+?.()|]/g, "\\\\$&");
}

/** Grafana's escaping of a single-value variable. */
function plainEscape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/'/g, "\\\\'");
}

/**
 * The expression as Grafana sends it to Prometheus: each template variable replaced by its
 * selected values (several values of a multi-value variable become a regex alternation), each
 * built-in interval by the given duration.
 */
export function interpolate(
  expr: string,
  dashboard: Dashboard,
  values: Record<string, readonly string[]>,
  builtIns: Record<string, string>,
): string {
  const definitions = new Map(variables(dashboard).map((variable) => [variable.name, variable]));
  const format = (name: string): string => {
    if (BUILT_IN_VARIABLES.has(name)) {
      const value = builtIns[name];
      if (value === undefined) throw new Error(`no value for built-in $${name}`);
      return value;
    }
    const variable = definitions.get(name);
    const selected = values[name];
    if (variable === undefined || selected === undefined || selected.length === 0) {
      throw new Error(`no value for $${name} in ${expr}`);
    }
    if (!variable.multi && !variable.includeAll) return plainEscape(selected[0]!);
    const escaped = selected.map(regexEscape);
    return escaped.length === 1 ? escaped[0]! : `(${escaped.join("|")})`;
  };
  return expr.replace(
    /\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]/g,
    (_all, braced?: string, plain?: string, bracketed?: string) => format((braced ?? plain ?? bracketed)!),
  );
}
