import { CUSTOM_COLUMN, getModel, withCustomFields } from "../models";
import type { CustomFieldDef, FieldDef, ModelDef } from "../models";
import { AGGREGATIONS_BY_TYPE, OPERATORS_BY_TYPE, type ValueKind } from "../models/operators";
import { DateExpressionError, evaluateDateExpression, isDateExpression, isValidTimeZone, localDate, parseDateLiteral, utcTimestamp } from "./dates";
import type { Condition, ExportBody, FieldSpec } from "./definition";
import type { ChunkQuery, Cursor, ExportCompiler, Row } from "./types";

/**
 * The filter / field / aggregation compiler: an export definition plus the tenant becomes
 * one parameterized, keyset-paginated query per chunk.
 *
 * Safety: table and column names come only from the model catalog (src/models); every
 * value from the definition is a bound parameter (nested param keys too, as JSON paths).
 * The only text from the definition placed in the statement is the output column alias
 * (the field's `to`), which validation limits to printable characters and which is quoted
 * as an SQL identifier (`"` doubled). The tenant condition is always added here.
 */

/**
 * D1 limits: at most 100 bound parameters and 100 KB of SQL per statement.
 * https://developers.cloudflare.com/d1/platform/limits/
 * Parameters are numbered (`?NNN`) and equal values share one number, and `in` lists
 * and replace maps travel as one JSON parameter each, so real definitions stay far inside.
 */
export const D1_MAX_PARAMS = 100;
export const D1_MAX_SQL_BYTES = 100_000;

/** Prefix of the hidden keyset columns in each row; `to` may not start with it. */
export const HIDDEN_PREFIX = "__ferry_";

export interface ValidationIssue {
  path: string;
  message: string;
}

export class ExportValidationError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join("; "));
  }
}

export interface CompileContext {
  tenantId: string;
  now: Date;
  /** Incremental mode: only rows with `ingested_at` > after and <= until (same unit as ingested_at). */
  watermark?: { after?: number; until?: number };
  /** The tenant's custom fields on the definition's model (src/tenants/custom-fields.ts); none when absent. */
  customFields?: readonly CustomFieldDef[];
}

const MAX_LIST = 1000;
const MAX_TEXT = 1000;

type Param = string | number | null;
type Kind = ValueKind;

