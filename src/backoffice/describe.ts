import type { Condition, ExportBody } from "../exports/definition";
import { getModel } from "../models";
import { ftpPort } from "../targets/config";

/** An export definition in words, for the export page ("the definition in words"). Pure. */

const OP_WORDS: Record<Condition["op"], string> = {
  eq: "is",
  neq: "is not",
  gt: "is greater than",
  gte: "is at least",
  lt: "is less than",
  lte: "is at most",
  between: "is between",
  in: "is one of",
  not_in: "is none of",
  contains: "contains",
  not_contains: "does not contain",
  starts_with: "starts with",
  ends_with: "ends with",
  is_empty: "is empty",
  is_not_empty: "is not empty",
};
const TIME_WORDS: Partial<Record<Condition["op"], string>> = { gt: "is after", gte: "is on or after", lt: "is before", lte: "is on or before" };

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

const quote = (v: unknown) => (typeof v === "string" ? `“${v}”` : String(v));

export function describeCondition(model: string, c: Condition): string {
  const field = getModel(model)?.fields.find((f) => f.name === c.field.split(".")[0]);
  const isTime = field?.type === "timestamp" || field?.type === "date";
  const op = (isTime ? TIME_WORDS[c.op] : undefined) ?? OP_WORDS[c.op];
  if (c.op === "is_empty" || c.op === "is_not_empty") return `${c.field} ${op}`;
  if (c.op === "between" && Array.isArray(c.value)) return `${c.field} ${op} ${quote(c.value[0])} and ${quote(c.value[1])}`;
  if (Array.isArray(c.value)) return `${c.field} ${op} ${c.value.map(quote).join(", ")}`;
  return `${c.field} ${op} ${quote(c.value)}`;
}

export function describeFilters(def: Pick<ExportBody, "model" | "filters">): string {
  if (!def.filters.length) return "every row";
  const sets = def.filters.map((set) => set.map((c) => describeCondition(def.model, c)).join(" and "));
  return sets.length === 1 ? `rows where ${sets[0]}` : `rows where ${sets.map((s) => `(${s})`).join(" or ")}`;
}

export function describeSchedule(s: ExportBody["schedule"]): string {
  switch (s.type) {
    case "now":
      return "once when published, then when started with Run now or the API";
    case "manual":
      return "only when started, with Run now or the API";
    case "operation_end":
      return "once per campaign, when the campaign ends";
    case "once":
      return `once, at ${s.at}`;
    case "daily":
      return `every day at ${s.time} UTC`;
    case "weekly":
      return `every week on ${s.days.map((d) => DAYS[d] ?? d).join(", ")} at ${s.time} UTC`;
    case "monthly":
      return `every month on day ${s.days.map((d) => (d === "last" ? "last" : String(d))).join(", ")} at ${s.time} UTC`;
    default:
      return (s as { type: string }).type;
  }
}

export function describeTarget(t: ExportBody["target"]): string {
  switch (t.type) {
    case "download":
      return "kept for download from the back office and the API";
    case "s3":
      return `uploaded to S3 bucket ${t.bucket} at ${t.endpoint} as ${t.key}`;
    case "ftp":
    case "ftps":
      return `uploaded by ${t.type === "ftps" && t.tls === "implicit" ? "FTPS (implicit TLS)" : t.type.toUpperCase()} to ${t.username}@${t.host}:${ftpPort(t)} as ${t.path}`;
    case "sftp":
      return `uploaded by SFTP to ${t.username}@${t.host}:${t.port} as ${t.path}`;
    case "azure":
      return `uploaded to Azure Blob container ${t.container} at ${t.endpoint} as ${t.blob}`;
    case "gcs":
      return `uploaded to Google Cloud Storage bucket ${t.bucket} as ${t.object} (service account ${t.service_account.client_email})`;
  }
}

export function describeFormat(def: Pick<ExportBody, "format" | "compression" | "encryption">): string {
  const f = def.format;
  const parts = [f.type.toUpperCase()];
  if (f.type === "csv" && f.delimiter && f.delimiter !== ",") parts.push(`delimited by ${JSON.stringify(f.delimiter)}`);
  if (["csv", "psv", "tsv"].includes(f.type) && f.header === false) parts.push("without a header row");
  if (def.compression !== "none") parts.push(`in a ${def.compression} archive`);
  if (def.encryption) parts.push("encrypted with OpenPGP to the given public key");
  return parts.join(", ");
}

export function describeFields(def: Pick<ExportBody, "fields" | "all_fields" | "aggregate">): string[] {
  if (def.all_fields && !def.fields.length) return ["all fields of the model"];
  return def.fields.map((f) => {
    const bits = [`${f.from} → ${f.to ?? f.from}`];
    if (def.aggregate && f.aggregation) bits.push(`(${f.aggregation})`);
    if (f.default !== undefined) bits.push(`default ${quote(f.default)}`);
    if (f.replace?.length) bits.push(`replacing ${f.replace.map((r) => `${quote(r.value)} with ${quote(r.with)}`).join(", ")}`);
    return bits.join(" ");
  });
}
