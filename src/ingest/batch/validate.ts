import type { FieldDef, ModelDef } from "../../models";
import { formatTimestamp, isCountry, isCurrency, isDate, isLanguageTag, isTimestamp, utf8Length } from "./formats";

/**
 * One stored cell. `params` fields hold a `{ key: value }` object (stored as JSON text);
 * booleans are 0/1; everything else is a string, a number or null.
 */
export type Cell = string | number | null | Record<string, string>;

/**
 * A validated item: one cell per field of the model, in `model.fields` order. Produced by
 * validateItems, consumed by insertRows; treat it as opaque between the two.
 */
export type Row = Cell[];

/** Why one item was refused: its index in the batch (0-based), the field (`action_params[2].key`) and the reason. */
export interface ItemError {
  index: number;
  field: string;
  reason: string;
}

export type ValidateResult = { ok: true; rows: Row[] } | { ok: false; errors: ItemError[]; total: number };

export interface ValidateOptions {
  /**
   * `json` (default): values arrive with JSON types (numbers as numbers).
   * `text`: every value arrives as text (CSV cells): numbers, booleans and params are parsed
   * from strings, and an empty cell is an absent value.
   */
  source?: "json" | "text";
  /** At most this many errors are listed (the count of all of them is in `total`). Default 100. */
  maxErrors?: number;
  /** Clock for `default: "now"` fields. */
  now?: Date;
}

/**
 * Longest accepted string value, in characters (Unicode code points, as the docs say: an emoji
 * is one character, not the two UTF-16 units JavaScript's `length` counts). Bytes are bounded
 * separately by MAX_ITEM_BYTES.
 */
export const MAX_STRING = 4096;

/** `s` has more than `max` code points. UTF-16 length is an upper bound, so most strings stop at the first test. */
export function longerThan(s: string, max: number): boolean {
  if (s.length <= max) return false;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // a high surrogate followed by a low one is one code point
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    if (++n > max) return true;
  }
  return false;
}
/** Most entries in one params list, longest params key. */
export const MAX_PARAMS = 100;
export const MAX_PARAM_KEY = 256;
/** Largest item once stored (its JSON), so that any item fits one D1 statement (see insert.ts). */
export const MAX_ITEM_BYTES = 64 * 1024;

class Bad {
  constructor(
    readonly reason: string,
    readonly path = "",
  ) {}
}

type Check = (v: unknown, text: boolean) => Cell | Bad;

const typeName = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

function stringCheck(f: FieldDef): Check {
  const values = f.values ? new Set(f.values) : null;
  const list = f.values?.map((v) => `"${v}"`).join(", ");
  return (input) => {
    if (typeof input !== "string") {
      return new Bad(
        typeof input === "number"
          ? `must be a string, got the number ${input}; send it quoted: "${input}"`
          : `must be a string, got ${typeName(input)}`,
      );
    }
    let v: string = input;
    if (longerThan(v, MAX_STRING)) return new Bad(`is longer than ${MAX_STRING} characters`);
    if (f.aliases && Object.hasOwn(f.aliases, v)) v = f.aliases[v] as string;
    if (values && !values.has(v)) return new Bad(`must be one of ${list}, got "${v}"`);
    switch (f.format) {
      case "country": {
        const up = v.toUpperCase();
        return isCountry(up) ? up : new Bad(`must be an ISO 3166-1 alpha-2 country code such as "US", got "${v}"`);
      }
      case "language":
        return isLanguageTag(v) ? v : new Bad(`must be an IETF language tag such as "en-US", got "${v}"`);
      case "currency": {
        const up = v.toUpperCase();
        return isCurrency(up) ? up : new Bad(`must be an ISO 4217 currency code such as "USD", got "${v}"`);
      }
      default:
        return v;
    }
  };
}

const INT_TEXT = /^[-+]?\d+$/;
const FLOAT_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

const integerCheck: Check = (v, text) => {
  const n = text && typeof v === "string" && INT_TEXT.test(v.trim()) ? Number(v.trim()) : v;
  if (typeof n !== "number") return new Bad(`must be a whole number, got ${text ? `"${String(v)}"` : typeName(v)}`);
  if (!Number.isSafeInteger(n)) return new Bad(`must be a whole number between -2^53 and 2^53, got ${n}`);
  return n;
};