/** Numbered parameters; equal values share one number. */
class Params {
  readonly list: Param[] = [];
  private readonly seen = new Map<string, number>();
  add(v: Param): string {
    const key = v === null ? "n" : `${typeof v}:${v}`;
    let n = this.seen.get(key);
    if (n === undefined) {
      this.list.push(v);
      n = this.list.length;
      this.seen.set(key, n);
    }
    return `?${n}`;
  }
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

interface Ref {
  /** SQL over table alias `t` */
  sql: (p: Params) => string;
  kind: Kind;
  field: FieldDef;
  label: string;
}

/** Resolves `field` or `params_field.key` against the catalog; the SQL uses only catalog names. */
function resolve(model: ModelDef, name: string, forFilter: boolean): Ref | string {
  const dot = name.indexOf(".");
  const head = dot < 0 ? name : name.slice(0, dot);
  const field = model.fields.find((f) => f.name === head);
  if (!field) {
    return `unknown field '${head}' in model '${model.name}'; known fields: ${model.fields.map((f) => f.name).join(", ")}`;
  }
  if (field.custom) {
    if (dot >= 0) return `'${head}' is a ${field.type} field and has no nested keys`;
    // A custom field is a key of the row's custom_fields JSON object; the path is a bound value.
    return { sql: (p) => `json_extract(t.${ident(CUSTOM_COLUMN)}, ${p.add(`$."${field.name}"`)})`, kind: field.type, field, label: name };
  }
  const col = `t.${ident(field.name)}`;
  if (dot < 0) return { sql: () => col, kind: field.type, field, label: name };
  if (field.type !== "params") return `'${head}' is a ${field.type} field and has no nested keys`;
  const key = name.slice(dot + 1);
  if (!key || key.length > 256) return `nested key of '${head}' must be 1 to 256 characters`;
  // The key goes in as a bound value, never into the SQL text: as a JSON path where the path
  // syntax can quote it, otherwise matched against json_each's keys.
  // https://www.sqlite.org/json1.html#path_arguments
  const value = /["\\\u0000-\u001f]/.test(key)
    ? (p: Params) => `(SELECT j.value FROM json_each(${col}) AS j WHERE j.key = ${p.add(key)})`
    : (p: Params) => `json_extract(${col}, ${p.add(`$."${key}"`)})`;
  return {
    sql: (p) => (forFilter ? `CAST(${value(p)} AS TEXT)` : value(p)),
    kind: "param_value",
    field,
    label: name,
  };
}

/** Normalizes one filter value to what is stored for this kind, or returns an error message. */
function normalizeValue(kind: Kind, v: unknown, tz: string, now: Date): Param | { error: string } {
  if (v === null || v === undefined) return { error: "a value is required (use is_empty to match empty values)" };
  if (Array.isArray(v) || typeof v === "object") return { error: "expected a single value" };
  switch (kind) {
    case "string":
    case "param_value": {
      if (typeof v === "boolean") return { error: "expected text" };
      const s = String(v);
      if (s.length > MAX_TEXT) return { error: `at most ${MAX_TEXT} characters` };
      return s;
    }
    case "integer":
    case "float": {
      const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
      if (!Number.isFinite(n)) return { error: `expected a number, got ${JSON.stringify(v)}` };
      if (kind === "integer" && !Number.isInteger(n)) return { error: `expected a whole number, got ${JSON.stringify(v)}` };
      return n;
    }
    case "boolean": {
      if (v === true || v === 1 || v === "1" || v === "true") return 1;
      if (v === false || v === 0 || v === "0" || v === "false") return 0;
      return { error: `expected true/false (or 1/0), got ${JSON.stringify(v)}` };
    }
    case "timestamp":
    case "date": {
      if (typeof v !== "string") return { error: "expected a date ('YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS', ISO 8601) or a date: expression" };
      let ms: number | null;
      if (isDateExpression(v)) {
        try {
          ms = evaluateDateExpression(v, now, tz);
        } catch (e) {
          if (e instanceof DateExpressionError) return { error: `malformed date expression: ${e.message}` };
          throw e;
        }
      } else {
        if (kind === "date" && /^\d{4}-\d{2}-\d{2}$/.test(v.trim()) && parseDateLiteral(v, "UTC") !== null) return v.trim();
        ms = parseDateLiteral(v, tz);
        if (ms === null) {
          return { error: `'${v.slice(0, 60)}' is not a date ('YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS', ISO 8601) or a date: expression` };
        }
      }
      return kind === "date" ? localDate(ms, tz) : utcTimestamp(ms);
    }
    case "params":
      return { error: "a params field only takes is_empty / is_not_empty; filter on 'field.key' for one key" };
  }
}

/** Escapes LIKE wildcards; used with `ESCAPE '\'`. https://www.sqlite.org/lang_expr.html#like */
export const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

interface CompiledCondition {
  sql: (p: Params) => string;
}

function compileCondition(
  model: ModelDef,
  c: Condition,
  path: string,
  tz: string,
  now: Date,
  issues: ValidationIssue[],
): CompiledCondition | null {
  const ref = resolve(model, c.field, true);
  if (typeof ref === "string") {
    issues.push({ path: `${path}.field`, message: ref });
    return null;
  }
  const allowed = OPERATORS_BY_TYPE[ref.kind];
  if (!allowed.includes(c.op)) {
    issues.push({
      path: `${path}.op`,
      message: `operator '${c.op}' is not valid for ${ref.kind === "param_value" ? "a nested param" : `${ref.kind} field`} '${c.field}'; use one of ${allowed.join(", ")}`,
    });
    return null;
  }
  const e = ref.sql;
  const one = (): Param | null => {
    const v = normalizeValue(ref.kind, c.value, tz, now);
    if (v !== null && typeof v === "object") {
      issues.push({ path: `${path}.value`, message: v.error });
      return null;
    }
    if (ref.field.values && typeof v === "string" && (c.op === "eq" || c.op === "neq") && !ref.field.values.includes(v)) {
      issues.push({ path: `${path}.value`, message: `'${c.field}' takes one of: ${ref.field.values.join(", ")}` });
      return null;
    }
    return v;
  };
  const many = (min: number, max: number): Param[] | null => {
    if (!Array.isArray(c.value) || c.value.length < min || c.value.length > max) {
      issues.push({
        path: `${path}.value`,
        message: min === max ? `'${c.op}' takes an array of exactly ${min} values` : `'${c.op}' takes an array of ${min} to ${max} values`,
      });
      return null;
    }
    const out: Param[] = [];
    c.value.forEach((item, i) => {
      const v = normalizeValue(ref.kind, item, tz, now);
      if (v !== null && typeof v === "object") issues.push({ path: `${path}.value.${i}`, message: v.error });
      else out.push(v);
    });
    return out.length === c.value.length ? out : null;
  };

  switch (c.op) {
    case "is_empty":
      return { sql: (p) => `(${e(p)} IS NULL OR ${e(p)} = '')` };
    case "is_not_empty":
      return { sql: (p) => `(${e(p)} IS NOT NULL AND ${e(p)} <> '')` };
    case "eq":
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      const v = one();
      if (v === null) return null;
      const sym = { eq: "=", gt: ">", gte: ">=", lt: "<", lte: "<=" }[c.op];
      return { sql: (p) => `${e(p)} ${sym} ${p.add(v)}` };
    }
    case "neq": {
      // An empty value is "not equal" too: NULL rows are kept, unlike plain SQL `<>`.
      const v = one();
      if (v === null) return null;
      return { sql: (p) => `(${e(p)} IS NULL OR ${e(p)} <> ${p.add(v)})` };
    }
    case "between": {
      const vs = many(2, 2);
      if (!vs) return null;
      return { sql: (p) => `${e(p)} BETWEEN ${p.add(vs[0] ?? null)} AND ${p.add(vs[1] ?? null)}` };
    }
    case "in":
    case "not_in": {
      const vs = many(1, MAX_LIST);
      if (!vs) return null;
      // The whole list is one JSON parameter read with json_each, whatever its length.
      const list = JSON.stringify(vs);
      return c.op === "in"
        ? { sql: (p) => `${e(p)} IN (SELECT value FROM json_each(${p.add(list)}))` }
        : { sql: (p) => `(${e(p)} IS NULL OR ${e(p)} NOT IN (SELECT value FROM json_each(${p.add(list)})))` };
    }
    case "contains":
    case "not_contains":
    case "starts_with":
    case "ends_with": {
      const v = one();
      if (v === null) return null;
      const s = escapeLike(String(v));
      const pattern = c.op === "starts_with" ? `${s}%` : c.op === "ends_with" ? `%${s}` : `%${s}%`;
      return c.op === "not_contains"
        ? { sql: (p) => `(${e(p)} IS NULL OR ${e(p)} NOT LIKE ${p.add(pattern)} ESCAPE '\\')` }
        : { sql: (p) => `${e(p)} LIKE ${p.add(pattern)} ESCAPE '\\'` };
    }
  }
}

interface OutField {
  to: string;
  ref: Ref;
  spec: FieldSpec;
}

/** The replace map as one JSON parameter: [[value, with], ...]; numbers compare numerically. */
function replaceMap(kind: Kind, spec: FieldSpec, path: string, issues: ValidationIssue[]): string | null {
  if (!spec.replace?.length) return null;
  const pairs: [Param, Param][] = [];
  const seen = new Set<string>();
  spec.replace.forEach((r, i) => {
    let key: Param;
    if (kind === "integer" || kind === "float" || kind === "boolean") {
      const v = normalizeValue(kind === "boolean" ? "boolean" : "float", r.value, "UTC", new Date(0));
      if (v === null || typeof v === "object") {
        issues.push({ path: `${path}.replace.${i}.value`, message: v?.error ?? "a value is required" });
        return;
      }
      key = v;
    } else {
      key = r.value === null ? "" : String(r.value);
    }
    const k = `${typeof key}:${key}`;
    if (seen.has(k)) return;
    seen.add(k);
    const w = r.with === null ? "" : typeof r.with === "boolean" ? (r.with ? 1 : 0) : r.with;
    pairs.push([key, w]);
  });
  return JSON.stringify(pairs);
}

/** Wraps a value expression with the field's replace map and default, in SQL. */
function outputExpr(base: string, kind: Kind, spec: FieldSpec, map: string | null, p: Params): string {
  let out = base;
  if (map) {
    const lhs = kind === "param_value" ? `CAST(${base} AS TEXT)` : base;
    out = `COALESCE((SELECT json_extract(r.value, '$[1]') FROM json_each(${p.add(map)}) AS r WHERE json_extract(r.value, '$[0]') = ${lhs} LIMIT 1), ${base})`;
  }
  if (spec.default !== undefined && spec.default !== null) {
    const d = typeof spec.default === "boolean" ? (spec.default ? 1 : 0) : spec.default;
    out = `COALESCE(NULLIF(${out}, ''), ${p.add(d)})`;
  }
  return out;
}

interface Analysis {
  model: ModelDef;
  fields: OutField[];
  maps: (string | null)[];
  conditions: CompiledCondition[][];
  aggregate: boolean;
}

function analyse(def: ExportBody, now: Date, custom: readonly CustomFieldDef[], issues: ValidationIssue[]): Analysis | null {
  const catalogModel = getModel(def.model);
  if (!catalogModel) {
    issues.push({ path: "model", message: `unknown model '${def.model}'; GET /api/1/models lists them` });
    return null;
  }
  const model = withCustomFields(catalogModel, custom);
  if (model.formats && !model.formats.includes(def.format.type)) {
    issues.push({
      path: "format.type",
      message: `${model.title} can only be exported as ${model.formats.join(", ")} (its records hold nested data); '${def.format.type}' is not available for this model`,
    });
  }
  const tz = def.timezone;
  const tzOk = isValidTimeZone(tz);
  if (!tzOk) issues.push({ path: "timezone", message: `unknown time zone '${tz}'; use an IANA name such as 'Europe/Paris' or 'UTC'` });
  const aggregate = def.aggregate;

  // Fields.
  let specs: { spec: FieldSpec; path: string }[] = def.fields.map((spec, i) => ({ spec, path: `fields.${i}` }));
  if (def.all_fields) {
    if (aggregate) issues.push({ path: "all_fields", message: "all_fields cannot be combined with aggregation; list the fields instead" });
    const bySource = new Map(specs.map((s) => [s.spec.from, s]));
    specs = [
      ...model.fields.map((f) => bySource.get(f.name) ?? { spec: { from: f.name }, path: "all_fields" }),
      ...specs.filter((s) => !model.fields.some((f) => f.name === s.spec.from)),
    ];
  }
  if (specs.length === 0) issues.push({ path: "fields", message: "choose at least one field, or set all_fields" });
  const fields: OutField[] = [];
  const maps: (string | null)[] = [];
  const names = new Set<string>();
  let groups = 0;
  for (const { spec, path } of specs) {
    const ref = resolve(model, spec.from, false);
    if (typeof ref === "string") {
      issues.push({ path: `${path}.from`, message: ref });
      continue;
    }
    const to = spec.to ?? spec.from;
    if (/[\u0000-\u001f\u007f]/.test(to) || to.startsWith(HIDDEN_PREFIX)) {
      issues.push({ path: `${path}.to`, message: `column name may not contain control characters or start with '${HIDDEN_PREFIX}'` });
    } else if (names.has(to)) {
      issues.push({ path: `${path}.to`, message: `column name '${to}' is used twice; give one field another 'to'` });
    }
    names.add(to);
    if (aggregate) {
      const agg = spec.aggregation;
      if (!agg) issues.push({ path: `${path}.aggregation`, message: "with aggregation on, every field needs an aggregation (group, count, sum, avg, min, max)" });
      else if (!AGGREGATIONS_BY_TYPE[ref.kind].includes(agg)) {
        issues.push({
          path: `${path}.aggregation`,
          message: `'${agg}' is not valid for ${ref.kind === "param_value" ? "a nested param" : `${ref.kind} field`} '${spec.from}'; use one of ${AGGREGATIONS_BY_TYPE[ref.kind].join(", ")}`,
        });
      }
      if (agg === "group") groups++;
    }
    // Replace maps compare with the value as written: a count is an integer, a sum or avg a number.
    const agg = aggregate ? spec.aggregation : undefined;
    const valueKind: Kind = agg === "count" ? "integer" : agg === "sum" || agg === "avg" ? "float" : ref.kind;
    maps.push(replaceMap(valueKind, spec, path, issues));
    fields.push({ to, ref, spec });
  }
  if (aggregate && specs.length > 0 && groups === 0) {
    issues.push({ path: "fields", message: "aggregation needs at least one field with aggregation 'group'" });
  }

  // Filters: AND inside a set, OR between sets.
  const conditions: CompiledCondition[][] = def.filters.map((set, i) =>
    set.flatMap((c, j) => {
      const cc = compileCondition(model, c, `filters.${i}.${j}`, tzOk ? tz : "UTC", now, issues);
      return cc ? [cc] : [];
    }),
  );
  return { model, fields, maps, conditions, aggregate };
}

/** Value type of an output column, for typed formats (parquet); anything else is text. */
export type OutputType = "string" | "integer" | "float" | "boolean";

function outputType(f: OutField, aggregate: boolean): OutputType {
  const agg = aggregate ? (f.spec.aggregation ?? "group") : "group";
  const k = f.ref.kind;
  let t: OutputType =
    agg === "count"
      ? "integer"
      : agg === "avg"
        ? "float"
        : agg === "sum"
          ? k === "integer" || k === "boolean"
            ? "integer"
            : "float"
          : k === "integer" || k === "float" || k === "boolean"
            ? k
            : "string";
  // Replacements and defaults may put other values in the column.
  const extra = [...(f.spec.replace ?? []).map((r) => r.with), ...(f.spec.default !== undefined ? [f.spec.default] : [])];
  for (const v of extra) {
    if (v === null) continue;
    if (t === "boolean" && (typeof v === "boolean" || v === 0 || v === 1)) continue;
    if ((t === "integer" && typeof v === "number" && Number.isInteger(v)) || (t === "float" && typeof v === "number")) continue;
    t = "string";
  }
  return t;
}

class Compiler implements ExportCompiler {
  readonly columns: string[];
  /** Output column -> value type (numbers stay numbers, booleans are 0/1). */
  readonly types: Record<string, OutputType>;
  private readonly keyCount: number;

