/**
 * The model catalog's vocabulary. One ModelDef per data model drives ingestion
 * validation, the storage table (migrations/data), the exportable field list,
 * filter operators per type and the OpenAPI docs.
 */
export type FieldType =
  /** free text */
  | "string"
  /** whole number */
  | "integer"
  /** decimal number */
  | "float"
  /** true/false, stored as 0/1 */
  | "boolean"
  /** `YYYY-MM-DD HH:MM:SS` in UTC, stored as that text (sorts chronologically) */
  | "timestamp"
  /** `YYYY-MM-DD` */
  | "date"
  /** list of `{ key, value }` pairs, stored as a JSON object; address one as `field.key` */
  | "params";

export interface FieldDef {
  name: string;
  type: FieldType;
  required: boolean;
  description: string;
  /** The only values accepted, where the model fixes them. */
  values?: readonly string[];
  /**
   * Required on ingestion, but the stored column stays nullable: rows ingested while the field
   * was optional have no value (SQLite cannot add NOT NULL to a column with NULLs in place).
   */
  storedNullable?: true;
  /** Other spellings accepted for `values`, stored as the value they name (`unllinked` -> `unlinked`). */
  aliases?: Readonly<Record<string, string>>;
  /** Extra string checks: ISO 3166-1 alpha-2 country, IETF language tag, ISO 4217 currency code. */
  format?: "country" | "language" | "currency";
  /** Value stored when an item omits the field: `now` is the time of ingestion (timestamps). */
  default?: "now";
  /**
   * The field holds an end user's id besides the model's `userField` (e.g. the other side
   * of a social interaction): user-data deletion removes rows matching it too.
   */
  identifiesUser?: boolean;
  /** Numbers: the smallest and largest value accepted (inclusive). */
  range?: readonly [number, number];
  /**
   * A tenant's custom field (src/models/custom.ts): not a column of its own but a key of the
   * model's `custom_fields` JSON column. Never in the static catalog; added per tenant.
   */
  custom?: true;
}

export interface ModelDef {
  /** Catalog name and storage table name, snake_case: `actions`, `point_transfers`. */
  name: string;
  title: string;
  family: "events" | "loyalty" | "personas";
  /** Rows are computed by ferry (persona membership): exportable, never accepted by ingestion. */
  derived?: boolean;
  /** event: every item is appended; entity: items upsert by `key`. */
  kind: "event" | "entity";
  /** For entities: the fields that identify one record within a tenant. */
  key?: readonly string[];
  /** The field that orders the model in time (filters, incremental exports, index). */
  timeField?: string;
  /** The field holding the end user's id (user-data deletion, per-user filters). */
  userField?: string;
  /**
   * Why the model keeps an index on (tenant_id, userField): only a model ferry reads per user
   * on a request or a per-user pass (segment filters, survey status) has one. Every other
   * event table is append-only on its time index: a per-user index turns each 1000-row batch
   * into ~1000 scattered index-page writes (bench/ingest), and user-data deletion does not
   * need it (a background chain scans the tenant's rows in chunks, docs/ingestion.md).
   */
  userIndex?: string;
  description: string;
  fields: readonly FieldDef[];
  /**
   * Tenants may define custom fields on this model (src/models/custom.ts); their values are kept
   * in one extra JSON column, `custom_fields`, after the catalog fields.
   */
  customFields?: true;
  /**
   * Updates of existing records by ingestion are written, field by field, to this derived model
   * in the same transaction (src/db/shards/records.ts): `changes` for members.
   */
  auditedIn?: string;
  /** The export formats this model may be written in; every format when absent. */
  formats?: readonly string[];
}

/** Columns every data table has besides the model's fields. */
export const SYSTEM_COLUMNS = ["row_id", "tenant_id", "ingested_at"] as const;
