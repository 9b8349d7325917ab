import * as z from "zod";
import { secret } from "../lib/secrets";
import { AzureTarget, FtpsTarget, GcsTarget, PlainFtpTarget, S3Target, SftpTarget } from "../targets/config";

/**
 * The export definition body (DESIGN.md, Contracts). It may grow, but the core
 * shape does not change. Every object in it is strict: an unknown key (a typo, or an option of
 * another system such as `archive`) is a 400 naming the key, never silently dropped. Validation against the model catalog (known fields,
 * operators per type, ...) happens in exports/validate.ts; this is the shape only.
 */

export const FILTER_OPS = [
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "between",
  "in",
  "not_in",
  "contains",
  "not_contains",
  "starts_with",
  "ends_with",
  "is_empty",
  "is_not_empty",
] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export const AGGREGATIONS = ["group", "count", "sum", "avg", "min", "max"] as const;
export const FORMATS = ["csv", "psv", "tsv", "json", "ndjson", "xml", "parquet", "txt"] as const;

/**
 * The `format` options each type reads. Any other option is a 400 naming it (not silently
 * ignored): `delimiter` on json, `bom` on txt, ...
 */
export const FORMAT_OPTIONS = {
  csv: ["delimiter", "enclosure", "newline", "header", "formula_protection", "bom"],
  psv: ["delimiter", "enclosure", "newline", "header", "formula_protection", "bom"],
  tsv: ["delimiter", "enclosure", "newline", "header", "formula_protection", "bom"],
  json: ["json_values"],
  ndjson: ["json_values"],
  xml: [],
  parquet: [],
  txt: ["newline", "header"],
} as const satisfies Record<(typeof FORMATS)[number], readonly string[]>;
export const COMPRESSIONS = ["none", "gzip", "zip"] as const;

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const FieldSpec = z.strictObject({
  /** catalog field, or `params_field.key` for a nested param */
  from: z.string().min(1),
  /** column header; defaults to `from` */
  to: z.string().min(1).max(200).optional(),
  /** written when the value is empty (null or "") */
  default: Scalar.optional(),
  replace: z.array(z.strictObject({ value: Scalar, with: Scalar })).max(1000).optional(),
  aggregation: z.enum(AGGREGATIONS).optional(),
  /** txt (fixed width) only: the column's width in characters (code points); see docs/formats.md */
  width: z.number().int().min(1).max(4096).optional(),
});
export type FieldSpec = z.infer<typeof FieldSpec>;

export const Condition = z.strictObject({
  field: z.string().min(1),
  op: z.enum(FILTER_OPS),
  value: z.union([Scalar, z.array(Scalar)]).optional(),
});
export type Condition = z.infer<typeof Condition>;

export const FormatSpec = z.strictObject({
  type: z.enum(FORMATS),
  delimiter: z.string().min(1).max(4).optional(),
  enclosure: z.string().max(1).optional(),
  newline: z.enum(["\n", "\r\n"]).optional(),
  header: z.boolean().optional(),
  /** neutralise cells starting with = + - @ tab CR against spreadsheet formula injection */
  formula_protection: z.boolean().optional(),
  /** csv, psv, tsv: start the file with a UTF-8 byte order mark (lets Excel detect UTF-8) */
  bom: z.boolean().optional(),
  /**
   * json, ndjson: `native` (default) writes numbers as JSON numbers; `string` writes every
   * non-null value as a JSON string ("haswon": "0"), as the automated exports reference's payloads do.
   */
  json_values: z.enum(["native", "string"]).optional(),
}).superRefine((f, ctx) => {
  const allowed: readonly string[] = FORMAT_OPTIONS[f.type];
  for (const [k, v] of Object.entries(f)) {
    if (k === "type" || v === undefined || allowed.includes(k)) continue;
    ctx.addIssue({
      code: "custom",
      path: [k],
      message: `${k} does not apply to the ${f.type} format${allowed.length ? ` (its options: ${allowed.join(", ")})` : " (it has no options)"}; remove it`,
    });
  }
  const fixed = f.type === "psv" ? "|" : f.type === "tsv" ? "\t" : undefined;
  if (f.delimiter !== undefined && fixed !== undefined && f.delimiter !== fixed) {
    ctx.addIssue({ code: "custom", path: ["delimiter"], message: `${f.type} always uses ${JSON.stringify(fixed)} as delimiter; leave delimiter out or use type csv` });
  }
  if (f.delimiter !== undefined && /[\r\n]/.test(f.delimiter)) {
    ctx.addIssue({ code: "custom", path: ["delimiter"], message: "delimiter cannot contain a line break" });
  }
  if (f.enclosure && /[\r\n]/.test(f.enclosure)) {
    ctx.addIssue({ code: "custom", path: ["enclosure"], message: "enclosure cannot be a line break" });
  }
  const enclosure = f.enclosure ?? '"';
  if (enclosure && (f.delimiter ?? fixed ?? ",").includes(enclosure)) {
    ctx.addIssue({ code: "custom", path: ["enclosure"], message: `enclosure ${JSON.stringify(enclosure)} cannot be part of the delimiter` });
  }
});
export type FormatSpec = z.infer<typeof FormatSpec>;