  constructor(
    private readonly a: Analysis,
    private readonly ctx: CompileContext,
  ) {
    this.columns = a.fields.map((f) => f.to);
    this.types = Object.fromEntries(a.fields.map((f) => [f.to, outputType(f, a.aggregate)]));
    this.keyCount = a.aggregate ? a.fields.filter((f) => f.spec.aggregation === "group").length : 2;
  }

  /** The tenant, watermark and filter conditions every query of this export starts from. */
  private where(p: Params): string[] {
    const where = [`t.tenant_id = ${p.add(this.ctx.tenantId)}`];
    const wm = this.ctx.watermark;
    if (wm?.after !== undefined) where.push(`t.ingested_at > ${p.add(wm.after)}`);
    if (wm?.until !== undefined) where.push(`t.ingested_at <= ${p.add(wm.until)}`);
    if (this.a.conditions.length > 0) {
      const sets = this.a.conditions.map((set) => (set.length ? `(${set.map((c) => c.sql(p)).join(" AND ")})` : "1"));
      where.push(`(${sets.join(" OR ")})`);
    }
    return where;
  }

  count(): ChunkQuery {
    const p = new Params();
    const where = this.where(p).join(" AND ");
    const table = ident(this.a.model.name);
    if (!this.a.aggregate) return { sql: `SELECT count(*) AS n FROM ${table} AS t WHERE ${where}`, params: p.list, columns: ["n"] };
    const groups = this.a.fields.filter((f) => (f.spec.aggregation ?? "group") === "group").map((f) => f.ref.sql(p));
    return { sql: `SELECT count(*) AS n FROM (SELECT 1 FROM ${table} AS t WHERE ${where} GROUP BY ${groups.join(", ")})`, params: p.list, columns: ["n"] };
  }