const floatCheck: Check = (v, text) => {
  const n = text && typeof v === "string" && FLOAT_TEXT.test(v.trim()) ? Number(v.trim()) : v;
  if (typeof n !== "number") return new Bad(`must be a number, got ${text ? `"${String(v)}"` : typeName(v)}`);
  if (!Number.isFinite(n)) return new Bad("must be a finite number");
  return n;
};

const booleanCheck: Check = (v, text) => {
  if (v === true || v === 1) return 1;
  if (v === false || v === 0) return 0;
  if (text && typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (s === "true" || s === "1") return 1;
    if (s === "false" || s === "0") return 0;
  }
  return new Bad(`must be true or false, got ${typeof v === "string" ? `"${v}"` : typeName(v)}`);
};

const timestampCheck: Check = (v) =>
  typeof v === "string" && isTimestamp(v)
    ? v
    : new Bad(`must be a timestamp YYYY-MM-DD HH:MM:SS in UTC (e.g. "2019-01-01 15:04:05"), got ${JSON.stringify(v)}`);

const dateCheck: Check = (v) =>
  typeof v === "string" && isDate(v) ? v : new Bad(`must be a date YYYY-MM-DD (e.g. "2018-11-14"), got ${JSON.stringify(v)}`);

const paramValue = (v: unknown): string | null =>
  typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : null;

/** `[{ key, value }, ...]` (the reference's form) or a plain `{ key: value }` object; stored as an object. */
const paramsCheck: Check = (input, text) => {
  let v = input;
  if (text && typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      return new Bad('must be a JSON list of {"key": ..., "value": ...} pairs');
    }
  }
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    if (v.length > MAX_PARAMS) return new Bad(`has more than ${MAX_PARAMS} entries`);
    for (let i = 0; i < v.length; i++) {
      const p = v[i] as { key?: unknown; value?: unknown } | null;
      if (p === null || typeof p !== "object" || Array.isArray(p)) return new Bad('must be an object {"key": ..., "value": ...}', `[${i}]`);
      for (const k in p) if (k !== "key" && k !== "value") return new Bad(`unknown field; a param has only "key" and "value"`, `[${i}].${k}`);
      if (typeof p.key !== "string" || p.key === "") return new Bad("is required: a non-empty string", `[${i}].key`);
      if (longerThan(p.key, MAX_PARAM_KEY)) return new Bad(`is longer than ${MAX_PARAM_KEY} characters`, `[${i}].key`);
      if (Object.hasOwn(out, p.key)) return new Bad(`repeats the key "${p.key}"; each key may appear once`, `[${i}].key`);
      const val = paramValue(p.value);
      if (val === null) return new Bad(`is required: a string, got ${typeName(p.value)}`, `[${i}].value`);
      if (longerThan(val, MAX_STRING)) return new Bad(`is longer than ${MAX_STRING} characters`, `[${i}].value`);
      out[p.key] = val;
    }
    return out;
  }
  if (v !== null && typeof v === "object") {
    let n = 0;
    for (const [k, raw] of Object.entries(v)) {
      if (++n > MAX_PARAMS) return new Bad(`has more than ${MAX_PARAMS} entries`);
      if (k === "" || longerThan(k, MAX_PARAM_KEY)) return new Bad(`keys must be 1 to ${MAX_PARAM_KEY} characters`);
      const val = paramValue(raw);
      if (val === null) return new Bad(`must be a string, got ${typeName(raw)}`, `.${k}`);
      if (longerThan(val, MAX_STRING)) return new Bad(`is longer than ${MAX_STRING} characters`, `.${k}`);
      out[k] = val;
    }
    return out;
  }
  return new Bad(`must be a list of {"key": ..., "value": ...} pairs, got ${typeName(v)}`);
};

/** A number check that also refuses values outside the field's `range`. */
function inRange(check: Check, range: FieldDef["range"]): Check {
  if (!range) return check;
  const [min, max] = range;
  return (v, text) => {
    const n = check(v, text);
    return typeof n === "number" && (n < min || n > max) ? new Bad(`must be between ${min} and ${max}, got ${n}`) : n;
  };
}