const Time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "time must be HH:MM (UTC)");
/**
 * `now` (the default): runs once when the definition is published, then when asked. `manual`:
 * runs only when asked (Run now, POST /api/1/exports/:id/runs). `operation_end` (the reference's
 * "at the end of the operation"): one run per campaign of the `campaigns` model when its
 * `campaign_end` passes (src/cron/operation-end.ts). The others run on their own at their times.
 */
export const Schedule = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("now") }),
  z.strictObject({ type: z.literal("manual") }),
  z.strictObject({ type: z.literal("operation_end") }),
  z.strictObject({ type: z.literal("once"), at: z.iso.datetime({ offset: true }) }),
  z.strictObject({ type: z.literal("daily"), time: Time }),
  z.strictObject({ type: z.literal("weekly"), days: z.array(z.number().int().min(0).max(6)).min(1), time: Time }),
  z.strictObject({
    type: z.literal("monthly"),
    days: z.array(z.union([z.number().int().min(1).max(31), z.literal("last")])).min(1),
    time: Time,
  }),
]);
export type Schedule = z.infer<typeof Schedule>;

/**
 * Delivery targets: download (R2 + signed URL) or a push target from src/targets/config.ts.
 * Their secret fields are marked there; src/lib/secrets.ts seals, masks and unseals them.
 */
export const Target = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("download") }),
  S3Target,
  PlainFtpTarget,
  FtpsTarget,
  SftpTarget,
  AzureTarget,
  GcsTarget,
]);
export type Target = z.infer<typeof Target>;

/**
 * The SMTP relay an email notification is sent through (src/runs/email.ts). Like a push
 * target's credentials it belongs to the definition, and the password is marked secret
 * (src/lib/secrets.ts): stored sealed, shown as "****".
 * `security`: `tls` connects with TLS (port 465), `starttls` upgrades a plain connection with
 * STARTTLS when the server offers it (port 587), `none` sends in clear (a relay on a private
 * network only).
 */
export const SmtpRelay = z.strictObject({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535),
  security: z.enum(["tls", "starttls", "none"]).default("starttls"),
  username: z.string().min(1).max(320),
  password: secret(z.string().min(1, "notification.email.relay.password: required").max(1000)),
  /** the sender address, e.g. exports@example.com */
  from: z.email({ error: "notification.email.relay.from must be an email address" }).max(320),
});
export type SmtpRelay = z.infer<typeof SmtpRelay>;

/** An email to `to` when a run finishes (with its signed download link) or fails (with the reason). */
export const EmailNotification = z.strictObject({
  to: z.array(z.email({ error: "notification.email.to: every entry must be an email address" }).max(320)).min(1).max(50),
  relay: SmtpRelay,
});
export type EmailNotification = z.infer<typeof EmailNotification>;