  chunk(cursor: Cursor, limit: number): ChunkQuery {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`chunk limit must be a positive integer, got ${limit}`);
    const after = cursor?.after ?? null;
    if (after && after.length !== this.keyCount) throw new Error(`cursor has ${after.length} keys, this export pages on ${this.keyCount}`);
    const p = new Params();
    const { model } = this.a;
    const where = this.where(p);
    const table = ident(model.name);

    if (!this.a.aggregate) {
      const keys = [`t.${ident(model.timeField ?? "ingested_at")}`, "t.row_id"];
      if (after) where.push(keyset(keys, after, p));
      const select = this.a.fields.map((f, i) => `${outputExpr(f.ref.sql(p), f.ref.kind, f.spec, this.a.maps[i] ?? null, p)} AS ${ident(f.to)}`);
      keys.forEach((k, i) => select.push(`${k} AS ${ident(`${HIDDEN_PREFIX}k${i}`)}`));
      const sql = `SELECT ${select.join(", ")} FROM ${table} AS t WHERE ${where.join(" AND ")} ORDER BY ${keys.join(", ")} LIMIT ${p.add(limit)}`;
      return { sql, params: p.list, columns: this.columns };
    }

    // Aggregation: inner query groups and pages on the raw group values; the outer query
    // applies replace maps and defaults to the aggregated values.
    const inner: string[] = [];
    const groupExprs: string[] = [];
    const outer: string[] = [];
    this.a.fields.forEach((f, i) => {
      const agg = f.spec.aggregation ?? "group";
      const e = f.ref.sql(p);
      const alias = `a${i}`;
      if (agg === "group") groupExprs.push(e);
      inner.push(`${agg === "group" ? e : agg === "count" ? "COUNT(*)" : `${agg.toUpperCase()}(${e})`} AS ${alias}`);
      const kind: Kind = agg === "count" ? "integer" : agg === "sum" || agg === "avg" ? "float" : f.ref.kind;
      outer.push(`${outputExpr(`i.${alias}`, kind, f.spec, this.a.maps[i] ?? null, p)} AS ${ident(f.to)}`);
    });
    groupExprs.forEach((g, i) => inner.push(`${g} AS g${i}`));
    const gAliases = groupExprs.map((_, i) => `i.g${i}`);
    gAliases.forEach((g, i) => outer.push(`${g} AS ${ident(`${HIDDEN_PREFIX}k${i}`)}`));
    if (after) where.push(keyset(groupExprs, after, p));
    const sql =
      `SELECT ${outer.join(", ")} FROM (SELECT ${inner.join(", ")} FROM ${table} AS t WHERE ${where.join(" AND ")} ` +
      `GROUP BY ${groupExprs.join(", ")} ORDER BY ${groupExprs.join(", ")} LIMIT ${p.add(limit)}) AS i ORDER BY ${gAliases.join(", ")}`;
    return { sql, params: p.list, columns: this.columns };
  }

