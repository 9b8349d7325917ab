/**
 * Secret fields, one mechanism for all of them: target credentials, source credentials and
 * notification secrets. A field is marked secret once, where its zod schema is written
 * (`secret(z.string()...)`); sealing, unsealing and masking walk the schema to find the
 * marked fields, so no list of field names is kept anywhere else.
 *
 * - Stored form: `v1.<iv>.<ciphertext>` (AES-256-GCM under SECRETS_KEY, src/lib/crypto.ts).
 * - Response form: `"****"`.
 * - Sending `"****"` back on an update keeps the stored value.
 *
 * A marked field validates only plain values: a sealed value (read back from storage) and the
 * mask pass as they are, so a stored definition parses again after its secrets were sealed.
 */
import * as z from "zod";
import { ApiError } from "./errors";

export const MASK = "****";
const SEALED = /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const marked = z.registry<{ secret: true }>();

/** Marks a string field as secret; `plain` is how a plain (not yet sealed) value is validated. */
export function secret(plain: z.ZodType<string>) {
  const field = z.string().superRefine((v, ctx) => {
    if (v === MASK || SEALED.test(v)) return;
    const r = plain.safeParse(v);
    if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  });
  marked.add(field, { secret: true });
  return field;
}

export interface SecretBox {
  seal(plain: string): Promise<string>;
  unseal(sealed: string): Promise<string>;
}

type Path = (string | number)[];
type Json = unknown;

interface Def {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
  discriminator?: string;
  in?: z.ZodType;
}
const def = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Unwraps optional / nullable / default / pipe down to the schema that holds fields. */
function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    const d = def(s);
    if (d.innerType && ["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"].includes(d.type)) s = d.innerType;
    else if (d.type === "pipe" && d.in) s = d.in;
    else return s;
  }
}

/** Calls `visit` for every secret field present in `value`, as `schema` describes it. */
function secretPaths(schema: z.ZodType, value: Json, path: Path = [], out: Path[] = []): Path[] {
  const s = unwrap(schema);
  if (marked.has(s)) {
    if (typeof value === "string") out.push(path);
    return out;
  }
  if (value === null || typeof value !== "object") return out;
  const d = def(s);
  if (d.type === "object" && d.shape) {
    for (const [k, field] of Object.entries(d.shape)) {
      const v = (value as Record<string, Json>)[k];
      if (v !== undefined) secretPaths(field, v, [...path, k], out);
    }
  } else if (d.type === "union" && d.options) {
    // A discriminated union: the option whose discriminator matches; otherwise every option
    // (a field marked in any of them is secret).
    const key = d.discriminator;
    const options = key
      ? d.options.filter((o) => {
          const f = def(unwrap(o)).shape?.[key];
          return f ? f.safeParse((value as Record<string, Json>)[key]).success : false;
        })
      : d.options;
    const seen = new Set<string>();
    for (const o of options) for (const p of secretPaths(o, value, path)) if (!seen.has(p.join("\0"))) (seen.add(p.join("\0")), out.push(p));
  } else if (d.type === "array" && Array.isArray(value)) {
    const el = (def(s) as unknown as { element: z.ZodType }).element;
    value.forEach((v, i) => secretPaths(el, v, [...path, i], out));
  }
  return out;
}

function get(value: Json, path: Path): Json {
  return path.reduce<Json>((v, k) => (v !== null && typeof v === "object" ? (v as Record<string, Json>)[k] : undefined), value);
}

/** A deep copy with `path` set to `v`. */
function set<T>(value: T, path: Path, v: Json): T {
  if (path.length === 0) return v as T;
  const [k, ...rest] = path;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, Json>;
  copy[k as string] = set(copy[k as string], rest, v);
  return copy as T;
}

/** Whether a field's schema (optional / default wrappers allowed) is marked secret, e.g. to render a password input. */
export const isSecret = (schema: z.ZodType): boolean => marked.has(unwrap(schema));

export const isSealedForm = (v: unknown): v is string => typeof v === "string" && SEALED.test(v);

/**
 * Seals every secret field of `value` (validated against `schema`) for storage. A value this
 * key sealed already is kept (cloning, saving again); `"****"` keeps the field of `previous`
 * (the stored, sealed value), and is a 400 when nothing is stored there.
 */
export async function sealSecrets<T>(box: SecretBox, schema: z.ZodType, value: T, previous?: Json): Promise<T> {
  let out = value;
  for (const path of secretPaths(schema, value)) {
    const v = get(value, path) as string;
    if (v === MASK) {
      const kept = previous === undefined ? undefined : get(previous, path);
      if (typeof kept !== "string" || kept === MASK) {
        throw new ApiError("validation_failed", `${path.join(".")}: "${MASK}" keeps the stored value, but none is stored; send the real value`);
      }
      out = set(out, path, kept);
    } else if (!(isSealedForm(v) && (await box.unseal(v).then(() => true, () => false)))) {
      out = set(out, path, await box.seal(v));
    }
  }
  return out;
}

/** Decrypts every secret field (for the code that talks to the outside; never for a response). */
export async function unsealSecrets<T>(box: SecretBox, schema: z.ZodType, value: T): Promise<T> {
  let out = value;
  for (const path of secretPaths(schema, value)) out = set(out, path, await box.unseal(get(value, path) as string));
  return out;
}

/** The value as every response shows it: secret fields replaced by `"****"`. */
export function maskSecrets<T>(schema: z.ZodType, value: T): T {
  let out = value;
  for (const path of secretPaths(schema, value)) out = set(out, path, MASK);
  return out;
}

/** The secret fields of `value` that hold `"****"` (a "test connection" cannot use the mask). */
export function maskedPaths(schema: z.ZodType, value: Json): string[] {
  return secretPaths(schema, value)
    .filter((p) => get(value, p) === MASK)
    .map((p) => p.join("."));
}