/**
 * What happens when a run finishes or fails: a signed webhook (src/runs/webhook.ts) and/or an
 * email (src/runs/email.ts). The webhook's secret is the HMAC key of `Ferry-Signature`; it is
 * marked secret (src/lib/secrets.ts): stored encrypted and shown as "****" (send "****" back
 * on update to keep it).
 */
export const Notification = z
  .strictObject({
    webhook_url: z.url({ protocol: /^https?$/, error: "notification.webhook_url must be an http(s) URL" }).max(2000).optional(),
    secret: secret(z.string().min(16, "notification.secret: at least 16 characters").max(200)).optional(),
    email: EmailNotification.optional(),
  })
  .superRefine((n, ctx) => {
    if (n.webhook_url !== undefined && n.secret === undefined) ctx.addIssue({ code: "custom", path: ["secret"], message: "a webhook_url needs a secret (at least 16 characters) to sign with" });
    if (n.secret !== undefined && n.webhook_url === undefined) ctx.addIssue({ code: "custom", path: ["webhook_url"], message: "a secret without a webhook_url signs nothing; add webhook_url or remove secret" });
    if (n.webhook_url === undefined && n.email === undefined) ctx.addIssue({ code: "custom", path: [], message: "a notification needs a webhook_url (with its secret), an email, or both" });
  });
export type Notification = z.infer<typeof Notification>;

/** OpenPGP encryption of the file to the customer's public key (src/exports/post/encrypt.ts). */
export const Encryption = z.strictObject({
  type: z.literal("pgp"),
  /** ASCII-armored public key, e.g. `gpg --armor --export <id>` */
  public_key: z.string().min(100, "encryption.public_key: paste an ASCII-armored OpenPGP public key").max(100_000),
});

export const ExportBody = z.strictObject({
  /** also the `system_name` in the automated API */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, "name: letters, digits, '-', '_' and '.', at most 100 characters"),
  model: z.string().min(1),
  fields: z.array(FieldSpec).max(500).default([]),
  all_fields: z.boolean().default(false),
  /** sets are ORed, conditions inside a set are ANDed */
  filters: z.array(z.array(Condition).min(1).max(50)).max(50).default([]),
  aggregate: z.boolean().default(false),
  timezone: z.string().default("UTC"),
  format: FormatSpec.default({ type: "csv" }),
  compression: z.enum(COMPRESSIONS).default("none"),
  schedule: Schedule.default({ type: "now" }),
  incremental: z.boolean().default(false),
  target: Target.default({ type: "download" }),
  notification: Notification.optional(),
  encryption: Encryption.optional(),
  /**
   * Listed by the automated exports API (GET /api/1/data-exporter/automated, its results and
   * fetch). Default true: the reference lists "all active automated-exports", and every active
   * definition was listed before the flag existed; false keeps a definition out of that API
   * (its runs stay in /api/1/exports/:id/runs).
   */
  automated: z.boolean().default(true),
  /** days a finished file is kept */
  retention_days: z.number().int().min(1).max(3650).default(7),
  status: z.enum(["draft", "active"]).default("active"),
});
export type ExportBody = z.infer<typeof ExportBody>;

/** A stored definition (or a run's snapshot) that no longer reads as an ExportBody. */
export class UnreadableDefinition extends Error {}

/**
 * Reads a stored definition: the JSON text, checked against ExportBody, named `name` (the
 * column is the truth for the name). Throws UnreadableDefinition with what is wrong.
 */
export function parseStoredDefinition(json: string, name?: string): ExportBody {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new UnreadableDefinition(`the stored definition is not JSON: ${(err as Error).message}`);
  }
  const parsed = ExportBody.safeParse(name === undefined ? raw : { ...(raw as object), name });
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new UnreadableDefinition(`the stored definition is invalid: ${first ? `${first.path.join(".") || "(root)"}: ${first.message}` : "unknown"}`);
  }
  return parsed.data;
}
