/**
 * Which files of a source are ingested, and as what. The first folder under the source's
 * prefix names the model (`purchases/`, `logins/`, ... and every loyalty model of the
 * catalog); any folders below it are allowed (Hive partitions `date=.../load_id=.../`, or
 * none, with time-stamped file names). The extension names the format, `.gz` on top of it
 * means gzip, and `.gpg` or `.pgp` on top of that means OpenPGP-encrypted (decrypted with the
 * source's `decryption_key`, src/ingest/sources/decrypt.ts): `data.csv.gpg` is read as
 * `data.csv`, `data.csv.gz.pgp` as `data.csv.gz`.
 */
import { getModel } from "../../models";

export type FileFormat = "ndjson" | "csv" | "parquet";

export interface FileLayout {
  model: string;
  format: FileFormat;
  gzip: boolean;
  encrypted: boolean;
}

const FORMATS: Record<string, FileFormat> = { ndjson: "ndjson", jsonl: "ndjson", json: "ndjson", csv: "csv", parquet: "parquet" };

/** The model and format of `key`, or a reason it is skipped. */
export function classifyKey(prefix: string, key: string): FileLayout | { skip: string } {
  if (!key.startsWith(prefix)) return { skip: "outside the prefix" };
  const parts = key.slice(prefix.length).replace(/^\/+/, "").split("/");
  const name = parts.at(-1) ?? "";
  if (parts.length < 2 || !name) return { skip: "not inside a data-type folder" };
  // Markers that writers leave next to data (Spark's _SUCCESS, .crc files, hidden files).
  if (name.startsWith("_") || name.startsWith(".")) return { skip: "marker or hidden file" };
  const model = getModel(parts[0] ?? "");
  if (!model) return { skip: `unknown data-type folder '${parts[0]}'` };
  if (model.derived) return { skip: `${model.name} is written by ferry, not ingested` };
  let lower = name.toLowerCase();
  const encrypted = lower.endsWith(".gpg") || lower.endsWith(".pgp");
  if (encrypted) lower = lower.slice(0, -4);
  const gzip = lower.endsWith(".gz");
  if (gzip) lower = lower.slice(0, -3);
  const ext = lower.slice(lower.lastIndexOf(".") + 1);
  const format = lower.includes(".") ? FORMATS[ext] : undefined;
  if (!format) return { skip: "not .ndjson, .jsonl, .json, .csv or .parquet (optionally .gz, then optionally .gpg or .pgp)" };
  if (format === "parquet" && gzip) return { skip: "a gzipped Parquet file (Parquet compresses its pages itself)" };
  return { model: model.name, format, gzip, encrypted };
}