  nextCursor(lastRow: Row): Cursor {
    const after: (string | number | null)[] = [];
    for (let i = 0; i < this.keyCount; i++) {
      const v = lastRow[`${HIDDEN_PREFIX}k${i}`];
      if (v === undefined) throw new Error(`row lacks the keyset column ${HIDDEN_PREFIX}k${i}; pass the row as read from D1`);
      after.push(v);
    }
    return { after };
  }

  /** The row as written: only `columns`, in order, without the hidden keyset columns. */
  output(row: Row): Row {
    const out: Row = {};
    for (const c of this.columns) out[c] = row[c] ?? null;
    return out;
  }
}

/**
 * Strictly after `values` in ascending order over `exprs` (SQLite sorts NULL first).
 * All-non-null cursors use a row value, which SQLite turns into an index range.
 * https://www.sqlite.org/rowvalue.html
 */
function keyset(exprs: string[], values: (string | number | null)[], p: Params): string {
  if (values.every((v) => v !== null)) {
    return `(${exprs.join(", ")}) > (${values.map((v) => p.add(v)).join(", ")})`;
  }
  const ors: string[] = [];
  for (let i = 0; i < exprs.length; i++) {
    const ands: string[] = [];
    for (let j = 0; j < i; j++) {
      const v = values[j] ?? null;
      ands.push(v === null ? `${exprs[j]} IS NULL` : `${exprs[j]} = ${p.add(v)}`);
    }
    const v = values[i] ?? null;
    ands.push(v === null ? `${exprs[i]} IS NOT NULL` : `${exprs[i]} > ${p.add(v)}`);
    ors.push(`(${ands.join(" AND ")})`);
  }
  return `(${ors.join(" OR ")})`;
}