function checkFor(f: FieldDef): Check {
  switch (f.type) {
    case "string":
      return stringCheck(f);
    case "integer":
      return inRange(integerCheck, f.range);
    case "float":
      return inRange(floatCheck, f.range);
    case "boolean":
      return booleanCheck;
    case "timestamp":
      return timestampCheck;
    case "date":
      return dateCheck;
    case "params":
      return paramsCheck;
  }
}

interface Compiled {
  names: string[];
  index: Map<string, number>;
  checks: Check[];
  required: boolean[];
  defaultNow: boolean[];
  fieldList: string;
}

const compiled = new WeakMap<ModelDef, Compiled>();

/** The validator of a model, built once from its catalog definition. */
function compile(model: ModelDef): Compiled {
  let c = compiled.get(model);
  if (!c) {
    c = {
      names: model.fields.map((f) => f.name),
      index: new Map(model.fields.map((f, i) => [f.name, i])),
      checks: model.fields.map(checkFor),
      required: model.fields.map((f) => f.required),
      defaultNow: model.fields.map((f) => f.default === "now"),
      fieldList: model.fields.map((f) => f.name).join(", "),
    };
    compiled.set(model, c);
  }
  return c;
}

/** Sum of string lengths in a row, cheap upper-bound input for the size check. */
function roughChars(row: Row): number {
  let n = 0;
  for (const cell of row) {
    if (typeof cell === "string") n += cell.length;
    else if (cell !== null && typeof cell === "object") for (const k in cell) n += k.length + (cell[k]?.length ?? 0) + 6;
  }
  return n;
}

/**
 * Validates a batch of items against a model of the catalog and turns them into rows for
 * insertRows. All or nothing: one bad item refuses the batch, and every error names the
 * item's index, the field and the reason. Unknown fields are refused (a typo would
 * otherwise drop data silently); null, absent and "" are an absent value.
 *
 * Plain functions compiled once per model rather than a zod schema per item: this runs on
 * every ingested event, and its errors must be `{ index, field, reason }`.
 */
export function validateItems(model: ModelDef, items: readonly unknown[], opts: ValidateOptions = {}): ValidateResult {
  const c = compile(model);
  const text = opts.source === "text";
  const maxErrors = opts.maxErrors ?? 100;
  const now = formatTimestamp(opts.now ?? new Date());
  const n = c.names.length;
  const rows: Row[] = new Array(items.length);
  const errors: ItemError[] = [];
  let total = 0;
  const fail = (index: number, field: string, reason: string) => {
    total++;
    if (errors.length < maxErrors) errors.push({ index, field, reason });
  };

  for (let index = 0; index < items.length; index++) {
    const item = items[index];
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      fail(index, "(item)", `must be a JSON object, got ${typeName(item)}`);
      continue;
    }
    const obj = item as Record<string, unknown>;
    let bad = false;
    for (const key in obj) {
      if (!c.index.has(key)) {
        fail(index, key, `unknown field; ${model.name} has: ${c.fieldList}`);
        bad = true;
      }
    }
    const row: Row = new Array(n);
    for (let i = 0; i < n; i++) {
      const name = c.names[i] as string;
      const v = obj[name];
      if (v === undefined || v === null || v === "" || (text && typeof v === "string" && v.trim() === "")) {
        if (c.defaultNow[i]) row[i] = now;
        else if (c.required[i]) {
          fail(index, name, v === "" ? "is required and must not be empty" : "is required");
          bad = true;
        } else row[i] = null;
        continue;
      }
      const out = (c.checks[i] as Check)(v, text);
      if (out instanceof Bad) {
        fail(index, name + out.path, out.reason);
        bad = true;
      } else row[i] = out;
    }
    if (bad) continue;
    if (roughChars(row) > MAX_ITEM_BYTES / 8 && utf8Length(JSON.stringify(row)) > MAX_ITEM_BYTES) {
      fail(index, "(item)", `is larger than ${MAX_ITEM_BYTES / 1024} KB once stored`);
      continue;
    }
    rows[index] = row;
  }
  return total ? { ok: false, errors, total } : { ok: true, rows };
}