function budgetIssues(a: Analysis, compiler: Compiler, keyCount: number): ValidationIssue[] {
  // Worst case: a cursor with one distinct, non-null value per key.
  const worst = compiler.chunk({ after: Array.from({ length: keyCount }, (_, i) => `\u0000${i}`) }, 1);
  // Which part is to blame: the output columns alone (replace maps, defaults, nested keys) or the filters.
  const fieldsOnly = new Params();
  a.fields.forEach((f, i) => outputExpr(f.ref.sql(fieldsOnly), f.ref.kind, f.spec, a.maps[i] ?? null, fieldsOnly));
  const path = fieldsOnly.list.length > D1_MAX_PARAMS / 2 ? "fields" : "filters";
  const issues: ValidationIssue[] = [];
  if (worst.params.length > D1_MAX_PARAMS) {
    issues.push({
      path,
      message:
        `this definition needs ${worst.params.length} bound parameters (${fieldsOnly.list.length} for its fields); D1 allows ${D1_MAX_PARAMS} per statement. ` +
        (path === "fields"
          ? "Use fewer fields with replace maps or defaults"
          : "Merge equal conditions into one 'in' list or use fewer conditions"),
    });
  }
  if (new TextEncoder().encode(worst.sql).length > D1_MAX_SQL_BYTES) {
    issues.push({ path, message: `the compiled query exceeds D1's ${D1_MAX_SQL_BYTES} bytes per statement; use fewer conditions or fields` });
  }
  return issues;
}

function build(def: ExportBody, ctx: CompileContext): { compiler: Compiler | null; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  // Column widths are a fixed-width (txt) option: elsewhere they would be silently ignored.
  if (def.format.type !== "txt") {
    def.fields.forEach((f, i) => {
      if (f.width !== undefined) issues.push({ path: `fields.${i}.width`, message: `width applies to the txt format only, not to ${def.format.type}; remove it` });
    });
  }
  const a = analyse(def, ctx.now, ctx.customFields ?? [], issues);
  if (!a || issues.length) return { compiler: null, issues };
  const compiler = new Compiler(a, ctx);
  issues.push(...budgetIssues(a, compiler, a.aggregate ? a.fields.filter((f) => f.spec.aggregation === "group").length : 2));
  return { compiler: issues.length ? null : compiler, issues };
}

/**
 * Compiles a definition for one tenant. `date:` expressions are evaluated once, at
 * `ctx.now`, so every chunk of a run sees the same window. Throws ExportValidationError.
 */
export function compileExport(
  def: ExportBody,
  ctx: CompileContext,
): ExportCompiler & { output(row: Row): Row; readonly types: Record<string, OutputType> } {
  const { compiler, issues } = build(def, ctx);
  if (!compiler) throw new ExportValidationError(issues);
  return compiler;
}

/** Checks a definition against the model catalog (and the tenant's custom fields); each issue names the offending part. */
export function validateExport(def: ExportBody, now = new Date(), customFields: readonly CustomFieldDef[] = []): ValidationIssue[] {
  return build(def, { tenantId: "ten_validation", now, watermark: { after: 0, until: 0 }, customFields }).issues;
}

/**
 * The filter language alone, for callers that filter rows of their own (segments filter per-user
 * aggregates, src/segments/filters.ts): the sets (AND inside a set, OR between sets) over
 * `model`'s fields read as columns of the table alias `t`, with parameters numbered from ?1.
 * `sql` is null when there is no filter. Issues name `filters.<set>.<condition>`.
 */
export function compileFilters(
  model: ModelDef,
  filters: readonly Condition[][],
  opts: { now: Date; timezone?: string },
): { sql: string | null; params: Param[]; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const tz = opts.timezone ?? "UTC";
  if (!isValidTimeZone(tz)) issues.push({ path: "timezone", message: `unknown time zone '${tz}'; use an IANA name such as 'Europe/Paris' or 'UTC'` });
  const sets = filters.map((set, i) =>
    set.flatMap((c, j) => {
      const cc = compileCondition(model, c, `filters.${i}.${j}`, issues.length ? "UTC" : tz, opts.now, issues);
      return cc ? [cc] : [];
    }),
  );
  const p = new Params();
  const sql = sets.length && !issues.length ? `(${sets.map((set) => (set.length ? `(${set.map((c) => c.sql(p)).join(" AND ")})` : "1")).join(" OR ")})` : null;
  if (p.list.length > D1_MAX_PARAMS - 10) issues.push({ path: "filters", message: `these filters need ${p.list.length} bound parameters; D1 allows ${D1_MAX_PARAMS} per statement. Merge equal conditions into one 'in' list` });
  return { sql: issues.length ? null : sql, params: p.list, issues };
}
